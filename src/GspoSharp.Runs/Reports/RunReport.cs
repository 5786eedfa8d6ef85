using System.Globalization;
using System.Text;
using GspoSharp.Models.Checkpoints;
using ScottPlot;

namespace GspoSharp.Reports;

/// <summary>
/// A Markdown report with PNG plots (ScottPlot) of one or more runs, overlaid for comparison:
/// reward, held-out and training accuracy, clip fractions, response length, KL, and for MoE the
/// expert-activation volatility, against step; before/after accuracy, timings and the config.
/// </summary>
public static class RunReport
{
    /// <summary>A curve of the report: file name, title, y label, and the metric keys drawn.</summary>
    sealed record Figure(string File, string Title, string YLabel, params string[] Keys);

    static readonly Figure[] Figures =
    {
        new("reward.png", "Training reward", "reward (10-step mean)", "reward"),
        new("accuracy.png", "Accuracy", "accuracy", "eval/accuracy", "rewards/accuracy/mean"),
        new("clipping.png", "Clipped fraction", "fraction (10-step mean)", "clip_fraction/tokens/region", "clip_fraction/sequences/region"),
        new("length.png", "Response length", "tokens (10-step mean)", "completions/mean_length"),
        new("kl.png", "KL", "nats (10-step mean)", "approx_kl", "kl"),
        new("volatility.png", "Expert-activation volatility per update (MoE)", "fraction of activated experts changed", "routing/volatility"),
    };

    /// <summary>Writes report.md and the PNGs into <paramref name="outputDirectory"/> and returns report.md's path.</summary>
    public static string Write(IReadOnlyList<RunData> runs, string outputDirectory)
    {
        if (runs.Count == 0) throw new ArgumentException("a report needs at least one run.");
        Directory.CreateDirectory(outputDirectory);
        var md = new StringBuilder();
        md.AppendLine(runs.Count == 1 ? $"# Run {runs[0].Name}" : $"# {runs.Count} runs compared").AppendLine();
        Results(md, runs);
        foreach (var figure in Figures)
        {
            if (!runs.Any(r => figure.Keys.Any(k => r.Series(k).Count > 0))) continue;
            Plot(runs, figure, Path.Combine(outputDirectory, figure.File));
            md.AppendLine($"## {figure.Title}").AppendLine().AppendLine($"![{figure.Title}]({figure.File})").AppendLine();
        }
        Timings(md, runs);
        md.AppendLine("## Config").AppendLine();
        foreach (var run in runs.Where(r => r.Config.Length > 0).Take(runs.Count == 1 ? 1 : 8))
        {
            if (runs.Count > 1) md.AppendLine($"`{run.Name}`:").AppendLine();
            md.AppendLine("```yaml").Append(run.Config).AppendLine("```").AppendLine();
        }
        string path = Path.Combine(outputDirectory, "report.md");
        AtomicFile.WriteAllText(path, md.ToString());
        return path;
    }

    static string F(double? v, string format = "F3") => v?.ToString(format, CultureInfo.InvariantCulture) ?? "—";

    static void Results(StringBuilder md, IReadOnlyList<RunData> runs)
    {
        md.AppendLine("| run | held-out accuracy before | after | RL steps | wall time | final reward (10-step mean) |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in runs)
        {
            var reward = r.Series("reward");
            double? last = reward.Count > 0 ? reward.TakeLast(10).Average(p => p.Value) : null;
            var wall = r.SummaryValue("wall_seconds");
            md.AppendLine($"| {r.Name} | {F(r.SummaryValue("accuracy_before"))} | {F(r.SummaryValue("accuracy_after"))} | " +
                          $"{(r.Steps.Count > 0 ? r.Steps.Max(s => s.Step) : 0)} | {(wall is { } w ? TimeSpan.FromSeconds(w).ToString(@"m\:ss", CultureInfo.InvariantCulture) : "—")} | {F(last)} |");
        }
        md.AppendLine();
    }

    static void Timings(StringBuilder md, IReadOnlyList<RunData> runs)
    {
        string[] parts = { "time/generation", "time/old_logprobs", "time/update", "time/step" };
        if (!runs.Any(r => r.Series("time/step").Count > 0)) return;
        md.AppendLine("## Time per RL step").AppendLine();
        md.AppendLine("| run | generation | old log-probs | update | whole step | generated tokens/s |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in runs)
        {
            string Mean(string key) => r.Series(key) is { Count: > 0 } s ? F(s.Average(p => p.Value), "F2") + " s" : "—";
            var speed = r.Series("tokens_per_second/generation");
            md.AppendLine($"| {r.Name} | {string.Join(" | ", parts.Select(Mean))} | {(speed.Count > 0 ? F(speed.Average(p => p.Value), "F0") : "—")} |");
        }
        md.AppendLine();
    }

    /// <summary>Draws each run's curves of <paramref name="figure"/>; training metrics as 10-step moving means.</summary>
    static void Plot(IReadOnlyList<RunData> runs, Figure figure, string path)
    {
        var plot = new Plot();
        foreach (var run in runs)
            foreach (var key in figure.Keys)
            {
                var series = run.Series(key);
                if (series.Count == 0) continue;
                var ys = key.StartsWith("eval/", StringComparison.Ordinal) ? series.Select(p => p.Value).ToArray() : MovingMean(series.Select(p => p.Value).ToArray(), 10);
                var line = plot.Add.ScatterLine(series.Select(p => p.Step).ToArray(), ys);
                line.LegendText = (runs.Count > 1 ? run.Name + ": " : "") + key;
                if (key.StartsWith("eval/", StringComparison.Ordinal)) line.MarkerSize = 7;
            }
        plot.Title(figure.Title);
        plot.XLabel("step");
        plot.YLabel(figure.YLabel);
        plot.ShowLegend();
        AtomicFile.WriteAllBytes(path, plot.GetImageBytes(900, 480, ImageFormat.Png));
    }

    /// <summary>Trailing mean over up to <paramref name="window"/> values.</summary>
    internal static double[] MovingMean(double[] values, int window)
    {
        var result = new double[values.Length];
        double sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            sum += values[i];
            if (i >= window) sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
