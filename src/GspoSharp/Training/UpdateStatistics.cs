using GspoSharp.Objectives;

namespace GspoSharp.Training;

/// <summary>Accumulates the objective's metrics over the micro-batches of an RL step, weighting each
/// by its token and response counts, into the step's metrics.</summary>
internal sealed class UpdateStatistics(ImportanceSamplingLevel level)
{
    double tokens, sequences, lowTokens, highTokens, regionTokens, lowSequences, highSequences, regionSequences;
    double ratioSum, ratioWeight, approxKl, refKl, entropy, entropyTokens, loss, losses;
    double ratioMin = double.PositiveInfinity, ratioMax = double.NegativeInfinity;
    long clamped;
    bool hasRefKl;
    readonly List<double> gradNorms = new();
    int skipped;

    public void Add(PolicyLossStats s, double entropySum, double entropyCount)
    {
        if (s.Tokens == 0) return;
        tokens += s.Tokens;
        sequences += s.Sequences;
        lowTokens += s.ClipLowTokens * s.Tokens;
        highTokens += s.ClipHighTokens * s.Tokens;
        regionTokens += s.ClipRegionTokens * s.Tokens;
        lowSequences += s.ClipLowSequences * s.Sequences;
        highSequences += s.ClipHighSequences * s.Sequences;
        regionSequences += s.ClipRegionSequences * s.Sequences;
        double weight = level == ImportanceSamplingLevel.Token ? s.Tokens : s.Sequences;
        ratioSum += s.RatioMean * weight;
        ratioWeight += weight;
        ratioMin = Math.Min(ratioMin, s.RatioMin);
        ratioMax = Math.Max(ratioMax, s.RatioMax);
        approxKl += s.ApproxKl * s.Tokens;
        if (s.RefKl is { } kl) { refKl += kl * s.Tokens; hasRefKl = true; }
        clamped += s.ClampedLogRatios;
        entropy += entropySum;
        entropyTokens += entropyCount;
    }

    /// <summary>One optimizer step: its mini-batch loss (the sum of its micro-batch losses) and gradient norm.</summary>
    public void AddOptimizerStep(double miniBatchLoss, double gradNorm)
    {
        loss += miniBatchLoss;
        losses++;
        if (double.IsFinite(gradNorm)) gradNorms.Add(gradNorm);
        else skipped++;
    }

    /// <summary>Metrics named as in docs/metrics.md (TRL's names where TRL has them).</summary>
    public void WriteTo(IDictionary<string, double> m)
    {
        double T(double x) => tokens > 0 ? x / tokens : 0;
        double S(double x) => sequences > 0 ? x / sequences : 0;
        m["clip_fraction/tokens/low"] = T(lowTokens);
        m["clip_fraction/tokens/high"] = T(highTokens);
        m["clip_fraction/tokens/region"] = T(regionTokens);
        m["clip_fraction/sequences/low"] = S(lowSequences);
        m["clip_fraction/sequences/high"] = S(highSequences);
        m["clip_fraction/sequences/region"] = S(regionSequences);
        // TRL's clip_ratio/* count in the objective's own unit: tokens for GRPO, responses for GSPO.
        bool perToken = level == ImportanceSamplingLevel.Token;
        m["clip_ratio/low_mean"] = perToken ? T(lowTokens) : S(lowSequences);
        m["clip_ratio/high_mean"] = perToken ? T(highTokens) : S(highSequences);
        m["clip_ratio/region_mean"] = perToken ? T(regionTokens) : S(regionSequences);
        m["ratio/mean"] = ratioWeight > 0 ? ratioSum / ratioWeight : 1;
        m["ratio/min"] = double.IsFinite(ratioMin) ? ratioMin : 1;
        m["ratio/max"] = double.IsFinite(ratioMax) ? ratioMax : 1;
        m["approx_kl"] = T(approxKl);
        if (hasRefKl) m["kl"] = T(refKl);
        m["clamped_log_ratios"] = clamped;
        m["entropy"] = entropyTokens > 0 ? entropy / entropyTokens : 0;
        m["loss"] = losses > 0 ? loss / losses : 0;
        m["grad_norm"] = gradNorms.Count > 0 ? gradNorms.Average() : double.NaN;
        m["skipped_updates"] = skipped;
    }
}
