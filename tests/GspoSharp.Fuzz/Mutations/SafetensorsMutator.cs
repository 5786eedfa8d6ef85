using System.Buffers.Binary;
using System.Text;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// Structure-aware safetensors mutations: the 8-byte header length set to a value at or past a
/// limit (2^31, 2^32, 2^60, 2^63, 2^64 − 1, one more or less than the truth); the JSON header
/// mutated by <see cref="JsonMutator"/> and the length rewritten to match (or, once in a while,
/// not); the data section cut short or extended.
/// </summary>
public static class SafetensorsMutator
{
    static readonly ulong[] Lengths =
    [
        0, 1, 2, 7, 8, 100_000_000, 100_000_001, (1UL << 31) - 1, 1UL << 31, 1UL << 32, 1UL << 40, 1UL << 60,
        (1UL << 63) - 1, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 7,
    ];

    public static byte[]? Mutate(byte[] bytes, Mutation step)
    {
        ulong? header = Mutator.SafetensorsHeaderLength(bytes);
        bool intact = header is { } h && h <= (ulong)(bytes.Length - 8);
        switch (step.Kind)
        {
            case 8:   // header length: an extreme, or off by a little from the truth
                if (bytes.Length < 8) return null;
                ulong length = step.What % 3 == 0 && header is { } truth
                    ? truth + (ulong)(int)(step.How % 17) - 8
                    : Lengths[step.How % (uint)Lengths.Length];
                var copy = (byte[])bytes.Clone();
                BinaryPrimitives.WriteUInt64LittleEndian(copy, length);
                return copy;
            case 9:   // data section: cut short, or extended with bytes nobody claims
                if (!intact) return null;
                int dataStart = 8 + (int)header!.Value;
                int dataLength = bytes.Length - dataStart;
                return step.What % 2 == 0
                    ? bytes[..(dataStart + (dataLength == 0 ? 0 : (int)(step.How % (uint)dataLength)))]
                    : [.. bytes, .. new byte[1 + step.How % 64]];
            default:  // the header's JSON, with the length kept consistent unless How says otherwise
                if (!intact) return null;
                int n = (int)header!.Value;
                string? json = JsonMutator.MutateText(bytes.AsSpan(8, n), step with { Where = step.What, What = step.Where });
                if (json is null) return null;
                byte[] newHeader = Encoding.UTF8.GetBytes(json);
                var result = new byte[8 + newHeader.Length + bytes.Length - 8 - n];
                BinaryPrimitives.WriteUInt64LittleEndian(result, step.How % 16 == 0 ? (ulong)n : (ulong)newHeader.Length);
                newHeader.CopyTo(result, 8);
                bytes.AsSpan(8 + n).CopyTo(result.AsSpan(8 + newHeader.Length));
                return result;
        }
    }
}
