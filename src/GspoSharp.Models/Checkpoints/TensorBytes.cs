using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// Moves the raw bytes of a CPU tensor between its own storage and a file, with no managed copy
/// of the data. A <see cref="Span{T}"/> addresses at most 2 GiB, so a tensor moves in chunks,
/// each chunk a <c>narrow</c> view of the same storage.
/// </summary>
internal static class TensorBytes
{
    /// <summary>256 MiB: large enough that per-chunk overhead vanishes, far below the 2 GiB limit.</summary>
    internal const long DefaultChunkBytes = 1L << 28;

    /// <summary>Fills the 1-D contiguous CPU tensor <paramref name="flat"/> from the file at <paramref name="offset"/>.</summary>
    public static void Read(Tensor flat, SafeFileHandle file, long offset, string path, string tensorName, long chunkBytes = DefaultChunkBytes)
    {
        RequireLittleEndian();
        foreach (var chunk in Chunks(flat, chunkBytes))
        {
            using var view = flat.narrow(0, chunk.Start, chunk.Count);
            SafetensorsHeader.ReadExactly(file, view.bytes, offset, path, $"the data of tensor '{tensorName}'");
            offset += chunk.Count * flat.ElementSize;
        }
    }

    /// <summary>Writes the elements of the 1-D contiguous CPU tensor <paramref name="flat"/> to the stream.</summary>
    public static void Write(Tensor flat, Stream stream, long chunkBytes = DefaultChunkBytes)
    {
        RequireLittleEndian();
        foreach (var chunk in Chunks(flat, chunkBytes))
        {
            using var view = flat.narrow(0, chunk.Start, chunk.Count);
            stream.Write(view.bytes);
        }
    }

    static IEnumerable<(long Start, long Count)> Chunks(Tensor flat, long chunkBytes)
    {
        if (flat.dim() != 1 || !flat.is_contiguous() || flat.device_type != DeviceType.CPU)
            throw new ArgumentException("Expected a 1-D contiguous CPU tensor.", nameof(flat));
        long perChunk = Math.Max(1, chunkBytes / flat.ElementSize);
        long count = flat.NumberOfElements;
        for (long start = 0; start < count; start += perChunk)
            yield return (start, Math.Min(perChunk, count - start));
    }

    // safetensors is little-endian and tensor storage is native-endian: on a big-endian host
    // every element would need swapping, which nothing here does.
    static void RequireLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors I/O needs a little-endian machine.");
    }
}
