using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// Everything about a safetensors file that is decided before its first byte is written: which
/// element type each tensor is stored in, the order and offsets of the data, and the header.
/// Planning validates all inputs up front, so a bad argument fails before any file exists.
/// </summary>
internal sealed class SafetensorsLayout
{
    /// <summary>One tensor's place in the file.</summary>
    internal sealed record Item(string Name, Tensor Tensor, ScalarType Stored, long[] Shape, long Begin, long End);

    SafetensorsLayout(byte[] header, IReadOnlyList<Item> items)
    {
        Header = header;
        Items = items;
    }

    /// <summary>The JSON header, padded with spaces to a multiple of 8 bytes.</summary>
    public byte[] Header { get; }

    /// <summary>The tensors in the order their data is written.</summary>
    public IReadOnlyList<Item> Items { get; }

    /// <summary>The bytes one tensor takes when stored with <paramref name="storageDtype"/>.</summary>
    public static long StoredBytes(string name, Tensor tensor, ScalarType storageDtype) =>
        tensor.NumberOfElements * SafetensorsDtypes.ElementSize(StoredType(name, tensor, storageDtype));

    /// <exception cref="ArgumentException">The storage dtype is not F32/F16/BF16, a name is empty or
    /// reserved, or a tensor has an element type safetensors cannot store.</exception>
    public static SafetensorsLayout Plan(
        IEnumerable<KeyValuePair<string, Tensor>> tensors, ScalarType storageDtype, IReadOnlyDictionary<string, string>? metadata)
    {
        CheckStorageDtype(storageDtype);
        // The reference implementation's order: larger alignment first, then by name. With the
        // header padded to 8 bytes this starts every tensor at a multiple of its element size.
        var ordered = tensors
            .Select(kv => (Name: CheckName(kv.Key), kv.Value, Stored: StoredType(kv.Key, kv.Value, storageDtype)))
            .OrderByDescending(t => SafetensorsDtypes.AlignmentRank(t.Stored))
            .ThenBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

        var items = new List<Item>(ordered.Count);
        long offset = 0;
        foreach (var (name, tensor, stored) in ordered)
        {
            long end = offset + tensor.NumberOfElements * SafetensorsDtypes.ElementSize(stored);
            items.Add(new Item(name, tensor, stored, tensor.shape, offset, end));
            offset = end;
        }
        return new SafetensorsLayout(HeaderBytes(items, metadata), items);
    }

    /// <summary>Writes the whole file: length, header, then each tensor's data in order.</summary>
    public void WriteTo(Stream stream)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)Header.Length);
        stream.Write(length);
        stream.Write(Header);
        foreach (var item in Items)
        {
            // One scope per tensor: at most one converted copy is alive at a time.
            using var scope = NewDisposeScope();
            var flat = item.Tensor.detach().to_type(item.Stored).cpu().contiguous().reshape(-1);
            if (flat.NumberOfElements != item.Shape.Aggregate(1L, (n, d) => n * d))
                throw new InvalidOperationException($"Tensor '{item.Name}' changed shape while it was being saved.");
            TensorBytes.Write(flat, stream);
        }
    }

    static byte[] HeaderBytes(List<Item> items, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        // Compact, with non-ASCII written as UTF-8 rather than \u escapes, like serde_json.
        var options = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        using (var json = new Utf8JsonWriter(buffer, options))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                    json.WriteString(key, value ?? throw new ArgumentException($"Metadata '{key}' is null.", nameof(metadata)));
                json.WriteEndObject();
            }
            foreach (var item in items)
            {
                json.WriteStartObject(item.Name);
                json.WriteString("dtype", SafetensorsDtypes.Name(item.Stored));
                json.WriteStartArray("shape");
                foreach (long d in item.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(item.Begin);
                json.WriteNumberValue(item.End);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        // Pad with spaces (valid JSON whitespace) so the data section starts 8-byte aligned.
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    internal static void CheckStorageDtype(ScalarType storageDtype)
    {
        if (storageDtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new ArgumentException($"Storage dtype must be Float32, Float16 or BFloat16; got {storageDtype}.", nameof(storageDtype));
    }

    static string CheckName(string name)
    {
        if (string.IsNullOrEmpty(name))
            throw new ArgumentException("A tensor name is empty.", nameof(name));
        if (name == "__metadata__")
            throw new ArgumentException("'__metadata__' is reserved for the file's metadata and cannot name a tensor.", nameof(name));
        return name;
    }

    /// <summary>
    /// Floating-point tensors take the storage dtype; integer and bool tensors (e.g. position ids)
    /// keep their own, since rounding them through a float type could change their values.
    /// </summary>
    static ScalarType StoredType(string name, Tensor tensor, ScalarType storageDtype)
    {
        ArgumentNullException.ThrowIfNull(tensor, name);
        if (tensor.is_floating_point()) return storageDtype;
        return SafetensorsDtypes.IsSupported(tensor.dtype)
            ? tensor.dtype
            : throw new ArgumentException(
                $"Tensor '{name}' has element type {tensor.dtype}, which safetensors cannot store here; supported: {SafetensorsDtypes.SupportedNames}.", nameof(tensor));
    }
}
