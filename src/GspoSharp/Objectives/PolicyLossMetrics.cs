using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Objectives;

/// <summary>What <see cref="PolicyObjective.Compute"/> returns: the loss and its metrics.</summary>
public sealed class PolicyLoss : IDisposable
{
    internal PolicyLoss(Tensor loss, Tensor metrics) { Loss = loss; Metrics = metrics; }

    /// <summary>Scalar −J, connected to the graph of the current log-probs.</summary>
    public Tensor Loss { get; }

    /// <summary>All metrics in one float64 vector, so reading them costs one host transfer;
    /// <see cref="ReadMetrics"/> names them.</summary>
    public Tensor Metrics { get; }

    /// <summary>Copies the metrics to the host (one synchronisation).</summary>
    public PolicyLossStats ReadMetrics() => PolicyLossStats.From(Metrics.cpu().data<double>().ToArray());

    /// <inheritdoc />
    public void Dispose() { Loss.Dispose(); Metrics.Dispose(); }
}

/// <summary>
/// Metrics of one objective evaluation (docs/metrics.md defines each). "Clipped" is sign-aware,
/// as in TRL: low = r &lt; 1−ε_low with Â &lt; 0, high = r &gt; 1+ε_high with Â &gt; 0, region = either;
/// exactly the positions whose gradient clipping removes. For GSPO a clipped response counts all
/// of its tokens. A response counts as clipped when any of its tokens is. Empty responses are
/// excluded from every count.
/// </summary>
public sealed record PolicyLossStats
{
    /// <summary>Fraction of response tokens clipped on the low side.</summary>
    public double ClipLowTokens { get; init; }
    /// <summary>Fraction of response tokens clipped on the high side.</summary>
    public double ClipHighTokens { get; init; }
    /// <summary>Fraction of response tokens clipped on either side.</summary>
    public double ClipRegionTokens { get; init; }
    /// <summary>Fraction of responses with a low-clipped token.</summary>
    public double ClipLowSequences { get; init; }
    /// <summary>Fraction of responses with a high-clipped token.</summary>
    public double ClipHighSequences { get; init; }
    /// <summary>Fraction of responses with a clipped token.</summary>
    public double ClipRegionSequences { get; init; }
    /// <summary>Mean importance ratio: over tokens for token, over responses (s_i) for sequence and sequence_token.</summary>
    public double RatioMean { get; init; }
    /// <summary>Smallest importance ratio, same population as <see cref="RatioMean"/>.</summary>
    public double RatioMin { get; init; }
    /// <summary>Largest importance ratio, same population as <see cref="RatioMean"/>.</summary>
    public double RatioMax { get; init; }
    /// <summary>KL(π_θold ‖ π_θ) estimated over tokens with k3: mean of (w − 1) − log w.</summary>
    public double ApproxKl { get; init; }
    /// <summary>KL(π_θ ‖ π_ref) estimated over tokens with k3; null without reference log-probs.</summary>
    public double? RefKl { get; init; }
    /// <summary>Non-empty responses.</summary>
    public long Sequences { get; init; }
    /// <summary>Response tokens.</summary>
    public long Tokens { get; init; }
    /// <summary>Log-ratios that exceeded ±<see cref="ObjectiveDefaults.LogRatioBound"/> and were clamped.</summary>
    public long ClampedLogRatios { get; init; }

    internal static PolicyLossStats From(double[] v) => new()
    {
        ClipLowTokens = v[0], ClipHighTokens = v[1], ClipRegionTokens = v[2],
        ClipLowSequences = v[3], ClipHighSequences = v[4], ClipRegionSequences = v[5],
        RatioMean = v[6], RatioMin = v[7], RatioMax = v[8], ApproxKl = v[9],
        RefKl = double.IsNaN(v[10]) ? null : v[10],
        Sequences = (long)v[11], Tokens = (long)v[12], ClampedLogRatios = (long)v[13],
    };
}

/// <summary>Computes the metric vector read by <see cref="PolicyLossStats.From"/>.</summary>
internal static class PolicyLossMetrics
{
    /// <param name="level">The importance-sampling level.</param>
    /// <param name="mask">[B, T] bool response mask.</param>
    /// <param name="lengths">[B] response lengths.</param>
    /// <param name="logRatio">[B, T] log w, zero at padding.</param>
    /// <param name="ratio">[B, 1] (sequence) or [B, T] importance ratio.</param>
    /// <param name="clippedLow">Low-clipped flags, shaped like <paramref name="ratio"/>.</param>
    /// <param name="clippedHigh">High-clipped flags, shaped like <paramref name="ratio"/>.</param>
    /// <param name="k3">[B, T] reference-KL estimates, or null.</param>
    /// <param name="clampHits">Scalar count of clamped log-ratios.</param>
    internal static Tensor Collect(ImportanceSamplingLevel level, Tensor mask, Tensor lengths, Tensor logRatio,
        Tensor ratio, Tensor clippedLow, Tensor clippedHigh, Tensor? k3, Tensor clampHits)
    {
        var f64 = ScalarType.Float64;
        var nonEmpty = lengths.gt(Scalars.Zero);
        var tokens = lengths.to_type(f64).sum();
        var sequences = nonEmpty.to_type(f64).sum();
        var perToken = tokens.clamp_min(Scalars.One);
        var perSequence = sequences.clamp_min(Scalars.One);

        var lowTokens = clippedLow.logical_and(mask);       // broadcasts [B, 1] flags over tokens
        var highTokens = clippedHigh.logical_and(mask);
        var regionTokens = lowTokens.logical_or(highTokens);
        Tensor TokenFraction(Tensor flags) => flags.to_type(f64).sum() / perToken;
        Tensor SequenceFraction(Tensor flags) => flags.any(1).to_type(f64).sum() / perSequence;

        // Ratio statistics over the unit the objective clips: tokens, or responses.
        bool perResponse = level != ImportanceSamplingLevel.Token;
        var valid = perResponse ? nonEmpty : mask;
        var values = (perResponse ? ratio[.., 0] : ratio).to_type(f64);
        var count = perResponse ? perSequence : perToken;
        var any = valid.any();
        var one = ones(new long[0], f64, values.device);
        var ratioMean = where(any, values.masked_fill(valid.logical_not(), Scalars.Zero).sum() / count, one);
        var ratioMin = where(any, values.masked_fill(valid.logical_not(), Scalars.PositiveInfinity).min(), one);
        var ratioMax = where(any, values.masked_fill(valid.logical_not(), Scalars.NegativeInfinity).max(), one);

        using var bound = ObjectiveDefaults.LogRatioBound.ToScalar();
        using var negativeBound = (-ObjectiveDefaults.LogRatioBound).ToScalar();
        var lw = logRatio.to_type(f64).clamp(negativeBound, bound);
        var approxKl = (lw.exp() - lw).sub(Scalars.One).masked_fill(mask.logical_not(), Scalars.Zero).sum() / perToken;
        var refKl = k3 is null ? full(new long[0], Scalars.NaN, f64, values.device)
            : k3.to_type(f64).masked_fill(mask.logical_not(), Scalars.Zero).sum() / perToken;

        return stack(new[]
        {
            TokenFraction(lowTokens), TokenFraction(highTokens), TokenFraction(regionTokens),
            SequenceFraction(lowTokens), SequenceFraction(highTokens), SequenceFraction(regionTokens),
            ratioMean, ratioMin, ratioMax, approxKl, refKl,
            sequences, tokens, clampHits.to_type(f64),
        });
    }
}
