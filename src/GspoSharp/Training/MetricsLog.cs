using System.Globalization;
using System.Text;
using GspoSharp.Models.TestHooks;

namespace GspoSharp.Training;

/// <summary>Appends one JSON object per line to metrics.jsonl, flushed at once (a crash loses nothing written).</summary>
public sealed class MetricsLog(string path) : IDisposable
{
    readonly StreamWriter writer = new(path, append: true, new UTF8Encoding(false)) { AutoFlush = true };

    /// <summary>Writes the metrics (NaN and ∞ as null, which JSON lacks numbers for).</summary>
    public void Write(IReadOnlyDictionary<string, double> metrics)
    {
        var line = new StringBuilder("{");
        foreach (var (key, value) in metrics.OrderBy(p => p.Key == "step" ? "" : p.Key, StringComparer.Ordinal))
        {
            if (line.Length > 1) line.Append(", ");
            line.Append('"').Append(key).Append("\": ")
                .Append(double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "null");
        }
        line.Append('}');
        if (CrashPoints.Enabled && CrashPoints.Reached(CrashPoints.MetricsAppend, path))
        {
            // Test only: the process dies half-way through the line, as a crash or a full disk leaves it.
            writer.Write(line.ToString(0, line.Length / 2));
            CrashPoints.Kill();
        }
        writer.WriteLine(line);
    }

    /// <inheritdoc />
    public void Dispose() => writer.Dispose();
}
