using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// Training throughput of the decoder: forward + backward of <see cref="CausalLm.ScoreTokens"/>
/// (the pass every RL update makes), in tokens/s and achieved GFLOP/s against the machine's
/// measured matmul ceiling; and the MoE block's grouped expert execution against running every
/// expert on every token.
/// </summary>
internal static class ModelBench
{
    /// <summary>Matmul FLOPs per token of one forward pass: 2 per active weight (k of E experts) plus
    /// attention scores and values over the whole masked context (4·H·D per key, per layer).</summary>
    public static double ForwardFlopsPerToken(ModelConfig c, long context)
    {
        double d = c.HiddenSize, q = c.NumAttentionHeads * c.HeadDim, kv = c.NumKeyValueHeads * c.HeadDim;
        double weights = c.VocabSize * d;                                         // output head
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            weights += 2 * d * q + 2 * d * kv;
            weights += c.IsMoeLayer(layer)
                ? c.NumExpertsPerTok * 3 * d * c.MoeIntermediateSize + c.NumExperts * d
                : 3 * d * c.IntermediateSize;
        }
        return 2 * weights + 4.0 * c.NumHiddenLayers * q * context;
    }

    public static void Run(double ceiling)
    {
        foreach (var (name, type, size, vocab, batch, length) in new[]
                 {
                     ("tiny qwen3", ModelType.Qwen3, ModelSize.Tiny, 512, 16, 128),
                     ("tiny qwen3_moe", ModelType.Qwen3Moe, ModelSize.Tiny, 512, 16, 128),
                     ("50M qwen3", ModelType.Qwen3, ModelSize.Bench50M, 32000, 4, 256),
                 })
        {
            var config = TinyConfigs.Create(type, size, vocab);
            using var lm = new CausalLm(config);
            lm.InitializeWeights(1);
            using var scope = NewDisposeScope();
            var ids = randint(0, vocab, new long[] { batch, length });
            var mask = ones(batch, length, ScalarType.Bool);
            var target = ones(batch, length - 1, ScalarType.Bool);
            double seconds = Measure.Seconds(() =>
            {
                using var step = NewDisposeScope();
                lm.zero_grad();
                using var scores = lm.ScoreTokens(ids, mask, target);
                scores.LogProbs.sum().backward();
            }, warmup: 1, repeats: 3);
            double tokens = batch * (double)length;
            double gflops = 3 * ForwardFlopsPerToken(config, length) * tokens / seconds / 1e9;   // backward ≈ 2 × forward
            Console.WriteLine($"fwd+bwd {name,-15} {config.ParameterCount() / 1e6,6:F2} M params  B={batch,2} T={length}: " +
                              $"{tokens / seconds,8:F0} tokens/s  {gflops,6:F1} GFLOP/s = {gflops / ceiling:P0} of the matmul ceiling");
        }
        MoeGroupedVersusNaive();
    }

    static void MoeGroupedVersusNaive()
    {
        foreach (var (name, size, batch, length) in new[] { ("tiny", ModelSize.Tiny, 16, 128), ("50M-class", ModelSize.Bench50M, 4, 256) })
        {
            var config = TinyConfigs.Create(ModelType.Qwen3Moe, size, 1000);
            using var lm = new CausalLm(config);
            lm.InitializeWeights(1);
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            var ids = randint(0, 1000, new long[] { batch, length });
            double grouped = Measure.Seconds(() => { using var s = NewDisposeScope(); lm.Forward(ids, groupedExperts: true); }, 1, 3);
            double naive = Measure.Seconds(() => { using var s = NewDisposeScope(); lm.Forward(ids, groupedExperts: false); }, 1, 3);
            Console.WriteLine($"moe forward {name,-9} top-{config.NumExpertsPerTok} of {config.NumExperts}: grouped {grouped * 1e3,8:F1} ms, " +
                              $"every expert on every token {naive * 1e3,8:F1} ms: grouped is {naive / grouped:F1}× faster");
        }
    }
}
