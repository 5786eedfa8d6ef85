using GspoSharp.Objectives;

namespace GspoSharp.Tests.Objectives;

/// <summary>
/// An independent float64 implementation of the objectives, written straight from the equations
/// in the paper (docs/algorithms/objectives.md) with plain loops (no TorchSharp), together with the analytic gradient of the loss
/// with respect to every current log-prob. Tests compare the library's autograd against it.
/// Responses are jagged arrays: no padding exists here at all.
/// </summary>
internal static class ReferenceObjective
{
    internal sealed record Result(double Loss, double[][] Gradient, double ClipLowTokens, double ClipHighTokens,
        double ClipRegionSequences, double RatioMean, double RatioMin, double RatioMax, double ApproxKl);

    /// <param name="logp">Current log-probs per response.</param>
    /// <param name="old">Old log-probs per response.</param>
    /// <param name="adv">Per-token advantages per response (repeat Â_i for sequence advantages).</param>
    /// <param name="reference">Reference log-probs, or null.</param>
    internal static Result Compute(double[][] logp, double[][] old, double[][] adv, double[][]? reference,
        ImportanceSamplingLevel level, double epsLow, double epsHigh, double beta = 0,
        LossType lossType = LossType.Grpo, int maxCompletionLength = 256, double tauPos = 1.0, double tauNeg = 1.05)
    {
        bool sapo = lossType == LossType.Sapo;
        static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
        int b = logp.Length;
        int n = logp.Count(r => r.Length > 0);
        int tokens = logp.Sum(r => r.Length);
        double lo = 1 - epsLow, hi = 1 + epsHigh;
        double loss = 0, lowTokens = 0, highTokens = 0, regionSequences = 0, approxKl = 0;
        var ratios = new List<double>();
        var grad = logp.Select(r => new double[r.Length]).ToArray();

        for (int i = 0; i < b; i++)
        {
            int len = logp[i].Length;
            if (len == 0) continue;
            // Aggregation weight c_i of each of this response's per-token losses.
            double c = lossType switch
            {
                LossType.Grpo or LossType.Sapo => 1.0 / (n * len),
                LossType.Dapo => 1.0 / tokens,
                _ => 1.0 / ((double)b * maxCompletionLength),
            };
            double meanLogRatio = 0;
            for (int t = 0; t < len; t++) meanLogRatio += (logp[i][t] - old[i][t]) / len;
            double s = Math.Exp(meanLogRatio);
            if (level != ImportanceSamplingLevel.Token) ratios.Add(s);
            bool anyClipped = false;
            for (int t = 0; t < len; t++)
            {
                double w = Math.Exp(logp[i][t] - old[i][t]);
                approxKl += (w - 1 - Math.Log(w)) / tokens;
                double r = level == ImportanceSamplingLevel.Token ? w : s;
                if (level == ImportanceSamplingLevel.Token) ratios.Add(w);
                double a = adv[i][t];
                // SAPO: term = g(r)·Â with g(r) = (4/τ)σ(τ(r−1)); its slope g'(r) = 4σ(1−σ) replaces the 1 of r·Â.
                double tau = a > 0 ? tauPos : tauNeg;
                double term = sapo ? 4 / tau * Sigmoid(tau * (r - 1)) * a : Math.Min(r * a, Math.Clamp(r, lo, hi) * a);
                double slope = sapo ? 4 * Sigmoid(tau * (r - 1)) * (1 - Sigmoid(tau * (r - 1))) : 1;
                bool low = r < lo && a < 0, high = r > hi && a > 0;
                bool gated = !sapo && (low || high);   // no gradient: the hard clip
                lowTokens += low ? 1 : 0;
                highTokens += high ? 1 : 0;
                anyClipped |= low || high;
                loss += c * -term;
                if (!gated)   // d(r·Â)/d logp_{i,t}
                    grad[i][t] += slope * level switch
                    {
                        ImportanceSamplingLevel.Token => -c * w * a,
                        ImportanceSamplingLevel.SequenceToken => -c * s * a,
                        // every token's loss holds s_i, and ∂s_i/∂logp_{i,t'} = s_i/|y_i|
                        _ => 0,
                    };
                if (level == ImportanceSamplingLevel.Sequence && !gated)
                    for (int u = 0; u < len; u++) grad[i][u] += -c * slope * a * s / len;
                if (reference is not null)
                {
                    double d = reference[i][t] - logp[i][t];
                    if (beta > 0)
                    {
                        loss += c * beta * (Math.Exp(d) - d - 1);
                        grad[i][t] += c * beta * (1 - Math.Exp(d));
                    }
                }
            }
            regionSequences += anyClipped ? 1 : 0;
        }
        return new Result(loss, grad, lowTokens / tokens, highTokens / tokens, regionSequences / n,
            ratios.Average(), ratios.Min(), ratios.Max(), approxKl);
    }

    /// <summary>Per-token advantages that repeat each response's Â_i.</summary>
    internal static double[][] Repeat(double[] perSequence, double[][] shape) =>
        shape.Select((r, i) => Enumerable.Repeat(perSequence[i], r.Length).ToArray()).ToArray();
}
