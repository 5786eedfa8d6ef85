using System.Buffers.Binary;
using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Checkpoints.HandMade;

namespace GspoSharp.Tests.Models.Checkpoints;

/// <summary>The writer's bytes against hand-built expectations and an independent parser; round trips.</summary>
public class SafetensorsWriterTests : IDisposable
{
    readonly TempDirectory dir = new();

    public void Dispose() => dir.Dispose();

    string PathOf(string name) => Path.Combine(dir.Path, name);

    [Fact]
    public void Matches_the_reference_implementation_byte_for_byte()
    {
        using var scope = NewDisposeScope();
        // The reference implementation's test_serialization_forced_alignement: six floats
        // 0..5 as "attn0" [1, 1, 2, 3]; its 65-byte header is padded with 7 spaces to 72.
        string path = PathOf("attn.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["attn0"] = arange(6f).reshape(1, 1, 2, 3) });
        var expected = FileBytes("""{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       """, F32(0, 1, 2, 3, 4, 5));
        Assert.Equal(72, BinaryPrimitives.ReadInt64LittleEndian(expected));
        Assert.Equal(expected, File.ReadAllBytes(path));

        // Its test_empty: no tensors, with and without metadata.
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor>());
        Assert.Equal([8, 0, 0, 0, 0, 0, 0, 0, .. "{}      "u8], File.ReadAllBytes(path));
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor>(), metadata: new Dictionary<string, string> { ["framework"] = "pt" });
        Assert.Equal([40, 0, 0, 0, 0, 0, 0, 0, .. """{"__metadata__":{"framework":"pt"}}     """u8], File.ReadAllBytes(path));
    }

    [Fact]
    public void Orders_by_alignment_then_name_with_contiguous_offsets_and_a_padded_header()
    {
        using var scope = NewDisposeScope();
        string path = PathOf("mixed.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
        {
            ["z.weight"] = ones(2, 2),
            ["mask"] = tensor(new[] { true, false, true }),
            ["a.weight"] = zeros(3),
            ["ids"] = tensor(new long[] { 7, -1 }),
            ["pos"] = tensor(new[] { 1, 2, 3 }),
            ["née.bias"] = full(1, 0.5f),
        }, ScalarType.BFloat16);

        var file = Parse(path);
        Assert.Equal(0UL, file.HeaderLength % 8);
        string json = file.HeaderText.TrimEnd(' ');
        Assert.EndsWith("}", json);
        Assert.InRange(file.HeaderText.Length - json.Length, 0, 7);   // spaces only, fewer than 8
        Assert.Contains("née.bias", file.HeaderText);   // UTF-8, not \u escapes
        Assert.Equal(["ids", "pos", "a.weight", "née.bias", "z.weight", "mask"], file.TensorNames);
        Assert.Equal(["I64", "I32", "BF16", "BF16", "BF16", "BOOL"], file.TensorNames.Select(file.Dtype));
        long offset = 0;
        foreach (var name in file.TensorNames)
        {
            var (begin, end) = file.Offsets(name);
            Assert.Equal(offset, begin);
            offset = end;
        }
        Assert.Equal(offset, file.Data.Length);
        Assert.Equal(I64(7, -1), file.DataOf("ids"));
        Assert.Equal(I32(1, 2, 3), file.DataOf("pos"));
        Assert.Equal(new byte[] { 1, 0, 1 }, file.DataOf("mask"));
        Assert.Equal(BF16(1, 1, 1, 1), file.DataOf("z.weight"));
        Assert.Equal([2L, 2], file.Shape("z.weight"));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public void Converts_float32_to_the_storage_dtype_rounding_to_nearest_even(ScalarType storage)
    {
        using var scope = NewDisposeScope();
        var random = new Random(7);
        var values = Enumerable.Range(0, 257).Select(_ => (float)((random.NextDouble() - 0.5) * Math.Pow(2, random.Next(-20, 20)))).ToArray();
        values[0] = 1.00390625f;   // exactly halfway between two BF16 values: ties to even (1.0)
        string path = PathOf("rounded.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = tensor(values) }, storage);

        // Expected bytes from .NET's own conversions and the bit-level BF16 rounding rule.
        byte[] expected = storage switch
        {
            ScalarType.Float32 => F32(values),
            ScalarType.Float16 => F16(values),
            _ => U16Bits(values.Select(RoundToBf16).ToArray()),
        };
        Assert.Equal(expected, Parse(path).DataOf("w"));
        if (storage == ScalarType.BFloat16) Assert.Equal(0x3F80, BinaryPrimitives.ReadUInt16LittleEndian(Parse(path).DataOf("w")));
    }

    // float32 bit pattern → the bfloat16 bits worked out by hand: keep the top 16 bits, and add 1 when
    // the dropped 16 bits exceed 0x8000, or equal it (a tie) and the kept bits are odd.
    [Theory]
    [InlineData(0x3F800000u, (ushort)0x3F80)]   // 1.0: exact
    [InlineData(0x3F808000u, (ushort)0x3F80)]   // 1 + 2⁻⁸: a tie, 0x3F80 is even: down
    [InlineData(0x3F818000u, (ushort)0x3F82)]   // 1 + 3·2⁻⁸: a tie, 0x3F81 is odd: up to the even 0x3F82
    [InlineData(0x3F808001u, (ushort)0x3F81)]   // just above the tie: up
    [InlineData(0x3F807FFFu, (ushort)0x3F80)]   // just below the tie: down
    [InlineData(0x40490FDBu, (ushort)0x4049)]   // π = 3.14159274: dropped 0x0FDB < 0x8000
    [InlineData(0x3DCCCCCDu, (ushort)0x3DCD)]   // 0.1: dropped 0xCCCD > 0x8000
    [InlineData(0xBDCCCCCDu, (ushort)0xBDCD)]   // −0.1: the magnitude rounds, the sign stays
    [InlineData(0x7F7F7FFFu, (ushort)0x7F7F)]   // just below the tie above the largest bfloat16: stays finite
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)]   // the largest float32 rounds to +∞
    [InlineData(0x80000000u, (ushort)0x8000)]   // −0 keeps its sign
    [InlineData(0x00000001u, (ushort)0x0000)]   // the smallest subnormal rounds to 0
    [InlineData(0x7F800000u, (ushort)0x7F80)]   // +∞
    public void Bfloat16_storage_rounds_known_values_to_hand_computed_bits(uint float32Bits, ushort expected)
    {
        using var scope = NewDisposeScope();
        // 37 copies: LibTorch converts in vector lanes and a scalar tail; both must round alike.
        var values = Enumerable.Repeat(BitConverter.UInt32BitsToSingle(float32Bits), 37).ToArray();
        string path = PathOf("known.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = tensor(values) }, ScalarType.BFloat16);
        var data = Parse(path).DataOf("w");
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(expected, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2 * i)));
    }

    [Theory]
    [InlineData(0x3F801000u, (ushort)0x3C00)]   // 1 + 2⁻¹¹: a tie between 0x3C00 (even) and 0x3C01: down
    [InlineData(0x3F803000u, (ushort)0x3C02)]   // 1 + 3·2⁻¹¹: a tie between 0x3C01 (odd) and 0x3C02: up
    [InlineData(0x477FEF00u, (ushort)0x7BFF)]   // 65519: rounds to 65504, the largest float16
    [InlineData(0x477FF000u, (ushort)0x7C00)]   // 65520: the tie above 65504 rounds to +∞
    public void Float16_storage_rounds_known_values_to_hand_computed_bits(uint float32Bits, ushort expected)
    {
        using var scope = NewDisposeScope();
        var values = Enumerable.Repeat(BitConverter.UInt32BitsToSingle(float32Bits), 37).ToArray();
        string path = PathOf("known16.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = tensor(values) }, ScalarType.Float16);
        var data = Parse(path).DataOf("w");
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(expected, BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2 * i)));
    }

    [Fact]
    public void Nan_stays_nan_in_bfloat16()
    {
        using var scope = NewDisposeScope();
        // A signalling NaN whose payload is only in the low 16 bits would become +∞ if truncated.
        var values = Enumerable.Repeat(BitConverter.UInt32BitsToSingle(0x7F800001u), 37).Append(float.NaN).ToArray();
        string path = PathOf("nan.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["w"] = tensor(values) }, ScalarType.BFloat16);
        var data = Parse(path).DataOf("w");
        for (int i = 0; i < values.Length; i++)
        {
            ushort bits = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2 * i));
            Assert.True((bits & 0x7F80) == 0x7F80 && (bits & 0x007F) != 0, $"element {i}: 0x{bits:X4} is not a NaN");
        }
    }

    public static TheoryData<ScalarType, long[]> RoundTripCases()
    {
        var data = new TheoryData<ScalarType, long[]>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float16, ScalarType.BFloat16 })
            foreach (var shape in new long[][] { [], [1], [5], [3, 7], [2, 0, 4], [0], [2, 3, 1, 2] })
                data.Add(dtype, shape);
        return data;
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public void Round_trips_bit_exactly(ScalarType dtype, long[] shape)
    {
        using var scope = NewDisposeScope();
        // Random bit patterns (NaNs included) in the storage type itself: nothing to round.
        long count = shape.Aggregate(1L, (n, d) => n * d);
        var raw = new byte[count * (dtype == ScalarType.Float32 ? 4 : 2)];
        new Random((int)count * 31 + (int)dtype).NextBytes(raw);
        var original = FromRaw(raw, dtype, shape);

        string path = PathOf("rt.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["t"] = original, ["scale"] = tensor(2.5f) }, dtype);

        Assert.Equal(raw, Parse(path).DataOf("t"));
        using var reader = SafetensorsReader.Open(path);
        var back = reader.ReadTensor("t", dtype);
        Assert.Equal(shape, back.shape);
        Assert.Equal(dtype, back.dtype);
        Assert.Equal(raw, RawBytes(back));
        Assert.Equal(2.5f, reader.ReadTensor("scale").item<float>());
    }

    [Fact]
    public void Writes_non_contiguous_views_and_float64_by_their_values()
    {
        using var scope = NewDisposeScope();
        var matrix = arange(6f).reshape(2, 3);
        string path = PathOf("views.safetensors");
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
        {
            ["t"] = matrix.t(),
            ["d"] = tensor(new[] { 0.1, 1e-3 }),
        });
        var file = Parse(path);
        Assert.Equal(F32(0, 3, 1, 4, 2, 5), file.DataOf("t"));
        Assert.Equal([3L, 2], file.Shape("t"));
        Assert.Equal(F32(0.1f, 1e-3f), file.DataOf("d"));
        Assert.Equal("F32", file.Dtype("d"));
    }

    [Fact]
    public void Invalid_arguments_write_nothing()
    {
        using var scope = NewDisposeScope();
        string path = PathOf("never.safetensors");
        void Fails(IReadOnlyDictionary<string, Tensor> tensors, ScalarType storage, string expected)
        {
            var ex = Assert.ThrowsAny<ArgumentException>(() => SafetensorsWriter.Write(path, tensors, storage));
            Assert.Contains(expected, ex.Message);
        }
        Fails(new Dictionary<string, Tensor> { ["w"] = ones(1) }, ScalarType.Int32, "Storage dtype must be Float32, Float16 or BFloat16; got Int32");
        Fails(new Dictionary<string, Tensor> { [""] = ones(1) }, ScalarType.Float32, "A tensor name is empty");
        Fails(new Dictionary<string, Tensor> { ["__metadata__"] = ones(1) }, ScalarType.Float32, "'__metadata__' is reserved");
        Fails(new Dictionary<string, Tensor> { ["ok"] = ones(1), ["c"] = ones(2, ScalarType.ComplexFloat32) }, ScalarType.Float32,
            "Tensor 'c' has element type ComplexFloat32");
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void A_failure_while_writing_leaves_no_file_and_no_temporary()
    {
        using var scope = NewDisposeScope();
        string path = PathOf("model.safetensors");
        // A meta tensor has a shape but no data: planning succeeds, copying it out fails midway.
        var tensors = new Dictionary<string, Tensor> { ["a"] = ones(1000), ["b"] = empty([4], ScalarType.Float32, META), ["c"] = ones(3) };
        // "a" sorts first and is already in the temporary file when "b" fails.
        var ex = Assert.ThrowsAny<Exception>(() => SafetensorsWriter.Write(path, tensors));
        Assert.Contains("meta tensor", ex.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));

        // Over an existing file: the old file survives intact.
        SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["old"] = ones(2) });
        var before = File.ReadAllBytes(path);
        Assert.ThrowsAny<Exception>(() => SafetensorsWriter.Write(path, tensors));
        Assert.Equal([path], Directory.EnumerateFileSystemEntries(dir.Path));
        Assert.Equal(before, File.ReadAllBytes(path));
    }
}
