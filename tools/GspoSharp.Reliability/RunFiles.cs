using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Training;

namespace GspoSharp.Reliability;

/// <summary>What the harnesses read of a run directory, and the promises they check on it (docs/training.md).</summary>
internal static class RunFiles
{
    /// <summary>metrics.jsonl as lines; a last line without a closing brace (torn by a crash) is returned as null.</summary>
    public static List<JsonObject?> Metrics(string run)
    {
        string path = Path.Combine(run, "metrics.jsonl");
        if (!File.Exists(path)) return [];
        return File.ReadAllLines(path).Where(l => l.Length > 0).Select(Parse).ToList();

        static JsonObject? Parse(string line)
        {
            try
            {
                return JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                return null;
            }
        }
    }

    /// <summary>summary.json, or null when absent.</summary>
    public static JsonObject? Summary(string run)
    {
        string path = Path.Combine(run, "summary.json");
        return File.Exists(path) ? JsonNode.Parse(File.ReadAllText(path)) as JsonObject : null;
    }

    /// <summary>True when summary.json says the run trained all <paramref name="maxSteps"/> steps and was not stopped.</summary>
    public static bool Finished(string run, int maxSteps) =>
        Summary(run) is { } s && s["stopped"] is null && s["steps"]?.GetValue<int>() == maxSteps && s["final_model"] is not null;

    /// <summary>Metrics that measure the machine, not the computation.</summary>
    public static bool Deterministic(string key) =>
        !key.StartsWith("time/", StringComparison.Ordinal) && !key.StartsWith("tokens_per_second/", StringComparison.Ordinal) &&
        !key.StartsWith("memory/", StringComparison.Ordinal);

    /// <summary>
    /// What a crash at any moment must never leave: a visible checkpoint, model or small file that is
    /// incomplete, or a torn metrics line other than the last. Returns each violation found.
    /// </summary>
    public static List<string> Violations(string run)
    {
        var found = new List<string>();
        void Check(string what, Action action)
        {
            try
            {
                action();
            }
            catch (Exception e) when (e is IOException or InvalidDataException or JsonException or ModelFormatException
                                          or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
            {
                found.Add($"{what}: {e.Message}");
            }
        }

        var checkpoints = new Checkpoints(run).List();
        long? optimizerBytes = null;
        foreach (var (step, path) in checkpoints)
        {
            string name = Path.GetFileName(path);
            Check(name, () =>
            {
                foreach (var file in new[] { "model/config.json", "model/tokenizer.json", "optimizer.bin", "trainer_state.json", "config.yaml" })
                    if (!File.Exists(Path.Combine(path, file))) throw new InvalidDataException($"{file} missing");
                if (Checkpoints.ReadState(path).Step != step) throw new InvalidDataException("trainer_state.json names another step");
                OpenModel(Path.Combine(path, "model"));
                long bytes = new FileInfo(Path.Combine(path, "optimizer.bin")).Length;
                if (optimizerBytes is { } b && b != bytes) throw new InvalidDataException($"optimizer.bin has {bytes} bytes, another checkpoint {b}");
                optimizerBytes = bytes;
            });
        }
        foreach (var model in new[] { "initial-model", "sft-model", "final-model" })
            if (Directory.Exists(Path.Combine(run, model))) Check(model, () => OpenModel(Path.Combine(run, model)));
        foreach (var json in new[] { "summary.json" })
            if (File.Exists(Path.Combine(run, json))) Check(json, () => JsonNode.Parse(File.ReadAllText(Path.Combine(run, json))));
        foreach (var text in new[] { "config.yaml", "report.md" })
            if (File.Exists(Path.Combine(run, text)) && new FileInfo(Path.Combine(run, text)).Length == 0) found.Add($"{text}: empty");
        var metrics = Metrics(run);
        for (int i = 0; i < metrics.Count - 1; i++)
            if (metrics[i] is null) found.Add($"metrics.jsonl: line {i + 1} is torn and is not the last");
        return found;
    }

    /// <summary>Opens a Hugging Face model directory's weights: every header and tensor extent is validated.</summary>
    static void OpenModel(string directory)
    {
        if (!File.Exists(Path.Combine(directory, "config.json"))) throw new InvalidDataException($"{directory}: config.json missing");
        JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")));
        using var checkpoint = HfSafetensorsCheckpoint.Open(directory);
        if (checkpoint.Entries.Count == 0) throw new InvalidDataException($"{directory}: no tensors");
    }

    /// <summary>Hidden temporaries and staging directories left in the run directory or its checkpoints directory.</summary>
    public static List<string> Leftovers(string run)
    {
        var left = new List<string>();
        foreach (var directory in new[] { run, Path.Combine(run, "checkpoints") })
            if (Directory.Exists(directory))
                left.AddRange(Directory.EnumerateFileSystemEntries(directory, ".*").Select(p => Path.GetRelativePath(run, p)));
        return left;
    }
}
