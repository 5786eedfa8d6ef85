using System.Text.Json;
using GspoSharp.Models.Json;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// model.safetensors.index.json of a sharded Hugging Face checkpoint:
/// <c>{"metadata": {"total_size": bytes}, "weight_map": {"tensor.name": "model-00001-of-00002.safetensors", …}}</c>.
/// Only weight_map matters for loading; metadata is written for compatibility and not trusted.
/// </summary>
internal static class HfCheckpointIndex
{
    const long MaxIndexBytes = 100_000_000;

    /// <summary>Reads the weight map: tensor name → shard file name (a bare name inside the checkpoint directory).</summary>
    /// <exception cref="ModelFormatException">The index is malformed; the message names the file and field.</exception>
    public static IReadOnlyDictionary<string, string> Read(string indexPath)
    {
        if (new FileInfo(indexPath).Length > MaxIndexBytes)
            throw Bad(indexPath, $"the file is larger than {MaxIndexBytes} bytes; it is not a checkpoint index.");
        JsonDocument document;
        try
        {
            document = StrictJson.Document(File.ReadAllBytes(indexPath), allowDuplicateNames: true);   // named below
        }
        catch (JsonException ex)
        {
            throw new ModelFormatException($"{indexPath}: not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw Bad(indexPath, $"the index must be a JSON object; it is a JSON {root.ValueKind}.");
            if (!root.TryGetProperty("weight_map", out var map))
                throw Bad(indexPath, "the index has no 'weight_map' field.");
            if (root.EnumerateObject().Count(p => p.NameEquals("weight_map")) > 1)
                throw Bad(indexPath, "field 'weight_map' appears twice; which one holds the tensors is ambiguous.");
            if (map.ValueKind != JsonValueKind.Object)
                throw Bad(indexPath, $"field 'weight_map' must be an object of tensor name → shard file; it is a JSON {map.ValueKind}.");

            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw Bad(indexPath, $"weight_map entry for tensor '{entry.Name}' must be a file name string; it is a JSON {entry.Value.ValueKind}.");
                string shard = entry.Value.GetString()!;
                // A shard must sit in the checkpoint directory: an index never points elsewhere on disk.
                if (shard.Length == 0 || shard is "." or ".." || shard.IndexOfAny(['/', '\\']) >= 0 || shard != Path.GetFileName(shard))
                    throw Bad(indexPath, $"weight_map maps tensor '{entry.Name}' to '{shard}', which is not a plain file name in the checkpoint directory.");
                if (!weightMap.TryAdd(entry.Name, shard))
                    throw Bad(indexPath, $"tensor '{entry.Name}' appears twice in weight_map.");
            }
            return weightMap;
        }
    }

    /// <summary>Writes the index as transformers does: indented, keys sorted, newline at the end.</summary>
    public static void Write(Stream stream, long totalSize, IReadOnlyDictionary<string, string> weightMap)
    {
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalSize);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, shard) in weightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                json.WriteString(name, shard);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        stream.WriteByte((byte)'\n');
    }

    static ModelFormatException Bad(string path, string message) => new($"{path}: {message}");
}
