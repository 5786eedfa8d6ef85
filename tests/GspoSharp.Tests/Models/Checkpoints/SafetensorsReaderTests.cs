using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Checkpoints.HandMade;

namespace GspoSharp.Tests.Models.Checkpoints;

/// <summary>The reader against files built byte by byte in the test.</summary>
public class SafetensorsReaderTests
{
    static float[] Floats(Tensor t) => t.to_type(ScalarType.Float32).data<float>().ToArray();

    [Fact]
    public void Reads_f32_f16_and_bf16_as_float32_exactly()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        float[] values = [1.5f, -2.25f, 0f, 3.140625f, -0.0078125f, 65280f];
        string path = HandMade.Write(dir.Path, "a.safetensors",
            """{"w32":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"w16":{"dtype":"F16","shape":[6],"data_offsets":[24,36]},"wb":{"dtype":"BF16","shape":[3,2],"data_offsets":[36,48]}}""",
            F32(values), F16(values), BF16(values));

        using var reader = SafetensorsReader.Open(path);
        var w32 = reader.ReadTensor("w32");
        Assert.Equal(ScalarType.Float32, w32.dtype);
        Assert.Equal([2L, 3], w32.shape);
        Assert.Equal(values, Floats(w32));
        Assert.Equal(values, Floats(reader.ReadTensor("w16")));
        var wb = reader.ReadTensor("wb");
        Assert.Equal([3L, 2], wb.shape);
        Assert.Equal(values, Floats(wb));
    }

    [Fact]
    public void Every_bf16_and_f16_bit_pattern_widens_exactly()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        // All 65536 patterns but NaNs (whose payload need not survive): expected values come from
        // the bit layout (BF16 = top half of a float32) and from System.Half, not from TorchSharp.
        var bits = Enumerable.Range(0, 65536).Select(i => (ushort)i)
            .Where(b => !float.IsNaN(Bf16ToFloat(b)) && !Half.IsNaN(BitConverter.UInt16BitsToHalf(b))).ToArray();
        long n = bits.Length;
        string path = HandMade.Write(dir.Path, "bits.safetensors",
            $$$"""{"b":{"dtype":"BF16","shape":[{{{n}}}],"data_offsets":[0,{{{2 * n}}}]},"h":{"dtype":"F16","shape":[{{{n}}}],"data_offsets":[{{{2 * n}}},{{{4 * n}}}]}}""",
            U16Bits(bits), U16Bits(bits));

        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(bits.Select(Bf16ToFloat).ToArray(), Floats(reader.ReadTensor("b")));
        Assert.Equal(bits.Select(b => (float)BitConverter.UInt16BitsToHalf(b)).ToArray(), Floats(reader.ReadTensor("h")));
        // Asked for the stored type, the bytes come back untouched.
        Assert.Equal(U16Bits(bits), RawBytes(reader.ReadTensor("b", ScalarType.BFloat16)));
        Assert.Equal(U16Bits(bits), RawBytes(reader.ReadTensor("h", ScalarType.Float16)));
    }

    [Fact]
    public void Reads_integer_bool_and_f64_tensors_in_any_requested_dtype()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = HandMade.Write(dir.Path, "ints.safetensors",
            """{"i64":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},"f64":{"dtype":"F64","shape":[2],"data_offsets":[24,40]},"i32":{"dtype":"I32","shape":[2],"data_offsets":[40,48]},"u8":{"dtype":"U8","shape":[2],"data_offsets":[48,50]},"ok":{"dtype":"BOOL","shape":[3],"data_offsets":[50,53]}}""",
            I64(-5, 1L << 40, 7), F64(0.1, -1e300), I32(-3, 123456), [0, 255], [1, 0, 1]);

        using var reader = SafetensorsReader.Open(path);
        Assert.Equal([-5L, 1L << 40, 7], reader.ReadTensor("i64", ScalarType.Int64).data<long>().ToArray());
        Assert.Equal([0.1, -1e300], reader.ReadTensor("f64", ScalarType.Float64).data<double>().ToArray());
        Assert.Equal([-3f, 123456f], Floats(reader.ReadTensor("i32")));
        Assert.Equal([(byte)0, 255], reader.ReadTensor("u8", ScalarType.Byte).data<byte>().ToArray());
        Assert.Equal([true, false, true], reader.ReadTensor("ok", ScalarType.Bool).data<bool>().ToArray());
    }

    [Fact]
    public void Scalars_and_empty_tensors_keep_their_shapes()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = HandMade.Write(dir.Path, "shapes.safetensors",
            """{"scalar":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"empty":{"dtype":"BF16","shape":[0,3],"data_offsets":[4,4]},"zero":{"dtype":"F16","shape":[2,0],"data_offsets":[4,4]}}""",
            F32(42.5f));

        using var reader = SafetensorsReader.Open(path);
        var scalar = reader.ReadTensor("scalar");
        Assert.Empty(scalar.shape);
        Assert.Equal(42.5f, scalar.item<float>());
        Assert.Equal([0L, 3], reader.ReadTensor("empty").shape);
        Assert.Equal([2L, 0], reader.ReadTensor("zero", ScalarType.BFloat16).shape);
    }

    [Fact]
    public void Lists_entries_in_data_order_with_metadata()
    {
        using var dir = new TempDirectory();
        string path = HandMade.Write(dir.Path, "m.safetensors",
            """{"__metadata__":{"format":"pt","note":"ünïcode"},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"a":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}""",
            F32(1, 2), BF16(3, 4));

        using var reader = SafetensorsReader.Open(path);
        Assert.Equal(["a", "b"], reader.Entries.Select(e => e.Name));
        var b = reader.GetEntry("b");
        Assert.Equal((ScalarType.BFloat16, "BF16", 8L, 12L, 2L, 4L, path), (b.Dtype, b.DtypeName, b.DataBegin, b.DataEnd, b.ElementCount, b.ByteCount, b.File));
        Assert.Equal([2L], b.Shape);
        Assert.Equal("ünïcode", reader.Metadata["note"]);
        Assert.Equal("pt", reader.Metadata["format"]);
        Assert.True(reader.Contains("a"));
        Assert.False(reader.Contains("c"));
    }

    [Fact]
    public void Tolerates_header_padding_and_unused_bytes_between_tensors()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        // Padding spaces after the JSON (as the reference writer emits), and a gap the reference
        // reader would refuse but that cannot make us read a wrong byte.
        string path = HandMade.Write(dir.Path, "gap.safetensors",
            """{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}      """, F32(-1, 9));
        using var reader = SafetensorsReader.Open(path);
        Assert.Equal([9f], Floats(reader.ReadTensor("a")));
    }
}
