using System.Text.Json;
using GspoSharp.Models.Json;

namespace GspoSharp.Cli.Commands;

/// <summary>One response of a batch file: per-token log-probs and its advantage(s).</summary>
internal sealed record ResponseRecord(double[] LogProbs, double[] OldLogProbs, double[] Advantages, double[]? RefLogProbs);

/// <summary>
/// Reads the batch file of <c>gspo objective</c>:
/// <code>
/// { "responses": [ { "logprobs": [..], "old_logprobs": [..], "advantage": 1.0 },
///                  { "logprobs": [..], "old_logprobs": [..], "advantages": [..], "ref_logprobs": [..] } ] }
/// </code>
/// "advantage" gives one Â_i for the whole response; "advantages" one per token.
/// </summary>
internal static class ObjectiveBatchFile
{
    /// <summary>A small batch with a response inside GSPO's clip range, one above it and one far below it.</summary>
    public static IReadOnlyList<ResponseRecord> Example { get; } = new[]
    {
        new ResponseRecord(new[] { -1.0, -2.0 }, new[] { -1.1, -1.7 }, new[] { 1.0, 1.0 }, null),
        new ResponseRecord(new[] { -0.5, -0.25, -3.0 }, new[] { -0.5002, -0.251, -3.0003 }, new[] { 0.5, 0.5, 0.5 }, null),
        new ResponseRecord(new[] { -0.7 }, new[] { -0.6999 }, new[] { -2.0 }, null),
    };

    public static IReadOnlyList<ResponseRecord> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.");
        JsonDocument document;
        try
        {
            document = StrictJson.Document(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: invalid JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object ||
                !document.RootElement.TryGetProperty("responses", out var responses) || responses.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: expected an object with a \"responses\" array.");
            var result = new List<ResponseRecord>();
            int i = 0;
            foreach (var response in responses.EnumerateArray())
            {
                string where = $"{path}: responses[{i++}]";
                if (response.ValueKind != JsonValueKind.Object)
                    throw new InvalidDataException($"{where} must be an object with logprobs, old_logprobs and advantage(s).");
                var logProbs = Numbers(response, "logprobs", where) ?? throw Missing(where, "logprobs");
                var old = Numbers(response, "old_logprobs", where) ?? throw Missing(where, "old_logprobs");
                var reference = Numbers(response, "ref_logprobs", where);
                double[] advantages = Numbers(response, "advantages", where)
                    ?? (response.TryGetProperty("advantage", out var a) && a.ValueKind == JsonValueKind.Number
                        ? Enumerable.Repeat(a.GetDouble(), logProbs.Length).ToArray()
                        : throw Missing(where, "advantage (or advantages)"));
                foreach (var (values, name) in new[] { (old, "old_logprobs"), (advantages, "advantages"), (reference, "ref_logprobs") })
                    if (values is not null && values.Length != logProbs.Length)
                        throw new InvalidDataException($"{where}.{name} has {values.Length} values but logprobs has {logProbs.Length}.");
                result.Add(new ResponseRecord(logProbs, old, advantages, reference));
            }
            if (result.Count == 0) throw new InvalidDataException($"{path}: \"responses\" is empty.");
            return result;
        }
    }

    static double[]? Numbers(JsonElement response, string name, string where)
    {
        if (!response.TryGetProperty(name, out var array)) return null;
        if (array.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where}.{name} must be an array of numbers.");
        return array.EnumerateArray().Select((v, t) => v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new InvalidDataException($"{where}.{name}[{t}] is {v.ValueKind}, not a number.")).ToArray();
    }

    static InvalidDataException Missing(string where, string name) => new($"{where} has no \"{name}\".");
}
