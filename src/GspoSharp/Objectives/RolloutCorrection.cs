using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Objectives;

/// <summary>How the train–inference mismatch is corrected (TRL's <c>vllm_importance_sampling_mode</c>).</summary>
public enum RolloutCorrectionMode
{
    /// <summary>"token_truncate": ρ_{i,t} clamped to [C_min, C_max].</summary>
    TokenTruncate,
    /// <summary>"token_mask": ρ_{i,t} set to 0 outside [C_min, C_max].</summary>
    TokenMask,
    /// <summary>"sequence_truncate": one ρ_i per response, clamped to [C_min, C_max].</summary>
    SequenceTruncate,
    /// <summary>"sequence_mask": one ρ_i per response, 0 outside [C_min, C_max] (TRL's default).</summary>
    SequenceMask,
}

/// <summary>The correction's settings; null bounds are open (TRL: clip_max 3.0, clip_min unset).</summary>
public sealed record RolloutCorrectionOptions(RolloutCorrectionMode Mode, double? ClipMin, double? ClipMax);

/// <summary>Mismatch of one batch, as docs/metrics.md defines the <c>mismatch/*</c> metrics.</summary>
/// <param name="TokenAbsDiffMean">mean over response tokens of |d_{i,t}|.</param>
/// <param name="SeqLogRatioMean">mean over non-empty responses of m_i = mean_t d_{i,t}.</param>
/// <param name="SeqLogRatioMax">max over non-empty responses of |m_i|.</param>
/// <param name="K3Kl">mean over response tokens of exp(d) − d − 1.</param>
public sealed record RolloutMismatch(double TokenAbsDiffMean, double SeqLogRatioMean, double SeqLogRatioMax, double K3Kl);

/// <summary>
/// The train–inference mismatch between the trainer's log-probs of the sampled tokens and the
/// rollout engine's, and its importance-sampling correction (docs/algorithms/objectives.md, "Rollout
/// mismatch"). With d_{i,t} = log π_train(y_{i,t}|…) − log π_rollout(y_{i,t}|…) on response tokens:
/// <code>
///   metrics      |d| token mean;  m_i = 1/|y_i| Σ_t d_{i,t} (mean, max |m_i|);  k3 = exp(d) − d − 1 token mean
///   token_*      log ρ_{i,t} = d_{i,t}
///   sequence_*   log ρ_i = 1/|y_i| Σ_t d_{i,t}   (GSPO, GSPO-token: the length-normalised ratio)
///                log ρ_i =        Σ_t d_{i,t}   (GRPO: TRL's sum)
///   *_truncate   ρ ← clamp(ρ, C_min, C_max)
///   *_mask       ρ ← 0 where ρ &lt; C_min or ρ &gt; C_max
/// </code>
/// The weight multiplies each token's policy-loss term (not the KL penalty), as TRL does. k3 is
/// unbiased for KL(π_rollout ‖ π_train) because the tokens were sampled from π_rollout.
/// Why GSPO normalises by length: GSPO's own ratio s_i is the geometric mean of the token ratios,
/// so its clip range is set on that scale; the correction is the same kind of quantity and stays
/// comparable across lengths, whereas TRL's product over |y_i| tokens drifts exponentially with
/// length (a bf16 engine's per-token noise alone would push long responses outside [C_min, C_max]
/// and mask them).
/// </summary>
public static class RolloutCorrection
{
    /// <summary>The <c>mismatch/*</c> metrics of [B, T] log-probs on the response positions of <paramref name="mask"/>
    /// (computed in float64; all zero when the mask selects nothing).</summary>
    public static RolloutMismatch Measure(Tensor trainLogProbs, Tensor rolloutLogProbs, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var (d, selected, lengths) = Differences(trainLogProbs, rolloutLogProbs, mask);
        double tokens = selected.sum().item<long>();
        if (tokens == 0) return new RolloutMismatch(0, 0, 0, 0);
        var nonEmpty = lengths.gt(Scalars.Zero);
        var perSequence = (d.sum(1) / lengths.clamp_min(Scalars.One)).masked_select(nonEmpty);
        var k3 = (d.exp() - d).sub(Scalars.One).masked_fill(selected.logical_not(), Scalars.Zero);
        return new RolloutMismatch(
            d.abs().sum().item<double>() / tokens,
            perSequence.mean().item<double>(),
            perSequence.abs().max().item<double>(),
            k3.sum().item<double>() / tokens);
    }

    /// <summary>Importance weights ρ in the train log-probs' dtype: [B, T] for token modes (padding: 1), [B, 1] for sequence modes.</summary>
    public static Tensor Weights(Tensor trainLogProbs, Tensor rolloutLogProbs, Tensor mask, RolloutCorrectionOptions options,
        ImportanceSamplingLevel level)
    {
        using var scope = NewDisposeScope();
        var (d, _, lengths) = Differences(trainLogProbs, rolloutLogProbs, mask);
        bool sequence = options.Mode is RolloutCorrectionMode.SequenceTruncate or RolloutCorrectionMode.SequenceMask;
        var logRho = !sequence ? d
            : level == ImportanceSamplingLevel.Token ? d.sum(1, keepdim: true)
            : d.sum(1, keepdim: true) / lengths.clamp_min(Scalars.One).unsqueeze(1);
        var rho = logRho.exp();
        using var low = (options.ClipMin ?? double.NegativeInfinity).ToScalar();
        using var high = (options.ClipMax ?? double.PositiveInfinity).ToScalar();
        if (options.Mode is RolloutCorrectionMode.TokenTruncate or RolloutCorrectionMode.SequenceTruncate)
            rho = rho.clamp(low, high);
        else
            rho = rho.masked_fill(rho.lt(low).logical_or(rho.gt(high)), Scalars.Zero);
        if (!sequence) rho = rho.masked_fill(mask.to_type(ScalarType.Bool).logical_not(), Scalars.One);
        return rho.to_type(trainLogProbs.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>d = train − rollout with padding (and anything non-finite there) replaced by 0; the mask; |y_i|.</summary>
    static (Tensor D, Tensor Selected, Tensor Lengths) Differences(Tensor trainLogProbs, Tensor rolloutLogProbs, Tensor mask)
    {
        if (trainLogProbs.dim() != 2 || !trainLogProbs.shape.SequenceEqual(rolloutLogProbs.shape) || !trainLogProbs.shape.SequenceEqual(mask.shape))
            throw new ArgumentException($"train log-probs [{string.Join(", ", trainLogProbs.shape)}], rollout log-probs " +
                                        $"[{string.Join(", ", rolloutLogProbs.shape)}] and mask [{string.Join(", ", mask.shape)}] must be the same [B, T].");
        var selected = mask.to_type(ScalarType.Bool);
        var padding = selected.logical_not();
        var d = trainLogProbs.detach().to_type(ScalarType.Float64).masked_fill(padding, Scalars.Zero)
                - rolloutLogProbs.detach().to_type(ScalarType.Float64).masked_fill(padding, Scalars.Zero);
        return (d, selected, selected.to_type(ScalarType.Float64).sum(1));
    }
}
