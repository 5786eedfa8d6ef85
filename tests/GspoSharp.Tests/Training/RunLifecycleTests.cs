using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>Checkpoints, exact resume, interrupted writers, divergence, TensorBoard files, reports.</summary>
public class RunLifecycleTests
{
    static TrainConfig Quick(string arch = "qwen3") => new()
    {
        Task = "arithmetic", InitArch = arch, InitSize = "tiny", SftSteps = 2, SftBatchSize = 4, PromptsPerStep = 2, NumGenerations = 4,
        StepsPerGeneration = 2, MaxCompletionLength = 16, LearningRate = 1e-3, MaxSteps = 6, SaveSteps = 3, EvalPrompts = 4,
        EvalNumSamples = 2, Seed = 9, RewardFuncs = new[] { "accuracy", "format" }, RewardWeights = new[] { 1.0, 0.5 },
    };

    [Theory]
    [InlineData("qwen3")]
    [InlineData("qwen3_moe")]
    public void A_run_stopped_and_resumed_produces_the_same_steps_as_an_uninterrupted_run(string arch)
    {
        using var dir = new TempDirectory();
        var config = Quick(arch) with { RoutingReplay = arch == "qwen3_moe" };
        string straight = Path.Combine(dir.Path, "straight"), stopped = Path.Combine(dir.Path, "stopped");
        TrainingRun.Execute(config, straight, new QuietProgress());

        var progress = new QuietProgress(stopAfterStep: 2);
        var first = TrainingRun.Execute(config, stopped, progress, progress.StopRequested);
        Assert.Equal("interrupted", first.Stopped);
        Assert.Equal(2, first.Steps);
        Assert.EndsWith("checkpoint-000002", first.LastCheckpoint);
        var resumed = TrainingRun.Resume(stopped, new QuietProgress());
        Assert.Null(resumed.Stopped);

        RunComparison.AssertSameMetrics(straight, stopped);
        RunComparison.AssertSameWeights(Path.Combine(straight, "final-model"), Path.Combine(stopped, "final-model"));
    }

