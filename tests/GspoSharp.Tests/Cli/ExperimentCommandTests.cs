namespace GspoSharp.Tests.Cli;

/// <summary>The study matrix in miniature (experiments/smoke.yaml): every arm, both models, two steps each.</summary>
public class ExperimentCommandTests
{
    [Fact]
    public void The_smoke_matrix_runs_every_arm_reports_and_is_not_redone()
    {
        using var dir = new TempDirectory();
        string matrix = Path.Combine(Repository.Root, "experiments", "smoke.yaml"), output = Path.Combine(dir.Path, "out");
        var first = GspoProcess.RunIn(dir.Path, "experiment", "--matrix", matrix, "--out", output);
        Assert.True(first.ExitCode == 0, first.Stderr + first.Stdout);

        string results = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains("12 runs of 12 planned", results);
        Assert.Contains("| volatility | collapsed | degraded | marked |", results);
        foreach (var arm in new[] { "gspo", "gspo-token", "grpo", "grpo-eps0.2", "gspo-tuned", "grpo-rr", "gspo-rr" })
            Assert.Contains($"| {arm} | 1 |", results);
        foreach (var png in new[] { "dense-accuracy.png", "dense-accuracy-time.png", "dense-clip-tokens.png", "moe-volatility.png", "moe-reward.png" })
            Assert.True(File.Exists(Path.Combine(output, png)), png);
        Assert.DoesNotContain("dense-volatility.png", results);
        // Every arm of a model started from the same warm-started weights.
        Assert.True(File.Exists(Path.Combine(output, "warm-start", "moe", "model.safetensors")));

        var again = GspoProcess.RunIn(dir.Path, "experiment", "--matrix", matrix, "--out", output);
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Equal(12, again.Stdout.Split('\n').Count(l => l.Contains(": done")));
        Assert.DoesNotContain("starting", again.Stdout);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("\"diverged\"", true)]   // it would diverge again: the report marks it instead
    [InlineData("\"interrupted\"", false)]
    public void A_completed_or_diverged_run_is_finished_and_an_interrupted_one_is_not(string? stopped, bool finished)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "summary.json"), $"{{\"steps\": 3, \"stopped\": {stopped ?? "null"}}}");
        Assert.Equal(finished, GspoSharp.Experiments.ExperimentRunner.IsFinished(dir.Path));
        Assert.False(GspoSharp.Experiments.ExperimentRunner.IsFinished(Path.Combine(dir.Path, "never-started")));
    }

    [Theory]
    [InlineData("name: x\nseeds: [1]\nbase: {task: arithmetic}\nmodels: {dense: {init_arch: qwen3}}\narms: {a: {num_generations: 1}}\n", "run dense/a/seed-1: num_generations: is 1")]
    [InlineData("name: x\nseeds: [1]\nbase: {task: arithmetic, learning_rat: 1}\nmodels: {dense: {}}\narms: {a: {}}\n", "unknown key 'learning_rat' (did you mean 'learning_rate'?)")]
    [InlineData("name: x\nseeds: [1]\nbase: {task: arithmetic}\nmodels: {dense: {}}\narms: {a: {models: [moe]}}\n", "arm a names model 'moe', which models does not define")]
    [InlineData("name: x\nseed: [1]\n", "unknown key 'seed'")]
    public void Bad_matrices_are_refused_before_anything_runs(string matrix, string message)
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "m.yaml"), matrix);
        var result = GspoProcess.RunIn(dir.Path, "experiment", "--matrix", "m.yaml", "--out", "out");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "out")));
    }
}
