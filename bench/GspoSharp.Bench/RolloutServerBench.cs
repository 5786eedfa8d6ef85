using System.Diagnostics;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Training;

namespace GspoSharp.Bench;

/// <summary>
/// One RL step sampled in process, on one <c>gspo serve</c> process and on two (child processes on
/// 127.0.0.1, disk weight sync after every step), on the demo task with the tiny model: the step's
/// time split into rollout (for servers: the HTTP round trips included), old-log-prob pass, update
/// and weight sync (writing the checkpoint and every server loading it), and the shares of the step
/// the rollout and the sync take. On a 2-core machine the servers compete with the trainer for the
/// same cores, so no speed-up is expected: the figures measure the overhead.
/// </summary>
internal static class RolloutServerBench
{
    public static void Run(bool quick)
    {
        int steps = quick ? 3 : 6;
        string dir = Path.Combine(Path.GetTempPath(), $"gspo-bench-{Guid.NewGuid():N}");
        var servers = new List<(Process Process, string Url)>();
        try
        {
            string model = Path.Combine(dir, "model");
            TinyModels.Create(model, ModelType.Qwen3, ModelSize.Tiny, seed: 1);
            var config = new TrainConfig
            {
                Model = model, PromptsPerStep = 8, NumGenerations = 8, MaxCompletionLength = 32, LearningRate = 5e-5, MaxSteps = steps,
                EvalPrompts = 1, EvalNumSamples = 1, SaveSteps = 0, Report = false, WeightSync = WeightSyncMode.Disk, RolloutApi = RolloutApi.Sglang,
            };
            Console.WriteLine($"\n## Rollout servers: one RL step (tiny qwen3, 8×8, ≤32 tokens; mean of steps 2–{steps})");
            Console.WriteLine("| backend | step s | rollout s | old log-probs s | update s | weight sync s | rollout share | sync share |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (int count in new[] { 0, 1, 2 })
            {
                while (servers.Count < count) servers.Add(StartServer(model));
                var urls = servers.Select(s => s.Url).ToList();
                var run = Path.Combine(dir, $"run-{count}");
                TrainingRun.Execute(count == 0 ? config : config with { RolloutBackend = RolloutBackendKind.Http, RolloutServers = urls }, run, TrainingProgress.None);
                var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject())
                    .Where(m => m.ContainsKey("loss") && m["step"]!.GetValue<int>() > 1).ToList();
                double Mean(string key) => lines.Average(m => m[key]?.GetValue<double>() ?? 0);
                double step = Mean("time/step"), rollout = Mean("time/generation"), sync = Mean("time/weight_sync");
                string name = count == 0 ? "in process" : $"{count} gspo serve";
                Console.WriteLine($"| {name} | {step:F2} | {rollout:F2} | {Mean("time/old_logprobs"):F2} | {Mean("time/update"):F2} | {sync:F3} | {rollout / step:P0} | {sync / step:P0} |");
            }
        }
        finally
        {
            foreach (var (server, _) in servers)
            {
                if (!server.HasExited) server.Kill(entireProcessTree: true);
                server.WaitForExit();
            }
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>gspo serve on a free loopback port; its address is the first line it prints.</summary>
    static (Process, string) StartServer(string model)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "gspo.dll"), "serve", "--model", model, "--port", "0" }) start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        string line = process.StandardOutput.ReadLine() ?? throw new InvalidOperationException("gspo serve did not start: " + process.StandardError.ReadToEnd());
        string url = line[line.IndexOf("http://", StringComparison.Ordinal)..].Split(',')[0].Trim().TrimEnd('/');
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return (process, url);
    }
}
