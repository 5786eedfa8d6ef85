using System.Text.Json.Nodes;
using GspoSharp.Cli.Commands;
using GspoSharp.Rollout;
using GspoSharp.Tests.Serving;
using GspoSharp.Training;
using Xunit.Abstractions;

namespace GspoSharp.Tests.Rollout;

/// <summary>
/// GSPO on the built-in demo task, sampling on two real <c>gspo serve</c> child processes (127.0.0.1,
/// free ports) with disk weight sync, learns as the same run in process does.
/// </summary>
public class ServeLearningTests(ITestOutputHelper output)
{
    /// <summary>
    /// The demo recipe (tiny Qwen3, 800-step SFT warm start on deliberately imperfect demonstrations,
    /// 16 prompts × 8 samples of ≤ 64 tokens, GSPO with the paper's clip range, 4 mini-batches) cut to
    /// what fits a test: 40 RL steps instead of 500, at learning rate 3e-4 instead of 1e-4 (the best of
    /// 1e-4, 2e-4, 3e-4 and 5e-4 after 40 steps), held-out accuracy over 2 samples of its 200 prompts
    /// instead of 4. The warm start is kept whole: after 400 or 600 steps the model starts lower and did
    /// not improve within 20–40 RL steps. With the test host's one LibTorch thread it goes from 0.545 to 0.698
    /// in process and to 0.680 on the servers, the same on every run (docs/rollout-servers.md).
    /// </summary>
    static TrainConfig ShortDemo()
    {
        var demo = ConfigFile.Apply(new TrainConfig(), TrainCommand.DemoRecipe(), "built-in demo recipe");
        return demo with { MaxSteps = 40, LearningRate = 3e-4, EvalNumSamples = 2, SaveSteps = 40, Report = false };
    }

    static List<JsonObject> Metrics(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
        .Select(l => JsonNode.Parse(l)!.AsObject()).Where(m => m.ContainsKey("loss")).ToList();

    [Fact]
    public void The_short_demo_learns_on_two_servers_as_it_does_in_process()
    {
        using var dir = new TempDirectory();
        var config = ShortDemo();

        // In process, warm start included: its sft-model is where both runs start RL from.
        string localRun = Path.Combine(dir.Path, "local");
        var local = TrainingRun.Execute(config, localRun, TrainingProgress.None);
        Assert.Null(local.Stopped);
        string warm = Path.Combine(localRun, "sft-model");

        RunSummary remote;
        string remoteRun = Path.Combine(dir.Path, "remote");
        var warnings = new Warnings();
        using (var a = ServeProcess.Start(warm))
        using (var b = ServeProcess.Start(warm))
        {
            remote = TrainingRun.Execute(config with
            {
                Model = warm, SftSteps = 0,
                RolloutBackend = RolloutBackendKind.Http, RolloutApi = RolloutApi.Sglang, WeightSync = WeightSyncMode.Disk,
                RolloutServers = new[] { a, b }.Select(s => s.Url.AbsoluteUri.TrimEnd('/')).ToList(),
            }, remoteRun, warnings);
        }
        foreach (var warning in warnings.Said) output.WriteLine($"warning: {warning}");
        Assert.Null(remote.Stopped);
        Assert.Equal(config.MaxSteps, remote.Steps);

        // Both runs start RL from the same weights, evaluated in process: the same accuracy, exactly.
        Assert.Equal(local.AccuracyBefore, remote.AccuracyBefore);
        // Every step sampled on both servers, from that step's weights.
        var metrics = Metrics(remoteRun);
        Assert.Equal(config.MaxSteps, metrics.Count);
        // No server may fail: a failure is a fault of gspo serve, and the run's warnings give its reason.
        foreach (var m in metrics)
        {
            int step = m["step"]!.GetValue<int>();
            Assert.True(m["rollout/server_failures"]!.GetValue<double>() == 0, $"step {step}: a server failed: {string.Join(" | ", warnings.Said)}");
            Assert.Equal(step, m["rollout/weight_version/0"]!.GetValue<double>());
            Assert.Equal(step, m["rollout/weight_version/1"]!.GetValue<double>());
        }

        // Learned: +0.153 in process and +0.135 on the servers on a quiet machine; with seeds 1 and 2 instead of the demo's
        // 42 (other prompts, other draws) +0.090 … +0.112: a mean near 0.12 with a spread of ~0.025 between draws. The
        // servers batch requests as they arrive, and on a loaded machine another batch composition can round one near-tie
        // draw the other way, after which the run is another draw. 0.04 (16 of the 400 held-out samples), over three
        // spreads below the mean, is asserted, so that no draw fails it.
        double before = local.AccuracyBefore!.Value, localAfter = local.AccuracyAfter!.Value, remoteAfter = remote.AccuracyAfter!.Value;
        output.WriteLine($"before {before:F3}; after: in process {localAfter:F3} ({local.WallSeconds:F1} s), on servers {remoteAfter:F3} ({remote.WallSeconds:F1} s)");
        Assert.True(localAfter - before >= 0.04, $"in process: {before:F3} → {localAfter:F3}");
        Assert.True(remoteAfter - before >= 0.04, $"on servers: {before:F3} → {remoteAfter:F3}");
        // As in process. The servers draw other random streams than the in-process engine (a request carries one 31-bit
        // seed), so the two runs are two draws of the same run, not the same tokens: final accuracies differed by 0.017 …
        // 0.020 over seeds 42, 1 and 2, while the gain itself ranged over 0.09 … 0.15 between seeds. The difference of two
        // independent draws spreads by ~0.035; 0.12 is over three times that.
        Assert.True(Math.Abs(remoteAfter - localAfter) <= 0.12, $"final accuracy in process {localAfter:F3}, on servers {remoteAfter:F3}");
    }

    /// <summary>Keeps the run's warnings (a server's failure and its reason among them).</summary>
    sealed class Warnings : ITrainingProgress
    {
        public List<string> Said { get; } = new();
        public void Stage(string stage, string description) { }
        public void SftStep(int step, int total, double loss) { }
        public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed) { }
        public void Evaluated(string label, EvaluationResult result) { }
        public void Warning(string message) { lock (Said) Said.Add(message); }
    }
}
