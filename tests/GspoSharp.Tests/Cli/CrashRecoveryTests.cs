using System.Text.Json.Nodes;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Training;

namespace GspoSharp.Tests.Cli;

/// <summary>
/// gspo train killed with SIGKILL at the worst moments — chosen with the test-only
/// GSPO_TEST_CRASH_AT hook, so every case is deterministic — and resumed: each resume starts
/// from the newest complete checkpoint and the run ends bit-identical to an uninterrupted one.
/// The long randomized campaign is tools/GspoSharp.Reliability (crash).
/// </summary>
public class CrashRecoveryTests(CrashRecoveryTests.Uninterrupted reference) : IClassFixture<CrashRecoveryTests.Uninterrupted>
{
    const string Config = """
        task: arithmetic
        init_size: tiny
        sft_steps: 0
        prompts_per_step: 2
        num_generations: 4
        steps_per_generation: 2
        max_completion_length: 16
        learning_rate: 1.0e-3
        eval_prompts: 2
        eval_num_samples: 1
        max_steps: 4
        save_steps: 2
        save_total_limit: 1
        """;

    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>The run nothing interrupted: what every killed and resumed run must end as.</summary>
    public sealed class Uninterrupted : IDisposable
    {
        public TempDirectory Directory { get; } = new();
        public string ConfigPath { get; }
        public string Run { get; }

        public Uninterrupted()
        {
            ConfigPath = Path.Combine(Directory.Path, "run.yaml");
            File.WriteAllText(ConfigPath, Config);
            Run = Path.Combine(Directory.Path, "uninterrupted");
            var result = GspoProcess.RunIn(Directory.Path, new Dictionary<string, string>(), Timeout, "train", "--config", ConfigPath, "--run-dir", Run);
            Assert.True(result.ExitCode == 0, result.Stderr);
        }

        public void Dispose() => Directory.Dispose();
    }

    /// <summary>Starts the run (or resumes it when it exists) with the process set to SIGKILL itself at <paramref name="crashAt"/>.</summary>
    GspoProcess.Result Invoke(string run, string? crashAt)
    {
        var environment = crashAt is null ? new Dictionary<string, string>() : new Dictionary<string, string> { ["GSPO_TEST_CRASH_AT"] = crashAt };
        string[] args = File.Exists(Path.Combine(run, "config.yaml"))
            ? ["train", "--resume", run]
            : ["train", "--config", reference.ConfigPath, "--run-dir", run];
        return GspoProcess.RunIn(Path.GetDirectoryName(run)!, environment, Timeout, args);
    }

    /// <summary>Kills at each point in turn, checking what a kill leaves, then resumes to the end.</summary>
    void KillAtThenFinish(string run, params string[] crashPoints)
    {
        foreach (string point in crashPoints)
        {
            int? newest = new Checkpoints(run).Latest?.Step;
            bool started = File.Exists(Path.Combine(run, "config.yaml"));
            var killed = Invoke(run, point);
            Assert.True(killed.ExitCode == 137, $"{point}: expected SIGKILL (exit code 137), got {killed.ExitCode}: {killed.Stderr}");
            if (newest is { } n && File.Exists(Path.Combine(run, "config.yaml")) && killed.Stdout.Contains("[model] resuming"))
                Assert.Contains($"resuming from checkpoint-{n:D6}", killed.Stdout);
            if (started) Assert.True(File.Exists(Path.Combine(run, "config.yaml")), $"{point}: config.yaml is gone; the run can no longer be resumed");
            AssertEveryCheckpointComplete(run);
        }
        int? latest = new Checkpoints(run).Latest?.Step;
        bool resume = File.Exists(Path.Combine(run, "config.yaml"));   // else killed before it: the command is run again
        var resumed = Invoke(run, null);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr + resumed.Stdout);
        if (resume) Assert.Contains(latest is { } step ? $"resuming from checkpoint-{step:D6} (step {step})" : "no complete checkpoint", resumed.Stdout);
        AssertSameAsUninterrupted(run);
    }

    static void AssertEveryCheckpointComplete(string run)
    {
        foreach (var (step, path) in new Checkpoints(run).List())
        {
            Assert.Equal(step, Checkpoints.ReadState(path).Step);
            Assert.True(File.Exists(Path.Combine(path, "optimizer.bin")), $"{path}: optimizer.bin missing");
            using var weights = HfSafetensorsCheckpoint.Open(Path.Combine(path, "model"));
            Assert.NotEmpty(weights.Entries);
        }
    }

    void AssertSameAsUninterrupted(string run)
    {
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference.Run, "final-model", "model.safetensors")),
            File.ReadAllBytes(Path.Combine(run, "final-model", "model.safetensors")));
        var expected = Metrics(reference.Run);
        var actual = Metrics(run);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            foreach (var (key, value) in expected[i].Where(p => !p.Key.StartsWith("time/") && !p.Key.StartsWith("tokens_per_second/") && !p.Key.StartsWith("memory/")))
                Assert.True(JsonNode.DeepEquals(value, actual[i][key]), $"metrics line {i + 1}, {key}: {value} uninterrupted, {actual[i][key]} resumed");
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!;
        Assert.Null(summary["stopped"]);
        Assert.Equal(4, summary["steps"]!.GetValue<int>());
        Assert.True(File.Exists(Path.Combine(run, "report.md")));
        // Nothing half-written is left: no temporaries, staging or replaced directories.
        Assert.Empty(Directory.EnumerateFileSystemEntries(run, ".*"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(run, "checkpoints"), ".*"));
    }

    static List<JsonObject> Metrics(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();

    string NewRun() => Path.Combine(reference.Directory.Path, "run-" + Guid.NewGuid().ToString("N")[..8]);

    [Theory]
    [InlineData("checkpoint-write:2")]            // the second checkpoint half-staged: resume from the first
    [InlineData("checkpoint-rename:2")]           // staged completely, not yet renamed into place
    [InlineData("checkpoint-retire:1")]           // the first checkpoint renamed aside for deletion (save_total_limit 1)
    [InlineData("metrics-append:3")]              // a torn metrics line after the first checkpoint
    [InlineData("file-write@summary.json:1")]     // every step trained and checkpointed; summary.json not yet written
    [InlineData("file-rename@report.md:1")]       // the report complete but not in place
    [InlineData("file-rename@config.yaml:1")]     // before the run exists: the command is run again and clears the temporary
    public void A_run_killed_at_a_write_resumes_from_its_newest_checkpoint_and_ends_identical(string crashAt) =>
        KillAtThenFinish(NewRun(), crashAt);

    [Fact]
    public void A_resume_killed_while_replacing_the_final_model_resumes_again()
    {
        // Killed after the final model was saved, then again while the finishing resume swaps in
        // the model it saved anew: between the two renames no final-model exists at all.
        KillAtThenFinish(NewRun(), "file-write@summary.json:1", "model-swap:1");
    }

    [Fact]
    public void A_run_restarted_for_want_of_a_checkpoint_keeps_its_config_when_killed_again()
    {
        // No checkpoint yet: --resume starts the run again from config.yaml. Killed as it
        // rewrites config.yaml, the run must still be resumable.
        KillAtThenFinish(NewRun(), "checkpoint-write:1", "file-write@config.yaml:1");
    }
}
