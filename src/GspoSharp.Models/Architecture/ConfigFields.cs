using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GspoSharp.Models.Architecture;

/// <summary>Typed access to the fields of a config.json object, with errors that name the file and field.</summary>
internal sealed class ConfigFields(JsonObject json, string source, string prefix = "")
{
    public ModelFormatException Error(string field, string problem) => new($"{source}: field \"{prefix}{field}\" {problem}.");

    /// <summary>The fields of an object inside this one (e.g. rope_scaling), named "parent.field" in errors.</summary>
    public ConfigFields Nested(JsonObject inner, string field) => new(inner, source, $"{prefix}{field}.");

    public JsonNode? Node(string field) => json[field];

    public string? String(string field) => Value(field, JsonValueKind.String, "a string")?.GetValue<string>();

    public bool? Bool(string field) => json[field] switch
    {
        null => null,
        var node when node.GetValueKind() is JsonValueKind.True or JsonValueKind.False => node.GetValue<bool>(),
        var node => throw Error(field, $"must be true or false; got {node.ToJsonString()}"),
    };

    public double? Double(string field) =>
        Value(field, JsonValueKind.Number, "a number") is { } v ? double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture) : null;

    public int? Int(string field) => Double(field) switch
    {
        null => null,
        double d when d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue => (int)d,
        double d => throw Error(field, $"must be an integer; got {d.ToString(CultureInfo.InvariantCulture)}"),
    };

    public int Positive(string field)
    {
        int value = Int(field) ?? throw Error(field, "is missing");
        return value > 0 ? value : throw Error(field, $"is {value}; it must be positive");
    }

    /// <summary>An integer or a list of integers (e.g. eos_token_id).</summary>
    public IReadOnlyList<int>? Ints(string field) => json[field] switch
    {
        null => null,
        JsonArray array => array.Select((item, i) => item is not null && item.GetValueKind() == JsonValueKind.Number
            ? new ConfigFields(new JsonObject { [$"{field}[{i}]"] = item.DeepClone() }, source, prefix).Int($"{field}[{i}]")!.Value
            : throw Error(field, $"item {i} must be an integer; got {item?.ToJsonString() ?? "null"}")).ToList(),
        _ => new[] { Int(field)!.Value },
    };

    JsonNode? Value(string field, JsonValueKind kind, string expected) => json[field] switch
    {
        null => null,
        var node when node.GetValueKind() == kind => node,
        var node => throw Error(field, $"must be {expected}; got {node.ToJsonString()}"),
    };
}