    [Fact]
    public void Checkpoints_are_complete_or_absent_and_only_the_newest_are_kept()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        TrainingRun.Execute(Quick() with { SaveSteps = 1, SaveTotalLimit = 2 }, run, new QuietProgress());
        var store = new Checkpoints(run);
        Assert.Equal(new[] { 5, 6 }, store.List().Select(c => c.Step));
        foreach (var (_, path) in store.List())
            foreach (var file in new[] { "model/config.json", "model/model.safetensors", "model/tokenizer.json", "optimizer.bin", "trainer_state.json", "config.yaml" })
                Assert.True(File.Exists(Path.Combine(path, file)), $"{path}: {file}");
        var state = Checkpoints.ReadState(store.Latest!.Value.Path);
        Assert.Equal(6, state.Step);
        Assert.Equal(12, state.OptimizerSteps);
        Assert.Equal(12, state.PromptsConsumed);
    }

    [Fact]
    public void A_writer_interrupted_mid_checkpoint_leaves_the_previous_one_loadable_and_the_run_resumable()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var progress = new QuietProgress(stopAfterStep: 3);
        TrainingRun.Execute(Quick(), run, progress, progress.StopRequested);

        // A process killed while writing leaves a staging directory with part of a checkpoint.
        string partial = Path.Combine(run, "checkpoints", ".checkpoint-000004.partial-0123");
        Directory.CreateDirectory(Path.Combine(partial, "model"));
        File.WriteAllText(Path.Combine(partial, "model", "config.json"), "{\"trunc");
        Assert.Equal(3, new Checkpoints(run).Latest!.Value.Step);

        // And an in-process failure just before the rename publishes nothing.
        using (var policy = LanguageModel.Load(Path.Combine(run, "checkpoints", "checkpoint-000003", "model"), chatTemplate: false))
        using (var trainer = new GspoTrainer(Quick(), policy, Tasks.Dataset.FromTask(Tasks.SyntheticTask.Get("arithmetic"), Tasks.TaskSplit.Train, 9),
                   new Rewards.RewardModel(new[] { new Rewards.WeightedReward(new Rewards.AccuracyReward(), 1) })))
        {
            var failing = new Checkpoints(run) { BeforePublish = _ => throw new IOException("disk full") };
            Assert.Throws<IOException>(() => failing.Save(trainer, policy, new TrainerState(4, 8, 9, 8, 0, "sft-model", 0), Quick(), run, 2, ScalarType.Float32));
        }
        Assert.Equal(new[] { 3 }, new Checkpoints(run).List().Select(c => c.Step));
        Assert.Empty(Directory.GetDirectories(Path.Combine(run, "checkpoints"), ".*"));

        var resumed = TrainingRun.Resume(run, new QuietProgress());
        Assert.Equal(6, resumed.Steps);
        Assert.NotNull(resumed.AccuracyAfter);
    }

    [Fact]
    public void A_resume_drops_a_torn_metrics_line_and_counts_the_wall_clock_of_every_invocation()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var progress = new QuietProgress(stopAfterStep: 2);
        TrainingRun.Execute(Quick(), run, progress, progress.StopRequested);
        // The process died while appending the line of step 3.
        File.AppendAllText(Path.Combine(run, "metrics.jsonl"), "{\"step\": 3, \"rew");
        double before = Checkpoints.ReadState(new Checkpoints(run).Latest!.Value.Path).WallSeconds;
        Assert.True(before > 0);

        var resumed = TrainingRun.Resume(run, new QuietProgress());
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6, 6 }, RunComparison.Metrics(run).Select(m => m["step"]!.GetValue<int>()));
        Assert.True(resumed.WallSeconds > before, $"{resumed.WallSeconds} s in all, {before} s before the resume");
    }

    [Fact]
    public void A_run_stopped_during_the_warm_start_has_nothing_to_resume_and_resume_starts_it_again()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var stopAtOnce = new QuietProgress(stopAfterStep: 0);
        var stopped = TrainingRun.Execute(Quick() with { SftSteps = 50 }, run, stopAtOnce, stopAtOnce.StopRequested);
        Assert.Equal(("interrupted", 0, null), (stopped.Stopped, stopped.Steps, stopped.LastCheckpoint));
        Assert.Contains(stopAtOnce.Stages, s => s.Contains("stopped during the supervised warm start"));
        Assert.Throws<IOException>(() => TrainingRun.Execute(Quick(), run, new QuietProgress()));   // still a run: not overwritten

        var progress = new QuietProgress();
        var resumed = TrainingRun.Resume(run, progress);
        Assert.Contains(progress.Warnings, w => w.Contains("no complete checkpoint"));
        Assert.Equal((6, (string?)null), (resumed.Steps, resumed.Stopped));
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6, 6 }, RunComparison.Metrics(run).Select(m => m["step"]!.GetValue<int>()));
    }

    [Fact]
    public void Resuming_refuses_a_changed_config_but_max_steps_may_grow()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        TrainingRun.Execute(Quick() with { MaxSteps = 3 }, run, new QuietProgress());
        Assert.Contains("only max_steps and the rollout servers",
            Assert.Throws<ArgumentException>(() => TrainingRun.Resume(run, new QuietProgress(), overrides: new[] { "learning_rate=1" })).Message);
        Assert.Contains("raise max_steps", Assert.Throws<ArgumentException>(() => TrainingRun.Resume(run, new QuietProgress())).Message);
        var longer = TrainingRun.Resume(run, new QuietProgress(), overrides: new[] { "max_steps=5" });
        Assert.Equal(5, longer.Steps);
        // The first invocation's final evaluation stays, at step 3.
        Assert.Equal(new[] { 1, 2, 3, 3, 4, 5, 5 }, RunComparison.Metrics(run).Select(m => m["step"]!.GetValue<int>()));
    }

    [Fact]
    public void Nan_updates_are_skipped_counted_and_stop_the_run_after_the_limit()
    {
        using var dir = new TempDirectory();
        string model = Path.Combine(dir.Path, "broken");
        TinyModels.Create(model, ModelType.Qwen3, ModelSize.Tiny, seed: 2);
        using (var lm = ModelDirectory.Load(model))
        {
            using (torch.no_grad()) lm.named_parameters().First(p => p.name == "model.norm.weight").parameter[3] = float.NaN;
            ModelDirectory.Save(lm, model, companionsFrom: model, overwrite: true);
        }
        string run = Path.Combine(dir.Path, "run");
        var progress = new QuietProgress();
        var summary = TrainingRun.Execute(Quick() with { Model = model, SftSteps = 0, MaxConsecutiveBadSteps = 2 }, run, progress);

        Assert.Equal("diverged", summary.Stopped);
        Assert.Equal(2, summary.Steps);
        Assert.Null(summary.LastCheckpoint);   // nothing after a bad step is saved over a good checkpoint
        Assert.All(RunComparison.Metrics(run), m => Assert.Equal(2, m["skipped_updates"]!.GetValue<double>()));
        Assert.Contains(progress.Stages, s => s.Contains("NaN or infinite loss or gradients"));
        Assert.Equal("diverged", JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["stopped"]!.GetValue<string>());
    }

    [Fact]
    public void Tensorboard_event_files_hold_every_metric_and_a_report_is_written()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        TrainingRun.Execute(Quick() with { MaxSteps = 3 }, run, new QuietProgress());

        var events = TensorBoardEvents.Read(Directory.GetFiles(Path.Combine(run, "tensorboard"), "events.out.tfevents.*").Single());
        var rewards = events.Where(e => e.Tag == "reward").ToList();
        Assert.Equal(new long[] { 1, 2, 3 }, rewards.Select(e => e.Step));
        var logged = RunComparison.Metrics(run).Where(m => m["step"]!.GetValue<int>() <= 3 && m.ContainsKey("reward")).ToList();
        for (int i = 0; i < 3; i++) Assert.Equal((float)logged[i]["reward"]!.GetValue<double>(), rewards[i].Value);
        foreach (var key in new[] { "clip_ratio/region_mean", "completions/mean_length", "approx_kl", "grad_norm", "eval/accuracy" })
            Assert.Contains(events, e => e.Tag == key);

        string report = File.ReadAllText(Path.Combine(run, "report.md"));
        foreach (var png in new[] { "reward.png", "accuracy.png", "clipping.png", "length.png", "kl.png" })
        {
            Assert.Contains($"]({png})", report);
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(run, png)).Take(4));
        }
        Assert.DoesNotContain("volatility.png", report);   // a dense model has no routing
        Assert.Contains("## Config", report);
    }
}
