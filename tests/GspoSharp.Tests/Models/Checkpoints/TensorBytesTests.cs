using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Checkpoints.HandMade;

namespace GspoSharp.Tests.Models.Checkpoints;

/// <summary>
/// Tensors over 2 GiB move in chunks; too big for a test, so the same code runs here with chunks
/// of a few bytes, including sizes that do not divide the tensor and sizes below one element.
/// </summary>
public class TensorBytesTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(12)]
    [InlineData(1 << 20)]
    public void Chunked_reads_and_writes_move_every_byte_once(long chunkBytes)
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        float[] values = [.. Enumerable.Range(0, 11).Select(i => i * 1.25f - 3)];
        string path = Path.Combine(dir.Path, "f.bin");
        File.WriteAllBytes(path, [9, 9, 9, .. F32(values), 7]);   // data between a prefix and a suffix

        var flat = empty([11], ScalarType.Float32);
        using (var file = File.OpenHandle(path))
            TensorBytes.Read(flat, file, offset: 3, path, "f", chunkBytes);
        Assert.Equal(values, flat.data<float>().ToArray());

        using var stream = new MemoryStream();
        TensorBytes.Write(flat, stream, chunkBytes);
        Assert.Equal(F32(values), stream.ToArray());
    }

    [Fact]
    public void Only_flat_contiguous_cpu_tensors_are_accepted()
    {
        using var scope = NewDisposeScope();
        using var stream = new MemoryStream();
        Assert.Throws<ArgumentException>(() => TensorBytes.Write(ones(2, 2), stream));
        Assert.Throws<ArgumentException>(() => TensorBytes.Write(ones(4, 2).select(1, 0), stream));
    }
}
