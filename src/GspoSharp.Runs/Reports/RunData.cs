using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Tasks;

namespace GspoSharp.Reports;

/// <summary>What a report reads of a run directory: its metrics, summary and config.</summary>
/// <param name="Directory">The run directory.</param>
/// <param name="Name">Its name (the legend of overlaid curves).</param>
/// <param name="Steps">One entry per metrics.jsonl line: the step and its metrics.</param>
/// <param name="Summary">summary.json, or null while the run has not finished.</param>
/// <param name="Config">config.yaml as text.</param>
public sealed record RunData(string Directory, string Name, IReadOnlyList<(int Step, IReadOnlyDictionary<string, double> Metrics)> Steps,
    JsonObject? Summary, string Config)
{
    /// <summary>Reads <paramref name="directory"/>; errors name the file and line.</summary>
    public static RunData Load(string directory)
    {
        string metrics = Path.Combine(directory, "metrics.jsonl");
        if (!File.Exists(metrics)) throw new FileNotFoundException($"{metrics}: file not found; is {directory} a run directory?");
        var steps = new List<(int, IReadOnlyDictionary<string, double>)>();
        foreach (var (line, obj) in JsonLinesFile.Read(metrics))
        {
            var values = obj.Where(p => p.Value is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
                .ToDictionary(p => p.Key, p => double.Parse(p.Value!.ToJsonString(), CultureInfo.InvariantCulture));
            if (!values.TryGetValue("step", out var step)) throw new InvalidDataException($"{metrics}:{line}: no \"step\".");
            steps.Add(((int)step, values));
        }
        string summaryPath = Path.Combine(directory, "summary.json");
        var summary = File.Exists(summaryPath) ? JsonNode.Parse(File.ReadAllText(summaryPath)) as JsonObject : null;
        string configPath = Path.Combine(directory, "config.yaml");
        return new RunData(directory, Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory))), steps, summary,
            File.Exists(configPath) ? File.ReadAllText(configPath) : "");
    }

    /// <summary>(step, value) of every line that has <paramref name="key"/>.</summary>
    public IReadOnlyList<(double Step, double Value)> Series(string key) =>
        Steps.Where(s => s.Metrics.ContainsKey(key) && double.IsFinite(s.Metrics[key])).Select(s => ((double)s.Step, s.Metrics[key])).ToList();

    /// <summary>A number of summary.json, or null.</summary>
    public double? SummaryValue(string key) => Summary?[key] is JsonValue v && v.TryGetValue(out double d) ? d : null;
}
