using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>
/// Reads a JSON request body field by field, strictly: a wrong type or range is a 400 naming the
/// field, and <see cref="RejectUnknown"/> refuses any field not read — so an option this server does
/// not implement is never silently ignored. A field vLLM or SGLang define but this server does not
/// implement is accepted only at its neutral value (<see cref="Neutral"/>). JSON null means "default".
/// </summary>
public sealed class RequestFields(JsonObject body, string prefix = "")
{
    readonly HashSet<string> read = new(StringComparer.Ordinal);

    /// <summary>Parses the request body as a JSON object.</summary>
    public static async Task<RequestFields> Read(HttpRequest request)
    {
        JsonNode? node;
        try
        {
            node = await JsonNode.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            throw new ApiError(StatusCodes.Status400BadRequest, $"the request body is not valid JSON: {e.Message}");
        }
        return node is JsonObject o ? new RequestFields(o) : throw new ApiError(StatusCodes.Status400BadRequest, "the request body must be a JSON object.");
    }

    string Name(string field) => prefix + field;

    /// <summary>The raw node of a field (null when absent or null), marked as read.</summary>
    public JsonNode? Node(string field)
    {
        read.Add(field);
        return body[field];
    }

    public bool Has(string field) => body[field] is not null;

    public string? String(string field) => Node(field) switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => throw ApiError.Field(Name(field), "must be a string."),
    };

    public bool? Bool(string field) => Node(field) switch
    {
        null => null,
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>(),
        _ => throw ApiError.Field(Name(field), "must be true or false."),
    };

    public double? Double(string field, double min, double max)
    {
        var node = Node(field);
        if (node is null) return null;
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) throw ApiError.Field(Name(field), "must be a number.");
        double value = v.GetValue<double>();
        return value >= min && value <= max ? value : throw ApiError.Field(Name(field), $"must be in [{min}, {max}]; got {value}.");
    }

    public long? Long(string field, long min, long max)
    {
        var node = Node(field);
        if (node is null) return null;
        return AsLong(node, Name(field), min, max);
    }

    public int? Int(string field, int min, int max) => (int?)Long(field, min, max);

    internal static long AsLong(JsonNode node, string name, long min, long max)
    {
        if (node is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue(out long value))
            throw ApiError.Field(name, "must be an integer.");
        return value >= min && value <= max ? value : throw ApiError.Field(name, $"must be in [{min}, {max}]; got {value}.");
    }

    /// <summary>A string or a list of strings.</summary>
    public IReadOnlyList<string> Strings(string field) => Node(field) switch
    {
        null => Array.Empty<string>(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String => new[] { v.GetValue<string>() },
        JsonArray a => a.Select((x, i) => x is JsonValue s && s.GetValueKind() == JsonValueKind.String ? s.GetValue<string>()
            : throw ApiError.Field($"{Name(field)}[{i}]", "must be a string.")).ToList(),
        _ => throw ApiError.Field(Name(field), "must be a string or a list of strings."),
    };

    /// <summary>A list of integers.</summary>
    public IReadOnlyList<long> Longs(string field, long min, long max) => Node(field) switch
    {
        null => Array.Empty<long>(),
        JsonArray a => a.Select((x, i) => x is null ? throw ApiError.Field($"{Name(field)}[{i}]", "must be an integer.") : AsLong(x, $"{Name(field)}[{i}]", min, max)).ToList(),
        _ => throw ApiError.Field(Name(field), "must be a list of integers."),
    };

    /// <summary>A nested object's fields (null when absent).</summary>
    public RequestFields? Object(string field) => Node(field) switch
    {
        null => null,
        JsonObject o => new RequestFields(o, Name(field) + "."),
        _ => throw ApiError.Field(Name(field), "must be an object."),
    };

    /// <summary>Accepts a field this server does not implement only at the value that means "off".</summary>
    public void Neutral(string field, params JsonNode?[] neutral)
    {
        var node = Node(field);
        if (node is null) return;
        if (neutral.Any(n => Same(node, n))) return;
        if (node is JsonObject { Count: 0 } || node is JsonArray { Count: 0 }) return;
        throw ApiError.Field(Name(field), $"is not supported by this server (only {string.Join(" or ", neutral.Select(n => n?.ToJsonString() ?? "null"))} is accepted); got {node.ToJsonString()}.");
    }

    static bool Same(JsonNode node, JsonNode? neutral) =>
        node is JsonValue a && neutral is JsonValue b && a.GetValueKind() == JsonValueKind.Number && b.GetValueKind() == JsonValueKind.Number
            ? double.Parse(a.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture) == double.Parse(b.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)
            : JsonNode.DeepEquals(node, neutral);

    /// <summary>Accepts a field whose value does not change what is generated (e.g. <c>user</c>).</summary>
    public void Ignore(params string[] fields)
    {
        foreach (var f in fields) read.Add(f);
    }

    /// <summary>Refuses the first field that was not read.</summary>
    public void RejectUnknown()
    {
        foreach (var (key, _) in body)
            if (!read.Contains(key)) throw ApiError.Field(Name(key), "unknown field.");
    }
}
