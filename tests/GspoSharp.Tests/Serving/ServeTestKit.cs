using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;

namespace GspoSharp.Tests.Serving;

/// <summary>Models and reference results for the server tests: what <c>gspo generate</c> and <c>gspo score</c> print.</summary>
internal static class ServeTestKit
{
    public static string TinyModel(string directory, long seed = 1)
    {
        TinyModels.Create(directory, ModelType.Qwen3, ModelSize.Tiny, seed);
        return directory;
    }

    /// <summary>The JSON lines of <c>gspo generate --input</c> for these prompts and options.</summary>
    public static JsonObject[] Generate(string dir, string model, IEnumerable<JsonObject> prompts, params string[] options)
    {
        string input = Path.Combine(dir, $"prompts-{Guid.NewGuid():N}.jsonl"), output = Path.Combine(dir, $"out-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(input, prompts.Select(p => p.ToJsonString()));
        var result = GspoProcess.Run(new[] { "generate", "--model", model, "--input", input, "--output", output }.Concat(options).ToArray());
        Assert.True(result.ExitCode == 0, result.Stderr);
        return File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!.AsObject()).ToArray();
    }

    /// <summary>The per-token log-probs <c>gspo score</c> gives each sequence (positions 1..T−1).</summary>
    public static double[][] Score(string dir, string model, IEnumerable<long[]> sequences)
    {
        string input = Path.Combine(dir, $"ids-{Guid.NewGuid():N}.jsonl"), output = Path.Combine(dir, $"scores-{Guid.NewGuid():N}.jsonl");
        File.WriteAllLines(input, sequences.Select(s => new JsonObject { ["ids"] = Ids(s) }.ToJsonString()));
        var result = GspoProcess.Run("score", "--model", model, "--input", input, "--output", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!["logprobs"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray()).ToArray();
    }

    public static JsonArray Ids(IEnumerable<long> ids) => new(ids.Select(i => (JsonNode)i).ToArray());

    public static long[] Longs(JsonNode? array) => array!.AsArray().Select(v => v!.GetValue<long>()).ToArray();
}
