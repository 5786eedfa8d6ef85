using System.Text.Json.Nodes;
using GspoSharp.Rollout;
using GspoSharp.Tests.Serving;
using GspoSharp.Training;

namespace GspoSharp.Tests.Rollout;

/// <summary>The trainer sampling from real <c>gspo serve</c> child processes on 127.0.0.1 (free ports),
/// over both protocols, with disk weight sync, server failures and resume.</summary>
public class ServeRolloutTests
{
    /// <summary>Records the run and calls <see cref="After"/> once each RL step is reported.</summary>
    sealed class Progress : ITrainingProgress
    {
        public List<string> Stages { get; } = new();
        public List<string> Warnings { get; } = new();
        public Action<int>? After { get; init; }
        public void Stage(string stage, string description) => Stages.Add($"{stage}: {description}");
        public void SftStep(int step, int total, double loss) { }
        public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed) => After?.Invoke(step);
        public void Evaluated(string label, EvaluationResult result) { }
        public void Warning(string message) => Warnings.Add(message);
    }

    static TrainConfig Config(string model, RolloutApi api, params ServeProcess[] servers) => new()
    {
        Model = model, PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 12, LearningRate = 1e-3,
        MaxSteps = 3, Seed = 3, EvalPrompts = 2, EvalNumSamples = 1, SaveSteps = 1, Report = false,
        RolloutBackend = RolloutBackendKind.Http, RolloutApi = api, WeightSync = WeightSyncMode.Disk,
        RolloutServers = servers.Select(s => s.Url.AbsoluteUri.TrimEnd('/')).ToList(),
    };

    static List<JsonObject> Metrics(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
        .Select(l => JsonNode.Parse(l)!.AsObject()).Where(m => m.ContainsKey("loss")).ToList();

    [Theory]
    [InlineData(RolloutApi.Sglang)]
    [InlineData(RolloutApi.Vllm)]
    public async Task A_run_on_two_servers_completes_with_synced_weights_and_no_mismatch(RolloutApi api)
    {
        using var dir = new TempDirectory();
        string model = ServeTestKit.TinyModel(Path.Combine(dir.Path, "model"));
        using var a = ServeProcess.Start(model);
        using var b = ServeProcess.Start(model);
        string run = Path.Combine(dir.Path, "run");
        var summary = TrainingRun.Execute(Config(model, api, a, b), run, new Progress());
        Assert.Null(summary.Stopped);
        Assert.Equal(3, summary.Steps);
        var metrics = Metrics(run);
        Assert.Equal(3, metrics.Count);
        foreach (var m in metrics)
        {
            int step = m["step"]!.GetValue<int>();
            // Same weights (synced after every step) and dtype: the servers' log-probs are the trainer's to rounding.
            Assert.InRange(m["mismatch/token_abs_diff_mean"]!.GetValue<double>(), 0, 1e-4);
            Assert.InRange(m["mismatch/k3_kl"]!.GetValue<double>(), -1e-6, 1e-6);
            Assert.Equal(0, m["rollout/server_failures"]!.GetValue<double>());
            Assert.Equal(step, m["rollout/weight_version/0"]!.GetValue<double>());
            Assert.Equal(step, m["rollout/weight_version/1"]!.GetValue<double>());
            Assert.True(m["time/weight_sync"]!.GetValue<double>() > 0);
        }

        // Each server now samples from the synced checkpoint: its log-probs of what it samples are gspo score's on it.
        string synced = Path.Combine(run, "weight-sync", "step-000003");
        Assert.True(File.Exists(Path.Combine(synced, "model.safetensors")));
        Assert.Single(Directory.GetDirectories(Path.Combine(run, "weight-sync")));
        long[] prompt = { 5, 9, 13, 2, 40 };
        foreach (var server in new[] { a, b })
        {
            var (status, body, _) = await server.Post("generate", new JsonObject
            {
                ["input_ids"] = ServeTestKit.Ids(prompt), ["return_logprob"] = true,
                ["sampling_params"] = new JsonObject { ["max_new_tokens"] = 6, ["temperature"] = 1.0, ["sampling_seed"] = 11, ["ignore_eos"] = true },
            });
            Assert.Equal(System.Net.HttpStatusCode.OK, status);
            var sample = RolloutProtocol.Parse(RolloutApi.Sglang, body!.ToJsonString());
            var scored = ServeTestKit.Score(dir.Path, synced, new[] { prompt.Concat(sample.TokenIds).ToArray() })[0];
            var expected = scored.Skip(prompt.Length - 1).ToArray();
            Assert.Equal(sample.LogProbs.Length, expected.Length);
            for (int t = 0; t < expected.Length; t++) Assert.Equal(expected[t], sample.LogProbs[t], 1e-4);
        }
    }

    [Fact]
    public void A_killed_server_leaves_the_run_to_the_other_and_the_failure_is_counted_and_reported_once()
    {
        using var dir = new TempDirectory();
        string model = ServeTestKit.TinyModel(Path.Combine(dir.Path, "model"));
        using var a = ServeProcess.Start(model);
        using var b = ServeProcess.Start(model);
        string run = Path.Combine(dir.Path, "run");
        var progress = new Progress { After = step => { if (step == 1) a.Process.Kill(entireProcessTree: true); } };
        var summary = TrainingRun.Execute(Config(model, RolloutApi.Vllm, a, b), run, progress);
        Assert.Null(summary.Stopped);
        Assert.Equal(3, summary.Steps);
        var metrics = Metrics(run);
        Assert.True(metrics[1]["rollout/server_failures"]!.GetValue<double>() >= 1);
        Assert.Equal(1, metrics[2]["rollout/servers_up"]!.GetValue<double>());
        Assert.Single(progress.Warnings, w => w.Contains(a.Url.AbsoluteUri) && w.Contains("failed"));
    }

    [Fact]
    public void With_every_server_down_the_run_checkpoints_and_stops_and_resumes_on_restarted_servers()
    {
        using var dir = new TempDirectory();
        string model = ServeTestKit.TinyModel(Path.Combine(dir.Path, "model"));
        string run = Path.Combine(dir.Path, "run");
        RunSummary stopped;
        using (var a = ServeProcess.Start(model))
        using (var b = ServeProcess.Start(model))
        {
            var progress = new Progress
            {
                After = step =>
                {
                    if (step != 1) return;
                    a.Process.Kill(entireProcessTree: true);
                    b.Process.Kill(entireProcessTree: true);
                },
            };
            stopped = TrainingRun.Execute(Config(model, RolloutApi.Sglang, a, b), run, progress);
            Assert.Contains(progress.Stages, s => s.StartsWith("stop: no rollout server", StringComparison.Ordinal) && s.Contains("gspo train --resume"));
        }
        Assert.Equal("rollout_failed", stopped.Stopped);
        Assert.Equal(1, stopped.Steps);
        Assert.Equal(1, Checkpoints.ReadState(stopped.LastCheckpoint!).Step);
        Assert.Equal("rollout_failed", JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!["stopped"]!.GetValue<string>());

        using var c = ServeProcess.Start(model);
        using var d = ServeProcess.Start(model);
        string servers = $"rollout_servers=[{c.Url.AbsoluteUri.TrimEnd('/')}, {d.Url.AbsoluteUri.TrimEnd('/')}]";
        var resumed = TrainingRun.Resume(run, new Progress(), overrides: new[] { servers });
        Assert.Null(resumed.Stopped);
        Assert.Equal(3, resumed.Steps);
        Assert.Equal(new[] { 1, 2, 3 }, Metrics(run).Select(m => m["step"]!.GetValue<int>()));
    }

    [Fact]
    public void A_bf16_server_shows_a_positive_mismatch()
    {
        using var dir = new TempDirectory();
        string model = ServeTestKit.TinyModel(Path.Combine(dir.Path, "model"));
        using var server = ServeProcess.Start(model, null, "--dtype", "bfloat16");
        string run = Path.Combine(dir.Path, "run");
        var summary = TrainingRun.Execute(Config(model, RolloutApi.Sglang, server) with { MaxSteps = 1 }, run, new Progress());
        Assert.Null(summary.Stopped);
        var m = Assert.Single(Metrics(run));
        Assert.True(m["mismatch/token_abs_diff_mean"]!.GetValue<double>() > 1e-4, m.ToJsonString());
        Assert.True(m["mismatch/k3_kl"]!.GetValue<double>() > 0, m.ToJsonString());
    }
}
