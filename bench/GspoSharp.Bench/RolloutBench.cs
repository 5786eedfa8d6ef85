using System.Diagnostics;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// Generation throughput, three figures side by side: the rollout engine (KV cache, shared
/// prefill), the same model without a cache (a full forward over the whole sequence for every
/// new token), and the arithmetic limit (2 × parameters FLOPs per token at the measured matmul
/// rate). Plus the effect of sharing one prefill among the n samples of a prompt.
/// </summary>
internal static class RolloutBench
{
    const int PromptLength = 32;

    public static void Run(double ceiling, bool quick)
    {
        foreach (var (name, size, vocab) in new[] { ("tiny", ModelSize.Tiny, 512), ("50M", ModelSize.Bench50M, 32000) })
        {
            var config = TinyConfigs.Create(ModelType.Qwen3, size, vocab);
            using var lm = new CausalLm(config);
            lm.InitializeWeights(1);
            double limit = ceiling * 1e9 / (2.0 * config.ParameterCount());
            Console.WriteLine($"generation, {name} qwen3 ({config.ParameterCount() / 1e6:F2} M params; arithmetic limit {limit:F0} tokens/s)");
            foreach (int batch in new[] { 1, 16, 64 })
                foreach (int newTokens in new[] { 64, 256 })
                {
                    if (quick && (batch == 16 || newTokens == 256)) continue;
                    var prompts = Prompts(batch, vocab, seed: batch);
                    var options = new SamplingOptions { MaxNewTokens = newTokens, Seed = 1 };   // no EOS: every sample runs to the end
                    using var result = new RolloutEngine(lm).Generate(prompts, options);
                    double engine = result.GeneratedTokens / (result.PrefillSeconds + result.DecodeSeconds);
                    var (noCache, how) = NoCacheTokensPerSecond(lm, prompts, newTokens, measureAll: size == ModelSize.Tiny);
                    Console.WriteLine($"  B={batch,2} new={newTokens,3}: engine {engine,8:F0} tokens/s | no cache {noCache,8:F1} tokens/s ({how}) " +
                                      $"| engine/no-cache {engine / noCache,6:F1}× | {engine / limit:P0} of the arithmetic limit");
                }
            SharedPrefill(lm, vocab);
        }
    }

    static long[][] Prompts(int count, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, PromptLength).Select(_ => (long)random.Next(vocab)).ToArray()).ToArray();
    }

    /// <summary>
    /// Sampling without a KV cache: step t runs the model over all PromptLength + t tokens. For the
    /// larger model the full run would take hours, so the step time is measured at five lengths
    /// spread over the run and integrated (trapezoid rule); the output says which was done.
    /// </summary>
    static (double TokensPerSecond, string How) NoCacheTokensPerSecond(CausalLm lm, long[][] prompts, int newTokens, bool measureAll)
    {
        using var noGrad = no_grad();
        int batch = prompts.Length;
        double StepSeconds(int generated)
        {
            using var scope = NewDisposeScope();
            var ids = randint(0, lm.Config.VocabSize, new long[] { batch, PromptLength + generated });
            var watch = Stopwatch.StartNew();
            var logits = lm.Logits(lm.Forward(ids).narrow(1, PromptLength + generated - 1, 1));
            logits.argmax(-1).cpu();
            return watch.Elapsed.TotalSeconds;
        }
        if (measureAll)
        {
            double total = 0;
            for (int t = 0; t < newTokens; t++) total += StepSeconds(t);
            return (batch * newTokens / total, "measured");
        }
        int[] points = { 0, newTokens / 4, newTokens / 2, 3 * newTokens / 4, newTokens - 1 };
        var times = points.Select(StepSeconds).ToArray();
        double integral = 0;
        for (int i = 1; i < points.Length; i++) integral += (times[i] + times[i - 1]) / 2 * (points[i] - points[i - 1]);
        integral += times[0];   // the first step itself
        return (batch * newTokens / integral, "5 steps measured, integrated");
    }

    /// <summary>64 samples as 8 prompts × 8 samples (one prefill per prompt) versus 64 prompts × 1.</summary>
    static void SharedPrefill(CausalLm lm, int vocab)
    {
        var options = new SamplingOptions { MaxNewTokens = 16, Seed = 2 };
        using var distinct = new RolloutEngine(lm).Generate(Prompts(64, vocab, 5), options);
        using var shared = new RolloutEngine(lm).Generate(Prompts(8, vocab, 6), options with { SamplesPerPrompt = 8 });
        Console.WriteLine($"  prefill for 64 samples: 64 prompts × 1 sample {distinct.PrefillSeconds * 1e3,7:F1} ms, " +
                          $"8 prompts × 8 samples {shared.PrefillSeconds * 1e3,7:F1} ms ({distinct.PrefillSeconds / shared.PrefillSeconds:F1}× less)");
    }
}
