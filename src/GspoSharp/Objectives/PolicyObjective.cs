using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Objectives;

/// <summary>
/// The clipped policy objectives of GRPO, GSPO and GSPO-token as one function of tensors
/// (docs/algorithms/objectives.md derives every line). For B responses padded to T positions,
/// with log w_{i,t} = log π_θ(y_{i,t}|…) − log π_θold(y_{i,t}|…):
/// <code>
///   token (GRPO):           r_{i,t} = w_{i,t}
///   sequence (GSPO):        r_i     = s_i = exp( 1/|y_i| Σ_t log w_{i,t} )
///   sequence_token:         r_{i,t} = sg[s_i] · exp( log π_θ(y_{i,t}) − sg[log π_θ(y_{i,t})] )
///   per-token loss          ℓ_{i,t} = −min( r Â , clip(r, 1−ε_low, 1+ε_high) Â ) + β · k3_{i,t}
///   loss_type sapo          ℓ_{i,t} = −g_τ(r) Â + β · k3_{i,t}      (SAPO's soft gate, <see cref="SoftGate"/>)
///   loss                    = aggregate(ℓ) by loss_type (grpo and sapo | dapo | dr_grpo)
/// </code>
/// The loss is −J, ready for <c>backward()</c>. Pure math: no I/O, no host synchronisation.
/// </summary>
public static class PolicyObjective
{
    /// <summary>Computes the loss (−J) and its metrics for one (mini-)batch.</summary>
    /// <exception cref="ArgumentException">An option is out of range or a tensor has the wrong shape,
    /// dtype or device; the message names it.</exception>
    public static PolicyLoss Compute(PolicyBatch batch, PolicyObjectiveOptions options)
    {
        options.Validate();
        var level = options.ImportanceSamplingLevel;
        batch.Check(level);
        if (options.Beta > 0 && batch.RefLogProbs is null)
            throw new ArgumentException($"beta is {options.Beta} but no RefLogProbs were given.", nameof(batch));

        using var scope = NewDisposeScope();
        var dtype = batch.LogProbs.dtype;
        long b = batch.LogProbs.shape[0], t = batch.LogProbs.shape[1];
        // Every Scalar operand is a constant or held by a using until the end: see Scalars.
        using var bound = ObjectiveDefaults.LogRatioBound.ToScalar();
        using var negativeBound = (-ObjectiveDefaults.LogRatioBound).ToScalar();

        var mask = batch.ResponseMask.to_type(ScalarType.Bool);
        var padding = mask.logical_not();
        var lengths = mask.to_type(dtype).sum(1);            // |y_i|
        var safeLengths = lengths.clamp_min(Scalars.One);    // empty responses divide by 1 and add 0

        // Padding is replaced by 0 before any arithmetic (masked_fill, not a product, so that a
        // NaN or ±∞ there can neither reach an exp nor turn into NaN through 0·∞).
        var logProbs = batch.LogProbs.masked_fill(padding, Scalars.Zero);
        var logRatio = logProbs - batch.OldLogProbs.detach().masked_fill(padding, Scalars.Zero);   // log w_{i,t}

        // The importance ratio: [B, 1] for GSPO (one per response), [B, T] otherwise.
        Tensor ratio, clampHits;
        if (level == ImportanceSamplingLevel.Token)
        {
            clampHits = logRatio.abs().gt(bound).sum();
            ratio = logRatio.clamp(negativeBound, bound).exp();
        }
        else
        {
            var logS = logRatio.sum(1) / safeLengths;        // log s_i, in log space
            clampHits = logS.abs().gt(bound).logical_and(lengths.gt(Scalars.Zero)).sum();
            if (level == ImportanceSamplingLevel.Sequence)
                ratio = logS.clamp(negativeBound, bound).exp().unsqueeze(1);
            else   // value s_i, gradient through the token's own log-prob only
                ratio = logS.detach().clamp(negativeBound, bound).unsqueeze(1).add(logProbs, Scalars.One).sub(logProbs.detach()).exp();
        }

        var advantages = batch.Advantages.detach().to_type(dtype);
        advantages = advantages.dim() == 1 ? advantages.unsqueeze(1) : advantages.masked_fill(padding, Scalars.Zero);

        // −min(r·Â, clip(r)·Â). The clipped branch is the smaller one exactly when r > 1+ε_high with
        // Â > 0, or r < 1−ε_low with Â < 0; there it is a constant (zero gradient). Selecting it
        // explicitly gives the same values as the min and makes "clipped" mean "no gradient".
        using var low = (1 - options.ClipLow).ToScalar();
        using var high = (1 + options.ClipHigh).ToScalar();
        var clippedLow = ratio.lt(low).logical_and(advantages.lt(Scalars.Zero));
        var clippedHigh = ratio.gt(high).logical_and(advantages.gt(Scalars.Zero));
        var clipped = clippedLow.logical_or(clippedHigh);
        // SAPO: no hard clip; "clipped" stays the band's test, for the metrics only.
        var surrogate = options.LossType == LossType.Sapo
            ? SoftGate.Surrogate(ratio, advantages, options.SapoTemperaturePos, options.SapoTemperatureNeg)
            : where(clipped, ratio.detach().clamp(low, high) * advantages, ratio * advantages);
        var perToken = (-surrogate).expand(b, t);
        if (batch.SamplingWeights is { } weights) perToken = perToken * weights.detach().to_type(dtype);   // rollout-mismatch correction

        // KL penalty to the reference policy, per token, with the k3 estimator (Schulman 2020):
        // k3 = exp(d) − d − 1 with d = log π_ref − log π_θ; ≥ 0, unbiased for KL(π_θ ‖ π_ref).
        Tensor? k3 = null;
        if (batch.RefLogProbs is { } refLogProbs)
        {
            var d = refLogProbs.detach().masked_fill(padding, Scalars.Zero) - logProbs;
            clampHits = clampHits.add(d.abs().gt(bound).sum(), Scalars.OneInt);
            d = d.clamp(negativeBound, bound);
            k3 = (d.exp() - d).sub(Scalars.One);
            using var beta = options.Beta.ToScalar();
            if (options.Beta > 0) perToken = perToken.add(k3.mul(beta), Scalars.One);
        }
        perToken = perToken.masked_fill(padding, Scalars.Zero);

        var responses = batch.Totals is { } totals ? tensor((double)totals.Sequences, dtype) : lengths.gt(Scalars.Zero).sum().to_type(dtype);
        var tokens = batch.Totals is { } t2 ? tensor((double)t2.Tokens, dtype) : lengths.sum();
        using var constant = ((double)(batch.Totals?.Rows ?? b) * options.MaxCompletionLength).ToScalar();
        var loss = options.LossType switch
        {
            LossType.Grpo or LossType.Sapo => (perToken.sum(1) / safeLengths).sum() / responses.clamp_min(Scalars.One),
            LossType.Dapo => perToken.sum() / tokens.clamp_min(Scalars.One),
            _ => perToken.sum().div(constant),
        };

        Tensor metrics;
        using (no_grad())
            metrics = PolicyLossMetrics.Collect(level, mask, lengths, logRatio, ratio, clippedLow, clippedHigh, k3, clampHits);
        return new PolicyLoss(loss.MoveToOuterDisposeScope(), metrics.MoveToOuterDisposeScope());
    }
}
