using System.Text.Json.Nodes;
using GspoSharp.Models;

namespace GspoSharp.Tests.Training;

/// <summary>Compares the metrics of two runs of the same config (an uninterrupted one and a resumed one).</summary>
internal static class RunComparison
{
    /// <summary>Metrics that measure the machine, not the computation.</summary>
    public static bool Deterministic(string key) => !key.StartsWith("time/") && !key.StartsWith("tokens_per_second/") && !key.StartsWith("memory/");

    public static List<JsonObject> Metrics(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    /// <summary>Every line of metrics.jsonl equal, but for the timings and memory.</summary>
    public static void AssertSameMetrics(string uninterrupted, string resumed)
    {
        var a = Metrics(uninterrupted);
        var b = Metrics(resumed);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
            foreach (var (key, value) in a[i].Where(p => Deterministic(p.Key)))
                Assert.True(JsonNode.DeepEquals(value, b[i][key]), $"line {i + 1}, {key}: {value} uninterrupted, {b[i][key]} resumed");
    }

    /// <summary>Every parameter of the two model directories bit-identical.</summary>
    public static void AssertSameWeights(string uninterrupted, string resumed)
    {
        using var x = ModelDirectory.Load(uninterrupted);
        using var y = ModelDirectory.Load(resumed);
        var yParameters = y.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in x.named_parameters())
            Assert.True(p.eq(yParameters[name]).all().item<bool>(), $"{name} differs after resuming");
    }
}
