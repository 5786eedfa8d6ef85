using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rewards;
using GspoSharp.Rollout;
using GspoSharp.Tasks;
using GspoSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// GspoSharp against PyTorch eager (bench/peer/peer.py), side by side in one run: the same
/// checkpoint directory, the same shapes, the same thread counts. For each model the peer first
/// scores sequences and compares its log-probs with GspoSharp's; it refuses to time if they
/// differ. Each figure is the best of a few runs after a warm-up run; the speed-up is PyTorch's
/// time over GspoSharp's (above 1: GspoSharp is faster).
/// </summary>
internal static class PeerBench
{
    const int Repeats = 2;

    /// <summary>A Qwen3-0.6B-shaped config (its published sizes), random weights.</summary>
    static ModelConfig Qwen3Shaped06B()
    {
        var json = TinyConfigs.Create(ModelType.Qwen3, ModelSize.Tiny, 151936).ToJson();
        json["hidden_size"] = 1024;
        json["intermediate_size"] = 3072;
        json["num_hidden_layers"] = 28;
        json["num_attention_heads"] = 16;
        json["num_key_value_heads"] = 8;
        json["head_dim"] = 128;
        json["max_position_embeddings"] = 40960;
        json["rope_theta"] = 1000000.0;
        return ModelConfig.FromJson(json, "Qwen3-0.6B-shaped config");
    }

