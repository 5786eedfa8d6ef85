using System.Globalization;
using System.Text;
using GspoSharp.Experiments;
using GspoSharp.Models.Checkpoints;
using ScottPlot;

namespace GspoSharp.Reports;

/// <summary>
/// The aggregate report of an experiment: per model, each arm's mean ± std across seeds of
/// held-out accuracy and training reward against step and against wall-clock, clip fractions,
/// response length, token entropy, train–rollout mismatch and (MoE) expert-activation volatility; a table of
/// before / final / best accuracy, steps to the target accuracy, RL minutes, clipped fractions, mismatch and
/// volatility, and one of the mean accuracy at every evaluation; per arm, how many runs
/// collapsed or degraded by the fixed definitions of <see cref="RunHealth"/>, and each marked run's reason.
/// </summary>
public static class ExperimentReport
{
    /// <summary>The runs of one arm of one model.</summary>
    public sealed record Arm(string Model, string Name, IReadOnlyList<RunData> Runs);

    /// <summary>Reads the finished (or stopped) runs of <paramref name="matrix"/> under <paramref name="outputDirectory"/>.</summary>
    public static IReadOnlyList<Arm> Collect(ExperimentMatrix matrix, string outputDirectory) => matrix.Runs
        .GroupBy(r => (r.Model, r.Arm))
        .Select(g => new Arm(g.Key.Model, g.Key.Arm, g
            .Select(r => Path.Combine(outputDirectory, r.RelativeDirectory))
            .Where(d => File.Exists(Path.Combine(d, "summary.json")))
            .Select(RunData.Load).ToList()))
        .Where(a => a.Runs.Count > 0).ToList();

    /// <summary>Writes results.md and PNGs into <paramref name="outputDirectory"/>; returns the Markdown path.</summary>
    public static string Write(ExperimentMatrix matrix, IReadOnlyList<Arm> arms, string outputDirectory)
    {
        var md = new StringBuilder($"# Experiment {matrix.Name}\n\n");
        md.AppendLine($"{arms.Sum(a => a.Runs.Count)} runs of {matrix.Runs.Count} planned; seeds {string.Join(", ", matrix.Seeds)}. " +
                      "Curves are means over seeds with ±1 std bands; training curves are 10-step moving means.").AppendLine();
        md.AppendLine($"**Collapsed**: held-out accuracy fell {RunHealth.CollapseDrop} or more below its best so far and no evaluation within " +
                      $"{RunHealth.RecoveryWindow} steps came back above that level; or an entropy or length blow-up held for {RunHealth.RecoveryWindow} steps. " +
                      $"**Degraded**: not collapsed, but the final accuracy is {RunHealth.DegradeDrop} or more below the best, or a drop or blow-up was " +
                      "still on when the run ended. Diverged runs (stopped on NaN/∞) are marked apart. The exact rules: docs/results.md.").AppendLine();
        foreach (var model in arms.Select(a => a.Model).Distinct())
        {
            var group = arms.Where(a => a.Model == model).ToList();
            md.AppendLine($"## {model}").AppendLine();
            Table(md, group, matrix.TargetAccuracy);
            Evaluations(md, group);
            foreach (var (file, title, key, ylabel, smooth, byTime) in new[]
                     {
                         ("accuracy", "Held-out accuracy", "eval/accuracy", "accuracy (pass@1)", false, false),
                         ("accuracy-time", "Held-out accuracy against wall-clock", "eval/accuracy", "accuracy (pass@1)", false, true),
                         ("reward", "Training reward", "reward", "reward", true, false),
                         ("reward-time", "Training reward against wall-clock", "reward", "reward", true, true),
                         ("clip-tokens", "Clipped tokens", "clip_fraction/tokens/region", "fraction of tokens", true, false),
                         ("clip-sequences", "Clipped responses", "clip_fraction/sequences/region", "fraction of responses", true, false),
                         ("volatility", "Expert-activation volatility per update", "routing/volatility", "fraction of activated experts", true, false),
                         ("mismatch", "Train–rollout mismatch (k3 KL per token, trainer vs sampler)", "mismatch/k3_kl", "nats per token", true, false),
                         ("entropy", "Token entropy", "entropy", "nats per token", true, false),
                         ("length", "Response length", "completions/mean_length", "tokens", true, false),
                     })
            {
                if (!group.Any(a => a.Runs.Any(r => r.Series(key).Count > 0))) continue;
                string png = $"{model}-{file}.png";
                Plot(group, key, title, ylabel, smooth, byTime, Path.Combine(outputDirectory, png));
                md.AppendLine($"![{model}: {title}]({png})").AppendLine();
            }
        }
        string path = Path.Combine(outputDirectory, "results.md");
        AtomicFile.WriteAllText(path, md.ToString());
        return path;
    }

