using System.Globalization;

namespace GspoSharp.Reports;

/// <summary>How a run ended up, by the fixed definitions of docs/results.md ("Collapse and degradation").</summary>
public enum HealthVerdict
{
    /// <summary>Neither collapsed nor degraded.</summary>
    Healthy,
    /// <summary>Lost ground, but not (observably) for good.</summary>
    Degraded,
    /// <summary>Lost ground and did not recover within <see cref="RunHealth.RecoveryWindow"/> steps.</summary>
    Collapsed,
}

/// <summary>The verdict and the first reason for it (null when healthy).</summary>
public sealed record RunHealthResult(HealthVerdict Verdict, string? Reason);

/// <summary>
/// The definitions of "collapsed" and "degraded", fixed before any result was looked at
/// (docs/results.md). Inputs: held-out accuracy A(s) at each evaluation (step 0 = before RL), and
/// per-step training metrics (mean token entropy, fraction of responses cut at max_completion_length).
/// <code>
///   B(s) = max of A at evaluations ≤ s                                   (best so far)
///   accuracy drop at s:   A(s) ≤ B(s) − 0.2
///   collapsed (accuracy): a drop at s, and no evaluation in (s, s + 50] above B(s) − 0.2,
///                         and the run was evaluated at or after s + 50
///   m_t = trailing 10-step mean of a training metric; m₀ = mean of its first 10 steps
///   entropy blow-up:      m_t(entropy) &gt; max(2·m₀, m₀ + 0.5 nats)
///   length blow-up:       m_t(truncated fraction) ≥ 0.5, when m₀ &lt; 0.25
///   collapsed (blow-up):  a blow-up holding for 50 consecutive steps
///   degraded:             not collapsed, and the final accuracy ≤ best − 0.1, or a drop still unrecovered
///                         when the run ended (less than 50 steps to judge), or a blow-up holding
///                         at the run's last step for fewer than 50 steps
/// </code>
/// </summary>
public static class RunHealth
{
    /// <summary>An accuracy drop of this much below the best so far starts a collapse.</summary>
    public const double CollapseDrop = 0.2;
    /// <summary>Steps within which a drop must recover, and for which a blow-up must hold, to count as collapse.</summary>
    public const int RecoveryWindow = 50;
    /// <summary>A final accuracy this far below the run's best is degraded.</summary>
    public const double DegradeDrop = 0.1;
    /// <summary>Window of the trailing means of training metrics, and of their starting level.</summary>
    public const int Smoothing = 10;
    /// <summary>Entropy blow-up: above this multiple of the start …</summary>
    public const double EntropyFactor = 2.0;
    /// <summary>… and at least this many nats above it.</summary>
    public const double EntropyMargin = 0.5;
    /// <summary>Length blow-up: at least this fraction of responses cut at max_completion_length …</summary>
    public const double TruncatedBlowUp = 0.5;
    /// <summary>… in a run that started below this fraction.</summary>
    public const double TruncatedStart = 0.25;

    /// <summary>Judges a run directory's data (entropy: <c>entropy</c>; truncation: <c>completions/clipped_ratio</c>).</summary>
    public static RunHealthResult Judge(RunData run) =>
        Judge(ExperimentReport.Accuracy(run), run.Series("entropy"), run.Series("completions/clipped_ratio"));

    /// <summary>Judges the series of one run; each is (step, value) in increasing step order.</summary>
    public static RunHealthResult Judge(IReadOnlyList<(double Step, double Value)> accuracy,
        IReadOnlyList<(double Step, double Value)> entropy, IReadOnlyList<(double Step, double Value)> truncated)
    {
        string? degraded = null;

        // Accuracy: drops below the best so far, and whether they recovered within the window.
        double best = double.NegativeInfinity;
        for (int i = 0; i < accuracy.Count; i++)
        {
            var (step, value) = accuracy[i];
            best = Math.Max(best, value);
            if (value > best - CollapseDrop) continue;
            double floor = best - CollapseDrop;
            bool recovered = accuracy.Skip(i + 1).Any(p => p.Step <= step + RecoveryWindow && p.Value > floor);
            bool observed = accuracy[^1].Step >= step + RecoveryWindow;
            if (!recovered && observed)
                return new(HealthVerdict.Collapsed, $"accuracy fell to {F(value)} at step {step:F0} from a best of {F(best)} and did not recover within {RecoveryWindow} steps");
            if (!recovered)
                degraded ??= $"accuracy fell to {F(value)} at step {step:F0} from a best of {F(best)}; the run ended before {RecoveryWindow} steps could show a recovery";
        }

        foreach (var (name, series, threshold) in new[]
                 {
                     ("entropy", entropy, EntropyThreshold(entropy)),
                     ("length", truncated, TruncationThreshold(truncated)),
                 })
        {
            if (threshold is not { } limit) continue;
            var (longest, atEnd, start) = Above(series, limit);
            string what = name == "entropy"
                ? $"entropy (10-step mean) above {F(limit)} nats"
                : $"{F(limit)} or more of the responses (10-step mean) cut at max_completion_length";
            if (longest >= RecoveryWindow)
                return new(HealthVerdict.Collapsed, $"{name} blow-up: {what} for {longest} steps from step {start}");
            if (atEnd > 0)
                degraded ??= $"{name} blow-up at the end: {what} for the last {atEnd} steps";
        }

        if (accuracy.Count > 0 && degraded is null)
        {
            double top = accuracy.Max(p => p.Value), last = accuracy[^1].Value;
            if (last <= top - DegradeDrop + 1e-12)
                degraded = $"final accuracy {F(last)} is {F(top - last)} below the best {F(top)}";
        }
        return degraded is null ? new(HealthVerdict.Healthy, null) : new(HealthVerdict.Degraded, degraded);
    }

    /// <summary>The entropy blow-up threshold max(2·m₀, m₀ + 0.5), or null without enough steps.</summary>
    static double? EntropyThreshold(IReadOnlyList<(double Step, double Value)> series)
    {
        if (series.Count < Smoothing) return null;
        double start = series.Take(Smoothing).Average(p => p.Value);
        return Math.Max(EntropyFactor * start, start + EntropyMargin);
    }

    /// <summary>The length blow-up threshold, or null when the run started at or above <see cref="TruncatedStart"/>.</summary>
    static double? TruncationThreshold(IReadOnlyList<(double Step, double Value)> series) =>
        series.Count >= Smoothing && series.Take(Smoothing).Average(p => p.Value) < TruncatedStart ? TruncatedBlowUp : null;

    /// <summary>Longest run of consecutive steps whose trailing mean exceeds <paramref name="limit"/> (≥ for the
    /// length limit, which is a fraction reached exactly), the length of the run that reaches the last step, and
    /// the first step of the longest run.</summary>
    static (int Longest, int AtEnd, double Start) Above(IReadOnlyList<(double Step, double Value)> series, double limit)
    {
        var means = RunReport.MovingMean(series.Select(p => p.Value).ToArray(), Smoothing);
        int longest = 0, current = 0;
        double start = 0, currentStart = 0;
        for (int i = 0; i < means.Length; i++)
        {
            bool above = limit == TruncatedBlowUp ? means[i] >= limit : means[i] > limit;
            if (!above) { current = 0; continue; }
            if (current == 0) currentStart = series[i].Step;
            current++;
            if (current > longest) (longest, start) = (current, currentStart);
        }
        return (longest, current, start);
    }

    static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
