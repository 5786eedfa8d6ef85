using GspoSharp.Experiments;
using GspoSharp.Reports;

namespace GspoSharp.Tests.Experiments;

/// <summary>The aggregate report's columns on hand-made run directories, against values worked out by hand.</summary>
public class ExperimentReportTests
{
    const string Matrix = """
        name: report
        seeds: [1, 2, 3]
        base: { task: arithmetic, init_size: tiny, max_steps: 2 }
        models: { dense: { init_arch: qwen3 } }
        arms: { grpo: { importance_sampling_level: token } }
        """;

    static void Run(string output, int seed, double before, double? after, string stopped, params string[] metricLines)
    {
        string directory = Path.Combine(output, "runs", "dense", "grpo", $"seed-{seed}");
        Directory.CreateDirectory(directory);
        File.WriteAllLines(Path.Combine(directory, "metrics.jsonl"), metricLines);
        File.WriteAllText(Path.Combine(directory, "summary.json"),
            $"{{\"accuracy_before\": {before}, \"accuracy_after\": {(after is { } a ? a.ToString(System.Globalization.CultureInfo.InvariantCulture) : "null")}, \"stopped\": {stopped}}}");
    }

    [Fact]
    public void The_table_gives_rl_minutes_and_mismatch_and_the_accuracy_of_every_evaluation()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "m.yaml"), Matrix);
        var plan = ExperimentMatrix.Load(Path.Combine(dir.Path, "m.yaml"));
        string output = Path.Combine(dir.Path, "out");
        // RL minutes 120 s, 240 s, 60 s = 2, 4, 1: mean 7/3, sample std √(7/3) = 1.528.
        // Mismatch, each run's mean of mismatch/k3_kl: 0.002, 0.005, 0.0005: mean 0.0025, std √(1.05e-5 / 2) = 0.00229.
        Run(output, 1, 0.5, 0.6, "null",
            """{"step": 1, "time/step": 30, "mismatch/k3_kl": 0.001}""",
            """{"step": 2, "time/step": 90, "mismatch/k3_kl": 0.003}""",
            """{"step": 2, "eval/accuracy": 0.6}""");
        Run(output, 2, 0.4, 0.8, "null",
            """{"step": 1, "time/step": 90, "mismatch/k3_kl": 0.004}""",
            """{"step": 2, "time/step": 150, "mismatch/k3_kl": 0.006}""",
            """{"step": 2, "eval/accuracy": 0.8}""");
        Run(output, 3, 0.3, null, "\"interrupted\"",   // stopped before its step-2 evaluation
            """{"step": 1, "time/step": 60, "mismatch/k3_kl": 0.0005}""");

        string results = File.ReadAllText(ExperimentReport.Write(plan, ExperimentReport.Collect(plan, output), output));

        Assert.Contains("| steps to target | RL minutes | clipped tokens | clipped responses | mismatch KL | volatility | collapsed |", results);
        Assert.Contains("| grpo | 3 | 0.400 ± 0.100 | 0.700 ± 0.141 | ", results);
        Assert.Contains(" | 2.3 ± 1.5 | ", results);
        Assert.Contains(" | 0.0025 ± 0.0023 | — | ", results);   // no volatility: a dense model
        // Step 0 is the accuracy before RL (0.5, 0.4, 0.3); step 2 was reached by two runs (0.6, 0.8).
        Assert.Contains("| arm | step 0 | step 2 |", results);
        Assert.Contains("| grpo | 0.40 ± 0.10 | 0.70 ± 0.14 (n=2) |", results);
        Assert.True(File.Exists(Path.Combine(output, "dense-mismatch.png")));
        Assert.False(File.Exists(Path.Combine(output, "dense-entropy.png")));   // no run logged entropy
    }
}