    static string F(double v, string format = "F3") => v.ToString(format, CultureInfo.InvariantCulture);

    static string MeanStd(IReadOnlyList<double> values, string format = "F3") => values.Count == 0 ? "—"
        : values.Count == 1 ? F(values[0], format) : $"{F(values.Average(), format)} ± {F(Std(values), format)}";

    static double Std(IReadOnlyList<double> v)
    {
        if (v.Count < 2) return 0;
        double mean = v.Average();
        return Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
    }

    /// <summary>Accuracy at every evaluation of a run, with the before-RL accuracy at step 0.</summary>
    internal static IReadOnlyList<(double Step, double Value)> Accuracy(RunData run)
    {
        var points = run.Series("eval/accuracy").ToList();
        if (run.SummaryValue("accuracy_before") is { } before) points.Insert(0, (0, before));
        return points;
    }

    /// <summary>A run's mark: how it stopped early (e.g. diverged on NaN), or its <see cref="RunHealth"/> verdict
    /// with the reason ("collapsed: …", "degraded: …"); null for a healthy run.</summary>
    public static string? Status(RunData run)
    {
        if (run.Summary?["stopped"]?.GetValue<string>() is { } stopped) return stopped;
        var health = RunHealth.Judge(run);
        return health.Verdict == HealthVerdict.Healthy ? null : $"{(health.Verdict == HealthVerdict.Collapsed ? "collapsed" : "degraded")}: {health.Reason}";
    }

    /// <summary>"n/N" runs of the arm with <paramref name="verdict"/>.</summary>
    static string Count(Arm arm, HealthVerdict verdict) =>
        $"{arm.Runs.Count(r => r.Summary?["stopped"] is null && RunHealth.Judge(r).Verdict == verdict)}/{arm.Runs.Count}";

