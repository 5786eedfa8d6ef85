using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Rollout;

/// <summary>
/// Draws one token per row from logits and reports its log-probability: the one sampling function
/// of the rollout engine, kept public so that every caller that samples (a server included) draws
/// exactly as the engine does.
/// <para>Order, as in Hugging Face transformers (temperature, top-k and top-p warpers) and vLLM
/// (temperature, then <c>apply_top_k_top_p</c>): temperature, then top-k, then top-p over the
/// distribution renormalised on the top-k survivors. See docs/rollout.md.</para>
/// <para>The reported log-probability is that of the policy's distribution at the sampling
/// temperature, log softmax(logits / τ), *before* top-k / top-p truncation: the quantity the
/// objectives compare with the trainer's recomputed log-probs (truncation is a property of the
/// sampler, not of the policy). For greedy decoding (τ = 0) it is the untempered
/// log softmax(logits).</para>
/// </summary>
public static class TokenSampler
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
        // Shifted by the row maximum before dividing: the same log-probs (log softmax ignores a shift),
        // but a tiny τ sends the other logits to −∞ instead of the top ones to +∞ and NaN.
        var logProbs = (logits - logits.amax(new long[] { -1 }, keepdim: true)).div(temperature).log_softmax(-1);
        var kept = Truncate(logProbs, options);
        // Inverse CDF: the first token whose cumulative mass reaches u · total. Zero-mass tokens never
        // raise the CDF, so they can never be chosen, whatever the rounding of the cumulative sum.
        // Scaling by the total is what renormalises the draw over the surviving tokens.
        var cdf = kept.exp().cumsum(-1);
        var u = tensor(uniforms, cdf.dtype, cdf.device).unsqueeze(1) * cdf.narrow(1, cdf.shape[1] - 1, 1);
        using var last = (cdf.shape[1] - 1).ToScalar();
        var tokens = (cdf < u).sum(-1).clamp_max(last);
        var chosen = logProbs.gather(1, tokens.unsqueeze(1)).squeeze(1);
        return (tokens.MoveToOuterDisposeScope(), chosen.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Tempered log-probs [B, V] with the tokens outside top-k, then top-p, set to −∞ (the others
    /// unchanged, so they are not renormalised: a draw renormalises by the kept mass).
    /// <list type="bullet">
    /// <item>top-k keeps every token at least as likely as the k-th most likely, ties with it included
    /// (transformers' <c>TopKLogitsWarper</c>, vLLM's <c>apply_top_k_top_p</c>); k ≤ 0 or k ≥ V keeps all.</item>
    /// <item>top-p acts on the distribution renormalised over the top-k survivors: ascending by
    /// probability, a token is removed while the cumulative mass up to and including it is ≤ 1 − p,
    /// and the most likely token is always kept (min_tokens_to_keep = 1). So the token whose mass
    /// crosses p is kept, and a token whose more likely tokens already hold exactly p is not.
    /// Among tokens tied at that boundary, the lower token ids are kept.</item>
    /// </list>
    /// </summary>
    public static Tensor Truncate(Tensor logProbs, SamplingOptions options)
    {
        using var scope = NewDisposeScope();
        var kept = logProbs;
        long vocab = logProbs.shape[1];
        if (options.TopK is { } k && k > 0 && k < vocab)
        {
            var kth = logProbs.topk(k, dim: -1).values.narrow(1, k - 1, 1);
            kept = kept.masked_fill(kept < kth, Scalars.NegativeInfinity);
        }
        if (options.TopP is { } p && p < 1)
        {
            // The reference rule works on an ascending sort. A stable descending sort, reversed, is that
            // ascending order with tied tokens placed highest id first, so that ties at the cut lose
            // their highest ids first and the outcome does not depend on an unstable sort.
            var (descending, descendingOrder) = kept.sort(-1, descending: true, stable: true);
            var ascending = descending.flip(1);
            var order = descendingOrder.flip(1);
            // softmax renormalises over the top-k survivors (masked tokens have zero mass); the
            // cumulative sum runs from the least likely token, as in the reference implementations.
            var cumulative = ascending.softmax(-1).cumsum(-1);
            using var threshold = (1 - p).ToScalar();
            var drop = cumulative.le(threshold);
            drop.narrow(1, vocab - 1, 1).fill_(Scalars.Zero);   // the most likely token always stays
            kept = kept.masked_fill(drop.scatter(1, order, drop), Scalars.NegativeInfinity);
        }
        return ReferenceEquals(kept, logProbs) ? kept : kept.MoveToOuterDisposeScope();
    }
}
