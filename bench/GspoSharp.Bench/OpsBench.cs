using System.Diagnostics;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// Where the time of the overhead-bound tiny models goes: tensors created from .NET (each one a
/// LibTorch call through TorchSharp's interop, ~5–10 µs whatever its size) per decoding step and
/// per update (forward + log-prob gather + backward + AdamW), and the time of each. Counted with
/// TorchSharp's own dispose-scope statistics.
/// </summary>
internal static class OpsBench
{
    public static void Run()
    {
        var stats = DisposeScopeManager.Statistics;
        long Created() => stats.CreatedInScopeCount + stats.CreatedOutsideScopeCount;
        foreach (var (name, size) in new[] { ("tiny qwen3", ModelSize.Tiny), ("tiny qwen3_moe", ModelSize.Tiny) })
        {
            var type = name.Contains("moe") ? ModelType.Qwen3Moe : ModelType.Qwen3;
            var config = TinyConfigs.Create(type, size, 512);
            using var lm = new CausalLm(config);
            lm.InitializeWeights(1);
            var random = new Random(1);
            var prompts = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, 16).Select(_ => (long)random.Next(512)).ToArray()).ToArray();
            var engine = new RolloutEngine(lm);
            (long Tensors, double Seconds) Generate(int tokens)
            {
                using var warm = engine.Generate(prompts, new SamplingOptions { MaxNewTokens = tokens, Seed = 1 });
                long before = Created();
                using var result = engine.Generate(prompts, new SamplingOptions { MaxNewTokens = tokens, Seed = 1 });
                return (Created() - before, result.DecodeSeconds);
            }
            var one = Generate(1);
            var many = Generate(65);
            double perStep = (many.Tensors - one.Tensors) / 64.0;
            Console.WriteLine($"{name}, decode B=64: {perStep:F0} tensors created per step, {(many.Seconds - one.Seconds) / 64 * 1e3:F2} ms per step");

            // One update: forward, log-prob gather, backward, AdamW, on 64 sequences of 48 tokens.
            var ids = randint(0, 512, new long[] { 64, 48 }).DetachFromDisposeScope();
            var mask = ones(new long[] { 64, 48 }, ScalarType.Bool).DetachFromDisposeScope();
            var targets = ones(new long[] { 64, 47 }, ScalarType.Bool).DetachFromDisposeScope();
            using var optimizer = optim.AdamW(lm.parameters(), 1e-4);
            lm.train();
            void Update()
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                using var scores = lm.ScoreTokens(ids, mask, targets);
                scores.LogProbs.sum().neg().backward();
                optimizer.step();
            }
            Update();
            long start = Created();
            var watch = Stopwatch.StartNew();
            const int updates = 10;
            for (int i = 0; i < updates; i++) Update();
            Console.WriteLine($"{name}, update 64×48: {(Created() - start) / (double)updates:F0} tensors created per update, " +
                              $"{watch.Elapsed.TotalMilliseconds / updates:F1} ms per update");

            // Where an update's time goes, with the trainer's own optimizer (clipping and AdamW): the best
            // of 10 of each phase, so that load from other processes mostly drops out.
            using var optimization = new Optimization(lm, 1e-4, 0.01, 0.9, 0.999, 1e-8, 0, 100, LearningRateSchedule.Constant);
            double forward = double.MaxValue, backward = double.MaxValue, step = double.MaxValue, cpu = double.MaxValue;
            long stepTensors = 0;
            for (int i = 0; i < 11; i++)
            {
                using var scope = NewDisposeScope();
                optimization.ZeroGrad();
                double cpuStart = Measure.ThreadCpuSeconds();
                var phase = Stopwatch.StartNew();
                using var scores = lm.ScoreTokens(ids, mask, targets);
                var loss = scores.LogProbs.sum().neg();
                double f = phase.Elapsed.TotalMilliseconds;
                phase.Restart();
                loss.backward();
                double b = phase.Elapsed.TotalMilliseconds;
                long before = Created();
                phase.Restart();
                optimization.Step(1.0);
                double o = phase.Elapsed.TotalMilliseconds;
                double c = (Measure.ThreadCpuSeconds() - cpuStart) * 1e3;
                stepTensors = Created() - before;
                if (i == 0) continue;   // warm-up
                (forward, backward, step, cpu) = (Math.Min(forward, f), Math.Min(backward, b), Math.Min(step, o), Math.Min(cpu, c));
            }
            // The calling thread's CPU time varies less with load than wall time (with one intra-op thread
            // it is all of the update's work; with more, the workers' share is not in it).
            Console.WriteLine($"{name}, update 64×48 split (best of 10): forward + log-probs {forward:F1} ms, backward {backward:F1} ms, " +
                              $"clipping + AdamW {step:F2} ms ({stepTensors} tensors); calling thread's CPU time {cpu:F1} ms");
            lm.eval();
            ids.Dispose();
            mask.Dispose();
            targets.Dispose();
        }
    }
}
