using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace GspoSharp.Tests.Models.Checkpoints;

/// <summary>
/// Safetensors bytes built by hand, and a tiny independent parser, so that tests never use the
/// code under test to compute what they expect.
/// </summary>
internal static class HandMade
{
    /// <summary>8-byte little-endian header length, the header text as UTF-8, then the data, byte for byte.</summary>
    public static byte[] FileBytes(string header, params byte[][] data)
    {
        var json = Encoding.UTF8.GetBytes(header);
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write((ulong)json.Length);   // BinaryWriter is little-endian on every platform
            writer.Write(json);
            foreach (var d in data) writer.Write(d);
        }
        return stream.ToArray();
    }

    public static string Write(string directory, string name, string header, params byte[][] data)
    {
        string path = Path.Combine(directory, name);
        System.IO.File.WriteAllBytes(path, FileBytes(header, data));
        return path;
    }

    public static byte[] F32(params float[] values) => Bytes(values, 4, (s, v) => BinaryPrimitives.WriteSingleLittleEndian(s, v));
    public static byte[] F64(params double[] values) => Bytes(values, 8, (s, v) => BinaryPrimitives.WriteDoubleLittleEndian(s, v));
    public static byte[] F16(params float[] values) => Bytes(values, 2, (s, v) => BinaryPrimitives.WriteHalfLittleEndian(s, (Half)v));
    public static byte[] I64(params long[] values) => Bytes(values, 8, (s, v) => BinaryPrimitives.WriteInt64LittleEndian(s, v));
    public static byte[] I32(params int[] values) => Bytes(values, 4, (s, v) => BinaryPrimitives.WriteInt32LittleEndian(s, v));
    public static byte[] U16Bits(params ushort[] bits) => Bytes(bits, 2, (s, v) => BinaryPrimitives.WriteUInt16LittleEndian(s, v));

    /// <summary>BF16 is the top 16 bits of the float32 bit pattern (exact for the values the tests use).</summary>
    public static byte[] BF16(params float[] values) => U16Bits(values.Select(TopBits).ToArray());

    public static ushort TopBits(float v) => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);

    /// <summary>float32 → bfloat16 rounding to nearest, ties to even (what LibTorch does; not NaN).</summary>
    public static ushort RoundToBf16(float v)
    {
        uint bits = BitConverter.SingleToUInt32Bits(v);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float Bf16ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    static byte[] Bytes<T>(T[] values, int size, Action<Span<byte>, T> write)
    {
        var bytes = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++) write(bytes.AsSpan(i * size, size), values[i]);
        return bytes;
    }

    /// <summary>A safetensors file as parsed here, independently: the header's JSON and the data section.</summary>
    public sealed record Parsed(ulong HeaderLength, string HeaderText, JsonElement Header, byte[] Data)
    {
        public IEnumerable<string> TensorNames => Header.EnumerateObject().Select(p => p.Name).Where(n => n != "__metadata__");

        public string Dtype(string name) => Header.GetProperty(name).GetProperty("dtype").GetString()!;

        public long[] Shape(string name) => Header.GetProperty(name).GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();

        public (long Begin, long End) Offsets(string name)
        {
            var o = Header.GetProperty(name).GetProperty("data_offsets");
            return (o[0].GetInt64(), o[1].GetInt64());
        }

        public byte[] DataOf(string name)
        {
            var (begin, end) = Offsets(name);
            return Data[(int)begin..(int)end];
        }
    }

    public static Parsed Parse(string path)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string text = Encoding.UTF8.GetString(bytes, 8, (int)n);
        return new Parsed(n, text, JsonDocument.Parse(text).RootElement.Clone(), bytes[(8 + (int)n)..]);
    }

    /// <summary>The raw bytes of a CPU tensor, copied out.</summary>
    public static byte[] RawBytes(Tensor t) => t.contiguous().bytes.ToArray();

    /// <summary>A CPU tensor of the given type whose storage holds exactly <paramref name="raw"/>.</summary>
    public static Tensor FromRaw(byte[] raw, ScalarType dtype, params long[] shape)
    {
        var t = empty(shape, dtype);
        if (raw.Length > 0) t.bytes = raw;
        return t;
    }
}
