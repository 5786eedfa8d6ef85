using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using GspoSharp.Models.Json;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// Parses and validates the header of a safetensors file: an 8-byte little-endian length N,
/// then N bytes of UTF-8 JSON mapping tensor names to {dtype, shape, data_offsets}, with an
/// optional "__metadata__" object of strings. Every entry is checked against the size of the
/// file before any tensor is read, so a reader never trusts an offset it has not bounded.
/// </summary>
internal sealed class SafetensorsHeader
{
    /// <summary>The reference implementation refuses larger headers; so do we, before allocating.</summary>
    public const long MaxHeaderBytes = 100_000_000;

    SafetensorsHeader(long dataStart, List<SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        DataStart = dataStart;
        Entries = entries;
        ByName = entries.ToDictionary(e => e.Name, StringComparer.Ordinal);
        Metadata = metadata;
    }

    /// <summary>File offset of the first data byte: 8 + N.</summary>
    public long DataStart { get; }

    /// <summary>The tensors in file order (by data offset).</summary>
    public IReadOnlyList<SafetensorsEntry> Entries { get; }

    public IReadOnlyDictionary<string, SafetensorsEntry> ByName { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <exception cref="ModelFormatException">The header is malformed or disagrees with the file size.</exception>
    public static SafetensorsHeader Read(SafeFileHandle file, string path)
    {
        long fileLength = RandomAccess.GetLength(file);
        if (fileLength < 8)
            throw Bad(path, $"the file is {fileLength} bytes long, shorter than the 8-byte header length that starts every safetensors file.");

        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(file, prefix, 0, path, "the header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad(path, $"the header length {headerLength} runs past the end of the file ({fileLength} bytes); the file is truncated or not a safetensors file.");
        if (headerLength > MaxHeaderBytes)
            throw Bad(path, $"the header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit.");

        var json = new byte[headerLength];
        ReadExactly(file, json, 8, path, "the header");
        long dataStart = 8 + (long)headerLength;
        return Parse(json, path, dataLength: fileLength - dataStart, dataStart);
    }

    static SafetensorsHeader Parse(byte[] json, string path, long dataLength, long dataStart)
    {
        JsonDocument document;
        try
        {
            // Also refuses invalid UTF-8 and unpaired surrogate escapes; a tensor named twice is found below.
            document = StrictJson.Document(json, allowDuplicateNames: true);
        }
        catch (JsonException ex)
        {
            throw new ModelFormatException($"{path}: the header is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad(path, $"the header must be a JSON object; it is a JSON {root.ValueKind}.");

            var entries = new List<SafetensorsEntry>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            // JSON allows a name twice and System.Text.Json keeps both; the format does not.
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                    throw Bad(path, $"tensor '{property.Name}' appears twice in the header.");
                if (property.Name == "__metadata__")
                    ReadMetadata(property.Value, path, metadata);
                else
                    entries.Add(ReadEntry(property.Name, property.Value, path, dataLength));
            }

            entries.Sort((a, b) => a.DataBegin != b.DataBegin ? a.DataBegin.CompareTo(b.DataBegin) : a.DataEnd.CompareTo(b.DataEnd));
            CheckNoOverlap(entries, path);
            return new SafetensorsHeader(dataStart, entries, metadata);
        }
    }

    static void ReadMetadata(JsonElement value, string path, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"field '__metadata__' must be an object of strings; it is a JSON {value.ValueKind}.");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw Bad(path, $"field '__metadata__.{item.Name}' must be a string; it is a JSON {item.Value.ValueKind}.");
            if (!metadata.TryAdd(item.Name, item.Value.GetString()!))
                throw Bad(path, $"field '__metadata__.{item.Name}' appears twice.");
        }
    }

    static SafetensorsEntry ReadEntry(string name, JsonElement value, string path, long dataLength)
    {
        string where = $"tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw Bad(path, $"{where}: the entry must be a JSON object with dtype, shape and data_offsets; it is a JSON {value.ValueKind}.");

        string dtypeName = Field(value, "dtype", JsonValueKind.String, where, path).GetString()!;
        if (!SafetensorsDtypes.TryParse(dtypeName, out var dtype))
            throw Bad(path, SafetensorsDtypes.IsKnownButUnsupported(dtypeName)
                ? $"{where} has dtype '{dtypeName}', which TorchSharp has no element type for; supported: {SafetensorsDtypes.SupportedNames}."
                : $"{where} has unknown dtype '{dtypeName}'; supported: {SafetensorsDtypes.SupportedNames}.");

        var shape = Integers(Field(value, "shape", JsonValueKind.Array, where, path), "shape", where, path);
        var offsets = Integers(Field(value, "data_offsets", JsonValueKind.Array, where, path), "data_offsets", where, path);
        if (offsets.Length != 2)
            throw Bad(path, $"{where}: field 'data_offsets' must hold exactly two integers [begin, end]; it holds {offsets.Length}.");
        long begin = offsets[0], end = offsets[1];
        string range = $"data_offsets [{begin}, {end}]";
        if (begin > end)
            throw Bad(path, $"{where}: {range} begin after they end.");
        if (end > dataLength)
            throw Bad(path, $"{where}: {range} run past the end of the data section ({dataLength} bytes); the file is truncated or the header is wrong.");

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (n, d) => n * d) * SafetensorsDtypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw Bad(path, $"{where}: shape [{string.Join(", ", shape)}] is too large to address.");
        }
        if (end - begin != expected)
            throw Bad(path, $"{where}: {range} span {end - begin} bytes, but dtype {dtypeName} and shape [{string.Join(", ", shape)}] need {expected}.");

        return new SafetensorsEntry(name, dtype, shape, path, begin, end);
    }

    static JsonElement Field(JsonElement entry, string field, JsonValueKind kind, string where, string path)
    {
        if (!entry.TryGetProperty(field, out var value))
            throw Bad(path, $"{where} has no '{field}' field.");
        if (value.ValueKind != kind)
            throw Bad(path, $"{where}: field '{field}' must be a JSON {kind}; it is a JSON {value.ValueKind}.");
        return value;
    }

    static long[] Integers(JsonElement array, string field, string where, string path)
    {
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw Bad(path, $"{where}: field '{field}' must hold non-negative integers; element {i} is {item.GetRawText()}.");
            values[i++] = v;
        }
        return values;
    }

    /// <summary>Two tensors must never share a byte: writing one would corrupt the other.</summary>
    static void CheckNoOverlap(List<SafetensorsEntry> sorted, string path)
    {
        SafetensorsEntry? furthest = null;   // the non-empty entry reaching furthest so far
        foreach (var entry in sorted)
        {
            if (entry.ByteCount == 0) continue;
            if (furthest is not null && entry.DataBegin < furthest.DataEnd)
                throw Bad(path, $"tensor '{entry.Name}' (data_offsets [{entry.DataBegin}, {entry.DataEnd}]) overlaps " +
                                $"tensor '{furthest.Name}' (data_offsets [{furthest.DataBegin}, {furthest.DataEnd}]).");
            if (furthest is null || entry.DataEnd > furthest.DataEnd) furthest = entry;
        }
    }

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes or throws naming what was cut short.</summary>
    internal static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset, string path, string what)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int n = RandomAccess.Read(file, buffer[filled..], offset + filled);
            if (n == 0)
                throw Bad(path, $"the file ends inside {what} (byte {offset + filled}); it is truncated.");
            filled += n;
        }
    }

    static ModelFormatException Bad(string path, string message) => new($"{path}: {message}");
}
