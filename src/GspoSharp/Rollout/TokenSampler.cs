using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Rollout;

/// <summary>
/// Draws one token per row from logits and reports its log-probability. The log-probability is
/// that of the policy's distribution at the sampling temperature, log softmax(logits / τ),
/// *before* top-k / top-p truncation: the quantity the objectives compare with the trainer's
/// recomputed log-probs (truncation is a property of the sampler, not of the policy). For
/// greedy decoding (τ = 0) it is the untempered log softmax(logits).
/// </summary>
internal static class TokenSampler
{
    /// <summary>Tokens [B] and their log-probs [B] for logits [B, V], given one uniform in (0, 1) per row.</summary>
    public static (Tensor Tokens, Tensor LogProbs) Sample(Tensor logits, SamplingOptions options, double[] uniforms)
    {
        using var scope = NewDisposeScope();
        if (options.Temperature == 0)
        {
            var greedy = logits.argmax(-1);
            var untempered = logits.log_softmax(-1).gather(1, greedy.unsqueeze(1)).squeeze(1);
            return (greedy.MoveToOuterDisposeScope(), untempered.MoveToOuterDisposeScope());
        }
        using var temperature = options.Temperature.ToScalar();   // kept alive through the call: see Scalars
        var logProbs = logits.div(temperature).log_softmax(-1);
        var kept = Truncate(logProbs, options);
        // Inverse CDF: the first token whose cumulative mass reaches u · total. Zero-mass tokens never
        // raise the CDF, so they can never be chosen, whatever the rounding of the cumulative sum.
        var cdf = kept.exp().cumsum(-1);
        var u = tensor(uniforms, cdf.dtype, cdf.device).unsqueeze(1) * cdf.narrow(1, cdf.shape[1] - 1, 1);
        using var last = (cdf.shape[1] - 1).ToScalar();
        var tokens = (cdf < u).sum(-1).clamp_max(last);
        var chosen = logProbs.gather(1, tokens.unsqueeze(1)).squeeze(1);
        return (tokens.MoveToOuterDisposeScope(), chosen.MoveToOuterDisposeScope());
    }

    /// <summary>log-probs with the tokens outside top-k and top-p set to −∞.</summary>
    internal static Tensor Truncate(Tensor logProbs, SamplingOptions options)
    {
        var kept = logProbs;
        long vocab = logProbs.shape[1];
        if (options.TopK is { } k && k > 0 && k < vocab)
        {
            var kth = logProbs.topk(k, dim: -1).values.narrow(1, k - 1, 1);
            kept = kept.masked_fill(kept < kth, Scalars.NegativeInfinity);
        }
        if (options.TopP is { } p && p < 1)
        {
            // Keep a token while the mass of the more likely tokens before it is still below p: the
            // smallest prefix of the sorted distribution whose mass reaches p.
            var (sorted, order) = kept.sort(-1, descending: true);
            var probabilities = sorted.exp();
            var before = probabilities.cumsum(-1) - probabilities;
            using var mass = p.ToScalar();
            var beyond = before.ge(mass);
            var drop = beyond.scatter(1, order, beyond);
            kept = kept.masked_fill(drop, Scalars.NegativeInfinity);
        }
        return kept;
    }
}
