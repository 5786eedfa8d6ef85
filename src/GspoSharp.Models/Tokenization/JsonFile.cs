using System.Text.Json;
using GspoSharp.Models.Json;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// Typed reads of the fields of one JSON file, each failing with a <see cref="ModelFormatException"/>
/// that names the file and the field ("model.merges[3]").
/// </summary>
internal sealed class JsonFile(string path)
{
    /// <summary>The file, as named in messages.</summary>
    public string Path { get; } = path;

    /// <summary>Parses the file; a missing file is a <see cref="FileNotFoundException"/>.</summary>
    public static JsonDocument Parse(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.", path);
        try
        {
            return StrictJson.Document(File.ReadAllBytes(path), maxDepth: 256);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
    }

    public ModelFormatException Error(string field, string message) => new($"{Path}: {field}: {message}");

    /// <summary>The "type" of a component object.</summary>
    public string Type(JsonElement element, string field) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
            ? type.GetString()!
            : throw Error(field, "expected an object with a \"type\".");

    /// <summary>A string field; null when it is missing or null.</summary>
    public string? String(JsonElement element, string name, string field)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return null;
        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw Error($"{field}.{name}", $"expected a string, found {value.ValueKind}.");
    }

    /// <summary>A boolean field; <paramref name="defaultValue"/> when it is missing or null.</summary>
    public bool Bool(JsonElement element, string name, string field, bool defaultValue)
    {
        if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            return defaultValue;
        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Error($"{field}.{name}", $"expected true or false, found {value.ValueKind}."),
        };
    }

    /// <summary>The items of an array field, which must be present.</summary>
    public IEnumerable<JsonElement> Array(JsonElement element, string name, string field) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? value.EnumerateArray()
            : throw Error(field == "(root)" ? name : $"{field}.{name}", "expected an array.");
}