    public static void Run(bool quick)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "peer.py");
        string? python = PeerMatmul.FindPythonWithTorch();
        if (python is null)
        {
            Console.WriteLine("peer (PyTorch eager): skipped — no python3 that can import torch was found (bench/README.md)");
            return;
        }
        int threads = get_num_threads();
        // Each side runs every row with one thread and with the default count and keeps its best: per-operation
        // overhead favours one thread on small models, arithmetic favours more on large ones, and where the
        // crossover lies differs between the two stacks and between machines.
        int[] threadCounts = new[] { 1, threads }.Distinct().ToArray();
        Console.WriteLine($"GspoSharp against PyTorch eager ({python}); speed-up = PyTorch time ÷ GspoSharp time; " +
                          $"each side's best of {string.Join(" and ", threadCounts)} thread(s), shown as ours/peer");
        Console.WriteLine("every measurement runs in a process of its own, so no model outlives its row");
        var clock = Stopwatch.StartNew();
        string root = Path.Combine(Path.GetTempPath(), $"gspo-peer-{Guid.NewGuid():N}");
        try
        {
            // Parity of all four architectures before any timing.
            foreach (var type in new[] { ModelType.Qwen3, ModelType.Qwen3Moe, ModelType.Qwen2, ModelType.Llama })
            {
                string dir = Path.Combine(root, ModelConfig.Name(type));
                TinyModels.Create(dir, type, ModelSize.Tiny, seed: 1);
                var peer = Peer(python, script, dir, threads, "--workload", "check");
                if (peer is null) return;
            }

            string tiny = Path.Combine(root, "tiny"), m30 = Path.Combine(root, "30m"), big = Path.Combine(root, "0.6b");
            TinyModels.Create(tiny, ModelType.Qwen3, ModelSize.Tiny, seed: 1);
            TinyModels.Create(m30, ModelType.Qwen3, ModelSize.Bench50M, seed: 1);   // the tiny tokenizer's 512 tokens: ~32 M parameters
            var rows = new List<(string Name, string Dir, string Workload, int Batch, int Prompt, int New)>
            {
                ("rollout, tiny, 64 × 128 new tokens", tiny, "rollout", 64, 16, 128),
                ("rollout, 30M-class, 64 × 128 new tokens", m30, "rollout", 64, 16, 128),
                ("update, tiny, 64 × 64 tokens", tiny, "update", 64, 64, 0),
                ("update, 30M-class, 8 × 128 tokens", m30, "update", 8, 128, 0),
            };
            if (!quick)
            {
                try
                {
                    using (var lm = new CausalLm(Qwen3Shaped06B()))
                    {
                        lm.InitializeWeights(1);
                        ModelDirectory.Save(lm, big);
                    }
                    rows.Add(("rollout, Qwen3-0.6B-shaped, 8 × 32 new tokens", big, "rollout", 8, 16, 32));
                    rows.Add(("update, Qwen3-0.6B-shaped, 4 × 64 tokens", big, "update", 4, 64, 0));
                }
                catch (IOException e)   // 2.4 GB of weights: a full disk skips these rows, not the others
                {
                    Console.WriteLine($"  Qwen3-0.6B-shaped rows skipped: its checkpoint could not be written ({e.Message})");
                }
            }
            foreach (var row in rows)
            {
                // The float32 update of the 0.6B shape (weights, gradients, AdamW state, the tied head's gradients)
                // passed 15 GB resident; the rollout needs ~4 GB.
                if (row.Dir == big && !WaitForMemory(row.Workload == "update" ? 18 : 5)) continue;
                string parameters = $"{ModelConfig.Load(Path.Combine(row.Dir, "config.json")).ParameterCount() / 1e6:F1} M";
                var ours = new Dictionary<int, double>();
                var theirs = new Dictionary<int, double>();
                foreach (int t in threadCounts)
                {
                    var mine = Ours(t, row.Workload, row.Dir, row.Batch, row.Prompt, row.New);
                    if (mine is null) break;   // said why; the other rows still run
                    ours[t] = mine.Value;
                    var peer = Peer(python, script, row.Dir, t, "--workload", row.Workload, "--batch", row.Batch.ToString(),
                        "--prompt", row.Prompt.ToString(), "--new", Math.Max(1, row.New).ToString(), "--repeats", Repeats.ToString());
                    if (peer is null) break;
                    theirs[t] = peer.Value;
                }
                if (ours.Count > 0 && ours.Count == theirs.Count) Print(row.Name + $" ({parameters})", ours, theirs);
            }
            foreach (var (name, dir, prompts) in new[] { ("RL step, demo (tiny, 16 × 8, 64 tokens)", tiny, 16), ("RL step, 30M-class (4 × 8, 64 tokens)", m30, 4) })
            {
                var ours = new Dictionary<int, double>();
                var theirs = new Dictionary<int, double>();
                foreach (int t in threadCounts)
                {
                    var mine = Ours(t, "step", dir, prompts, 0, 64);
                    if (mine is null) return;
                    ours[t] = mine.Value;
                    int promptLength = StepPromptLength(dir, prompts);
                    var peer = Peer(python, script, dir, t, "--workload", "step", "--batch", prompts.ToString(), "--prompt", promptLength.ToString(),
                        "--new", "64", "--group", "8", "--minibatches", "4", "--repeats", Repeats.ToString());
                    if (peer is null) return;
                    theirs[t] = peer.Value;
                }
                Print(name, ours, theirs);
            }
            Console.WriteLine($"  peer benchmark: {clock.Elapsed.TotalMinutes:F1} min in all");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>Waits (up to 20 minutes) until the machine has <paramref name="gigabytes"/> GB available, so that a
    /// large row does not push a shared machine into the kernel's out-of-memory killer; false if it never had.</summary>
    static bool WaitForMemory(double gigabytes)
    {
        var waited = Stopwatch.StartNew();
        bool said = false;
        while (true)
        {
            double available = File.ReadLines("/proc/meminfo").Where(l => l.StartsWith("MemAvailable:"))
                .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1048576).FirstOrDefault(double.MaxValue);
            if (available >= gigabytes)
            {
                if (said) Console.WriteLine($"  ({available:F1} GB available after waiting {waited.Elapsed.TotalMinutes:F1} min)");
                return true;
            }
            if (waited.Elapsed > TimeSpan.FromMinutes(20))
            {
                Console.WriteLine($"  stopped: {available:F1} GB available, {gigabytes} GB needed for the next row");
                return false;
            }
            if (!said) Console.WriteLine($"  waiting for {gigabytes} GB of available memory (now {available:F1} GB)...");
            said = true;
            Thread.Sleep(10_000);
        }
    }

    /// <summary>The child process's side of a row: loads the model, times the workload, prints one JSON line.</summary>
    public static int RunChild(string[] args)
    {
        // peer-child THREADS WORKLOAD DIR BATCH PROMPT NEW
        set_num_threads(int.Parse(args[1]));
        string workload = args[2], dir = args[3];
        int batch = int.Parse(args[4]), prompt = int.Parse(args[5]), newTokens = int.Parse(args[6]);
        double seconds;
        if (workload == "check")
        {
            WriteCheck(dir, Path.Combine(dir, "check.json"));
            seconds = 0;
        }
        else if (workload == "step") seconds = Step(dir, batch);
        else
        {
            using var lm = ModelDirectory.Load(dir);
            seconds = workload == "rollout" ? Rollout(lm, batch, prompt, newTokens) : Update(lm, batch, prompt);
        }
        Console.WriteLine(new JsonObject { ["seconds"] = seconds, ["threads"] = get_num_threads() }.ToJsonString());
        return 0;
    }

    /// <summary>Runs one workload of GspoSharp in a child process with <paramref name="threads"/> threads; its time, or null (said why).</summary>
    internal static double? Ours(int threads, string workload, string dir, int batch, int prompt, int newTokens)
    {
        var run = ChildRun.Start("peer-child", threads.ToString(), workload, dir, batch.ToString(), prompt.ToString(), newTokens.ToString());
        if (run.Result is null)
        {
            Console.WriteLine($"  GspoSharp failed on {workload} of {Path.GetFileName(dir)} (exit {run.ExitCode}): {run.Why}");
            return null;
        }
        return (double)run.Result["seconds"]!;
    }

    static void Print(string name, IReadOnlyDictionary<int, double> ours, IReadOnlyDictionary<int, double> peer)
    {
        var (mine, mineThreads) = ours.MinBy(kv => kv.Value) is var a ? (a.Value, a.Key) : default;
        var (theirs, theirThreads) = peer.MinBy(kv => kv.Value) is var b ? (b.Value, b.Key) : default;
        string all = ours.Count > 1 ? " (" + string.Join(", ", ours.Keys.Select(t => $"{t} thread{(t == 1 ? "" : "s")}: {ours[t]:F3} / {peer[t]:F3} s")) + ")" : "";
        Console.WriteLine($"  {name,-56} GspoSharp {mine,8:F3} s | PyTorch {theirs,8:F3} s | speed-up {theirs / mine,5:F2}× | threads {mineThreads}/{theirThreads}{all}");
    }

    static long[][] Prompts(int count, int length, int vocab)
    {
        var random = new Random(count * 1000 + length);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => (long)random.Next(vocab)).ToArray()).ToArray();
    }

    static double Best(Action run, int repeats = Repeats)
    {
        run();
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            run();
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }
        return best;
    }

    /// <summary>A thread count for the in-process backend that turns its splits off (GSPO_BENCH_NO_SPLIT=1, for an A/B),
    /// else null: the backend's own rule, as gspo samples.</summary>
    static int? SplitOff() => Environment.GetEnvironmentVariable("GSPO_BENCH_NO_SPLIT") is null ? null : get_num_threads();

    static double Rollout(CausalLm lm, int batch, int prompt, int newTokens)
    {
        var prompts = Prompts(batch, prompt, lm.Config.VocabSize);
        // As gspo samples (LocalRolloutBackend): a model under 1 M parameters in two halves of the prompts at once
        // (RowSplit), dense ones of 1 M to 100 M parameters with their products split (ProductSplit), both on two threads.
        using var backend = new LocalRolloutBackend(lm) { Threads = SplitOff() };
        return Best(() =>
        {
            using var result = backend.GenerateAsync(prompts, new SamplingOptions { MaxNewTokens = newTokens, Seed = 1 }).Result;   // no EOS: every sample runs to the end
        });
    }

    /// <summary>Forward, log-prob gather, backward and AdamW over <paramref name="batch"/> × <paramref name="length"/> tokens,
    /// as gspo's update does it: with the trainer's optimizer (its gradient norm read, no clipping), and for a model under
    /// 1 M parameters on two threads as two halves of the rows at once (SplitBackward).</summary>
    static double Update(CausalLm lm, int batch, int length)
    {
        using var ids = tensor(Prompts(batch, length, lm.Config.VocabSize).SelectMany(p => p).ToArray(), new long[] { batch, length });
        using var mask = ones(new long[] { batch, length }, ScalarType.Bool);
        using var targets = ones(new long[] { batch, length - 1 }, ScalarType.Bool);
        // AdamW with the peer's defaults (weight decay 0.01, here on the matrices as the trainer decays them).
        using var optimization = new Optimization(lm, 1e-5, 0.01, 0.9, 0.999, 1e-8, 0, 1000, LearningRateSchedule.Constant);
        bool split = RowSplit.Applies(lm, SplitOff()) && batch >= 2;
        using var threads = IntraOpThreads.UseFor(lm.Config, SplitOff());
        using var scale = (-1.0 / (batch * (length - 1))).ToScalar();   // the mean over the whole batch, in parts
        (Tensor, RowsBench.Nothing) Loss(List<int> rows)
        {
            var index = tensor(rows.Select(r => (long)r).ToArray());
            var scores = lm.ScoreTokens(ids.index_select(0, index), mask.index_select(0, index), targets.index_select(0, index));
            return (scores.LogProbs.sum().mul(scale), new RowsBench.Nothing());
        }
        var all = Enumerable.Range(0, batch).ToList();
        lm.train();
        double seconds = Best(() =>
        {
            using var scope = NewDisposeScope();
            optimization.ZeroGrad();
            if (split) SplitBackward.Halves(optimization, all, Loss);
            else SplitBackward.Whole(all, Loss);
            optimization.Step(0);
        });
        lm.eval();
        return seconds;
    }

    /// <summary>A reward an untrained model varies on, so that every step has a gradient.</summary>
    sealed class DigitShare : IRewardFunction
    {
        public string Name => "digits";
        public RewardScore Score(RewardInput input) =>
            new(input.Completion.Length == 0 ? 0 : input.Completion.Count(char.IsAsciiDigit) / (double)input.Completion.Length);
    }

    /// <summary>One GSPO step of the demo's shape (G = 8, 4 mini-batches, ≤ 64 tokens), with no
    /// end-of-sequence token so that every completion has 64 tokens, as the peer's.</summary>
    static double Step(string dir, int prompts)
    {
        var config = new TrainConfig { PromptsPerStep = prompts, NumGenerations = 8, MaxCompletionLength = 64, StepsPerGeneration = 4, LearningRate = 1e-5, MaxSteps = 100 };
        using var loaded = LanguageModel.Load(dir, chatTemplate: false);
        var policy = new LanguageModel(loaded.Model, loaded.Tokenizer, false, new long[] { -1 });   // never sampled
        var data = Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 1);
        using var trainer = new GspoTrainer(config, policy, data, new RewardModel(new[] { new WeightedReward(new DigitShare(), 1) }));
        return Best(() => trainer.Step());
    }

    /// <summary>The mean prompt length of the step's first <paramref name="prompts"/> prompts, for the peer's prompts of one length.</summary>
    static int StepPromptLength(string dir, int prompts)
    {
        var tokenizer = GspoSharp.Models.Tokenization.HfTokenizer.Load(dir);   // no chat template, as Step's policy
        var data = Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 1);
        return (int)Math.Round(Enumerable.Range(0, prompts).Average(i => tokenizer.Encode(data.Row(i)["prompt"]!.GetValue<string>()).Length));
    }

    /// <summary>Writes GspoSharp's log-probs of 4 random sequences to <paramref name="check"/>, for the peer to compare.</summary>
    static void WriteCheck(string dir, string check)
    {
        using var lm = ModelDirectory.Load(dir);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var sequences = Prompts(4, 24, lm.Config.VocabSize);
        var ids = tensor(sequences.SelectMany(s => s).ToArray(), new long[] { 4, 24 });
        using var scores = lm.ScoreTokens(ids, ones(4, 24, ScalarType.Bool), ones(4, 23, ScalarType.Bool));
        var values = scores.LogProbs.to_type(ScalarType.Float64).data<double>().ToArray();
        var json = new JsonObject
        {
            ["ids"] = new JsonArray(sequences.Select(s => (JsonNode)new JsonArray(s.Select(v => (JsonNode)v).ToArray())).ToArray()),
            ["logprobs"] = new JsonArray(Enumerable.Range(0, 4).Select(r => (JsonNode)new JsonArray(values.Skip(r * 23).Take(23).Select(v => (JsonNode)v).ToArray())).ToArray()),
        };
        File.WriteAllText(check, json.ToJsonString());
    }

    /// <summary>Writes GspoSharp's log-probs of 4 random sequences for the peer to check (in a child process), runs the peer
    /// and returns its time, or null (with a line saying why) if it refused or failed.</summary>
    static double? Peer(string python, string script, string dir, int threads, params string[] workload)
    {
        string check = Path.Combine(dir, "check.json");
        if (!File.Exists(check) && Ours(threads, "check", dir, 0, 0, 0) is null) return null;
        var arguments = new List<string> { script, "--model", dir, "--threads", threads.ToString(), "--check", check };
        arguments.AddRange(workload);
        var (ok, output) = PeerMatmul.Run(python, TimeSpan.FromMinutes(30), arguments.ToArray());
        string? line = output.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (line is null)
        {
            Console.WriteLine($"  peer failed on {Path.GetFileName(dir)}: {output.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        using var doc = JsonDocument.Parse(line);
        var root = doc.RootElement;
        if (root.TryGetProperty("error", out var error))
        {
            Console.WriteLine($"  peer refused to time {Path.GetFileName(dir)}: {error.GetString()}");
            return null;
        }
        if (!ok)
        {
            Console.WriteLine($"  peer failed on {Path.GetFileName(dir)}: {output.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        if (workload.Length >= 2 && workload[1] == "check")
        {
            var blas = root.GetProperty("blas");
            Console.WriteLine($"  log-probs of {root.GetProperty("model_type").GetString()}: PyTorch {root.GetProperty("torch").GetString()} agrees with GspoSharp " +
                              $"to {root.GetProperty("check_max_abs_diff").GetDouble():G2} (threads {root.GetProperty("threads").GetInt32()}, OMP_WAIT_POLICY {root.GetProperty("omp_wait_policy").GetString()}; " +
                              $"{string.Join(", ", blas.GetProperty("config").EnumerateArray().Select(e => e.GetString()))}; loaded {string.Join(" ", blas.GetProperty("loaded").EnumerateArray().Select(e => e.GetString()))}" +
                              $"{(blas.GetProperty("openblas_core").GetString() is { } core ? ", OpenBLAS kernels " + core : "")})");
            return 0;
        }
        return root.GetProperty("seconds").GetDouble();
    }
}
