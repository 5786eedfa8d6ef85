using System.Buffers.Binary;
using System.Text;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// Applies a <see cref="FuzzCase"/> to its seed: byte-level steps (bit flips, byte stores,
/// deletions, truncation, insertion of <see cref="Fragments"/>, duplication, splicing with another
/// seed) and structure-aware steps for the input's <see cref="InputFormat"/>. A structure-aware
/// step on bytes that no longer parse falls back to inserting a fragment of that format. Every
/// choice comes from the case's numbers, so a case always makes the same bytes.
/// </summary>
public static class Mutator
{
    /// <summary>Inputs are kept below this size; an insertion that would pass it truncates.</summary>
    public const int MaxInputBytes = 16 << 20;

    public static byte[] Apply(FuzzCase fuzzCase, IReadOnlyList<byte[]> seeds, InputFormat format)
    {
        byte[] bytes = seeds[fuzzCase.Seed % seeds.Count];
        foreach (var step in fuzzCase.Steps)
        {
            bytes = step.Kind < Mutation.FirstStructural
                ? ByteLevel(bytes, step, seeds, format)
                : Structural(bytes, step, format) ?? Insert(bytes, step.Where, FormatFragment(format, step.What));
            if (bytes.Length > MaxInputBytes) bytes = bytes[..MaxInputBytes];
        }
        return bytes;
    }

    static byte[]? Structural(byte[] bytes, Mutation step, InputFormat format) => format switch
    {
        InputFormat.Json => JsonMutator.Mutate(bytes, step),
        InputFormat.JsonLines => JsonLinesMutator.Mutate(bytes, step),
        InputFormat.Yaml => YamlMutator.Mutate(bytes, step),
        InputFormat.Safetensors => SafetensorsMutator.Mutate(bytes, step),
        _ => null,
    };

    static byte[] ByteLevel(byte[] bytes, Mutation step, IReadOnlyList<byte[]> seeds, InputFormat format)
    {
        int length = bytes.Length;
        int at = length == 0 ? 0 : (int)(step.Where % (uint)length);
        switch (step.Kind)
        {
            case 0:   // flip one bit
                if (length == 0) return bytes;
                var flipped = (byte[])bytes.Clone();
                flipped[at] ^= (byte)(1 << (int)(step.What % 8));
                return flipped;
            case 1:   // store an interesting byte
                if (length == 0) return bytes;
                var stored = (byte[])bytes.Clone();
                byte[] interesting = [0x00, 0xFF, 0x7F, 0x80, 0xC0, (byte)'"', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)',',
                    (byte)':', (byte)'\\', (byte)'\n', (byte)'-', (byte)'0', (byte)'9', (byte)'e', (byte)' ', (byte)'#', (byte)'&', (byte)'*'];
                stored[at] = interesting[step.What % (uint)interesting.Length];
                return stored;
            case 2:   // delete a range
                int count = (int)Math.Min(1 + step.What % 64, (uint)(length - at));
                return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + count)];
            case 3:   // truncate
                return bytes[..at];
            case 4:   // insert bytes any format can meet
                return Insert(bytes, step.Where, Fragments.Bytes[step.What % (uint)Fragments.Bytes.Length]);
            case 5:   // insert a fragment of this format
                return Insert(bytes, step.Where, FormatFragment(format, step.What));
            case 6:   // duplicate a range somewhere else
                if (length == 0) return bytes;
                int span = (int)Math.Min(1 + step.What % 256, (uint)(length - at));
                return Insert(bytes, step.How, bytes.AsSpan(at, span).ToArray());
            default:  // splice: this input's head, another seed's tail
                var other = seeds[(int)(step.What % (uint)seeds.Count)];
                int from = other.Length == 0 ? 0 : (int)(step.How % (uint)other.Length);
                return [.. bytes.AsSpan(0, at), .. other.AsSpan(from)];
        }
    }

    static byte[] FormatFragment(InputFormat format, uint what)
    {
        string[] pool = format switch
        {
            InputFormat.Yaml => Fragments.Yaml,
            InputFormat.JsonLines => [.. Fragments.Json, .. Fragments.Lines],
            _ => Fragments.Json,
        };
        return Encoding.UTF8.GetBytes(pool[what % (uint)pool.Length]);
    }

    internal static byte[] Insert(byte[] bytes, uint where, ReadOnlySpan<byte> piece)
    {
        int at = (int)(where % (uint)(bytes.Length + 1));
        return [.. bytes.AsSpan(0, at), .. piece, .. bytes.AsSpan(at)];
    }

    /// <summary>The little-endian u64 header length of a safetensors file, or null when the file is shorter than 8 bytes.</summary>
    internal static ulong? SafetensorsHeaderLength(byte[] bytes) =>
        bytes.Length >= 8 ? BinaryPrimitives.ReadUInt64LittleEndian(bytes) : null;
}
