using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Rewards;

namespace GspoSharp.Tasks;

/// <summary>
/// Prompts with the fields rewards need: a built-in synthetic task (unlimited, deterministic)
/// or a JSON Lines file. Each row has <c>prompt</c> (text) or <c>messages</c> (chat turns
/// [{"role", "content"}]) and whatever the rewards read (e.g. <c>answer</c>), optionally
/// <c>completion</c> (a demonstration, for SFT).
/// </summary>
public sealed class Dataset
{
    readonly Func<long, JsonObject> row;

    Dataset(string name, long? count, Func<long, JsonObject> row)
    {
        Name = name;
        Count = count;
        this.row = row;
    }

    /// <summary>Where the rows come from (task name or file path).</summary>
    public string Name { get; }

    /// <summary>Number of rows; null for an unlimited synthetic stream.</summary>
    public long? Count { get; }

    /// <summary>Row <paramref name="index"/>; finite datasets wrap around.</summary>
    public JsonObject Row(long index) => row(Count is { } n ? index % n : index);

    /// <summary>The <paramref name="split"/> stream of a synthetic task.</summary>
    public static Dataset FromTask(SyntheticTask task, TaskSplit split, long seed) =>
        new($"{task.Name} ({split.ToString().ToLowerInvariant()})", null, i => task.Example(seed, split, i));

    /// <summary>
    /// The rows of a built-in task's <paramref name="split"/> stream when <paramref name="task"/> is given, else of the
    /// JSON Lines file <paramref name="file"/>, checked for the fields <paramref name="rewards"/> need.
    /// </summary>
    public static Dataset Open(string? task, string? file, TaskSplit split, long seed, IEnumerable<IRewardFunction> rewards) =>
        task is not null
            ? FromTask(SyntheticTask.Get(task), split, seed)
            : FromJsonLines(file ?? throw new ArgumentException("neither a task nor a dataset file is given."), rewards);

    /// <summary>The first <paramref name="count"/> rows of another dataset (a fixed held-out set).</summary>
    public Dataset Take(long count) => new(Name, Count is { } n ? Math.Min(n, count) : count, row);

    /// <summary>
    /// Reads a JSON Lines file and checks every row: valid JSON object, a <c>prompt</c> string or a
    /// <c>messages</c> list of {role, content} strings, and the fields <paramref name="rewards"/> need.
    /// Errors name the file and line.
    /// </summary>
    public static Dataset FromJsonLines(string path, IEnumerable<IRewardFunction> rewards) =>
        Checked(path, JsonLinesFile.Read(path).Select(line => (line.Value, $"{path}:{line.Line}")), rewards);

    /// <summary>
    /// A dataset of the program's own rows (any sequence, read once here), checked as a file's are: a
    /// <c>prompt</c> string or a <c>messages</c> list in every row, and the fields <paramref name="rewards"/>
    /// need. Errors name <paramref name="name"/> and the row (1-based). Each row is copied, so later changes
    /// to the program's objects do not reach the dataset.
    /// </summary>
    public static Dataset FromRows(string name, IEnumerable<JsonObject> rows, IEnumerable<IRewardFunction> rewards) =>
        Checked(name, rows.Select((row, i) => ((JsonObject)row.DeepClone(), $"{name}: row {i + 1}")), rewards);

    /// <summary>The rows, each with where it is for errors, checked for a prompt and the fields the rewards need.</summary>
    static Dataset Checked(string name, IEnumerable<(JsonObject Row, string Where)> source, IEnumerable<IRewardFunction> rewards)
    {
        var required = rewards.SelectMany(r => r.RequiredFields).Distinct().ToList();
        var rows = new List<JsonObject>();
        foreach (var (row, where) in source)
        {
            CheckPrompt(row, where);
            foreach (var field in required)
                if (row[field] is null)
                    throw new InvalidDataException($"{where}: missing field \"{field}\", which the rewards need.");
            rows.Add(row);
        }
        if (rows.Count == 0) throw new InvalidDataException($"{name}: no rows.");
        return new Dataset(name, rows.Count, i => rows[(int)i]);
    }

    /// <summary>Refuses a row without a prompt; <paramref name="where"/> names it (file:line, or name: row n).</summary>
    static void CheckPrompt(JsonObject row, string where)
    {
        if (row["prompt"] is JsonValue v && v.GetValueKind() == JsonValueKind.String) return;
        if (row["messages"] is JsonArray messages && messages.Count > 0 && messages.All(m =>
                m is JsonObject o && o["role"]?.GetValueKind() == JsonValueKind.String && o["content"]?.GetValueKind() == JsonValueKind.String))
            return;
        throw new InvalidDataException($"{where}: needs a \"prompt\" string or a \"messages\" list of {{\"role\", \"content\"}} strings.");
    }
}