    static void Table(StringBuilder md, IReadOnlyList<Arm> arms, double? target)
    {
        md.AppendLine($"| arm | runs | accuracy before | final accuracy | best accuracy | steps to {(target is { } t ? F(t, "F2") : "target")} | " +
                      "RL minutes | clipped tokens | clipped responses | mismatch KL | volatility | collapsed | degraded | marked |");
        md.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var arm in arms)
        {
            var finals = arm.Runs.Select(r => r.SummaryValue("accuracy_after")).Where(v => v is not null).Select(v => v!.Value).ToList();
            var bests = arm.Runs.Select(r => Accuracy(r) is { Count: > 0 } a ? a.Max(p => p.Value) : double.NaN).Where(double.IsFinite).ToList();
            var befores = arm.Runs.Select(r => r.SummaryValue("accuracy_before")).Where(v => v is not null).Select(v => v!.Value).ToList();
            var toTarget = target is { } goal
                ? arm.Runs.Select(r => Accuracy(r).FirstOrDefault(p => p.Value >= goal) is var hit && hit != default ? hit.Step : double.NaN).ToList()
                : new List<double>();
            var reached = toTarget.Where(double.IsFinite).ToList();
            string steps = target is null ? "—" : reached.Count == 0 ? $"not reached (0/{arm.Runs.Count})"
                : $"{MeanStd(reached, "F0")}{(reached.Count < arm.Runs.Count ? $" ({reached.Count}/{arm.Runs.Count} reached)" : "")}";
            string RunMean(string key, string format = "F4") =>
                MeanStd(arm.Runs.Select(r => r.Series(key)).Where(s => s.Count > 0).Select(s => s.Average(p => p.Value)).ToList(), format);
            var marks = arm.Runs.Select(r => (r.Name, Status: Status(r))).Where(x => x.Status is not null).Select(x => $"seed {x.Name.Replace("seed-", "")}: {x.Status}");
            string Optional(string key) => arm.Runs.Any(r => r.Series(key).Count > 0) ? RunMean(key) : "—";
            var minutes = arm.Runs.Select(r => r.Series("time/step").Sum(p => p.Value) / 60).ToList();
            md.AppendLine($"| {arm.Name} | {arm.Runs.Count} | {MeanStd(befores)} | {MeanStd(finals)} | {MeanStd(bests)} | {steps} | " +
                          $"{MeanStd(minutes, "F1")} | {RunMean("clip_fraction/tokens/region")} | {RunMean("clip_fraction/sequences/region")} | {Optional("mismatch/k3_kl")} | " +
                          $"{Optional("routing/volatility")} | " +
                          $"{Count(arm, HealthVerdict.Collapsed)} | {Count(arm, HealthVerdict.Degraded)} | {string.Join("; ", marks)} |");
        }
        md.AppendLine();
    }

    /// <summary>Each arm's held-out accuracy at every evaluation step (step 0 = before RL): mean ± std over the
    /// runs evaluated at that step, with their count when not all were (a run stopped early).</summary>
    static void Evaluations(StringBuilder md, IReadOnlyList<Arm> arms)
    {
        var steps = arms.SelectMany(a => a.Runs).SelectMany(r => Accuracy(r).Select(p => p.Step)).Distinct().Order().ToList();
        if (steps.Count == 0) return;
        md.AppendLine("Held-out accuracy at each evaluation:").AppendLine();
        md.AppendLine($"| arm | {string.Join(" | ", steps.Select(s => $"step {F(s, "F0")}"))} |");
        md.AppendLine($"|---|{string.Concat(steps.Select(_ => "---|"))}");
        foreach (var arm in arms)
        {
            var cells = steps.Select(step =>
            {
                var values = arm.Runs.Select(r => Accuracy(r).Where(p => p.Step == step).Select(p => p.Value).ToList())
                    .Where(v => v.Count > 0).Select(v => v[^1]).ToList();
                return values.Count == 0 ? "—" : values.Count < arm.Runs.Count ? $"{MeanStd(values, "F2")} (n={values.Count})" : MeanStd(values, "F2");
            });
            md.AppendLine($"| {arm.Name} | {string.Join(" | ", cells)} |");
        }
        md.AppendLine();
    }

    /// <summary>Mean ± std across an arm's seeds, at the steps all of them logged.</summary>
    static void Plot(IReadOnlyList<Arm> arms, string key, string title, string ylabel, bool smooth, bool byTime, string path)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int colorIndex = 0;
        foreach (var arm in arms)
        {
            var color = palette.GetColor(colorIndex++);
            var series = arm.Runs.Select(r =>
            {
                var s = key == "eval/accuracy" ? Accuracy(r) : r.Series(key);
                var values = smooth ? RunReport.MovingMean(s.Select(p => p.Value).ToArray(), 10) : s.Select(p => p.Value).ToArray();
                var clock = Cumulative(r);
                return s.Select((p, i) => (p.Step, Time: clock.TryGetValue((int)p.Step, out var c) ? c : 0, Value: values[i])).ToList();
            }).Where(s => s.Count > 0).ToList();
            if (series.Count == 0) continue;
            var steps = series.Select(s => s.Select(p => p.Step).ToHashSet()).Aggregate((a, b) => { a.IntersectWith(b); return a; }).Order().ToArray();
            if (steps.Length == 0) continue;
            var mean = steps.Select(st => series.Average(s => s.First(p => p.Step == st).Value)).ToArray();
            var std = steps.Select(st => Std(series.Select(s => s.First(p => p.Step == st).Value).ToList())).ToArray();
            var xs = byTime ? steps.Select(st => series.Average(s => s.First(p => p.Step == st).Time) / 60).ToArray() : steps;
            if (series.Count > 1)
            {
                var band = plot.Add.FillY(xs, mean.Select((m, i) => m - std[i]).ToArray(), mean.Select((m, i) => m + std[i]).ToArray());
                band.FillStyle.Color = color.WithAlpha(0.2);
                band.LineStyle.Width = 0;
            }
            var line = plot.Add.ScatterLine(xs, mean);
            line.Color = color;
            line.LegendText = $"{arm.Name} (n={series.Count})";
            if (key == "eval/accuracy") line.MarkerSize = 5;
        }
        plot.Title(title);
        plot.XLabel(byTime ? "wall-clock minutes (RL steps)" : "step");
        plot.YLabel(ylabel);
        plot.ShowLegend();
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(900, 480, ImageFormat.Png));
    }

    /// <summary>Seconds of RL steps up to each step (step 0 = 0).</summary>
    static Dictionary<int, double> Cumulative(RunData run)
    {
        var clock = new Dictionary<int, double> { [0] = 0 };
        double total = 0;
        foreach (var (step, metrics) in run.Steps)
            if (metrics.TryGetValue("time/step", out var seconds))
            {
                total += seconds;
                clock[step] = total;
            }
            else clock.TryAdd(step, total);
        return clock;
    }
}
