using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GspoSharp.Cli.Commands;

/// <summary>JSON Lines input with errors that name the file and line, and output that appears whole or not at all.</summary>
internal static class JsonLines
{
    /// <summary>Each line of <paramref name="path"/> as a JSON object, with its 1-based line number.</summary>
    public static IEnumerable<(int Line, JsonObject Value)> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.");
        int number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) throw new InvalidDataException($"{path}:{number}: empty line.");
            JsonNode? node;
            try
            {
                node = JsonNode.Parse(line);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{number}: invalid JSON: {e.Message}");
            }
            yield return (number, node as JsonObject ?? throw new InvalidDataException($"{path}:{number}: expected a JSON object."));
        }
    }

    /// <summary>An integer array field, e.g. "ids"; errors name the file, line and field.</summary>
    public static long[] Ids(JsonObject value, string field, string path, int line)
    {
        if (value[field] is not JsonArray array)
            throw new InvalidDataException($"{path}:{line}: field \"{field}\" must be an array of token ids.");
        return array.Select((item, i) => item is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out long id)
            ? id
            : throw new InvalidDataException($"{path}:{line}: {field}[{i}] is not an integer token id.")).ToArray();
    }

    /// <summary>
    /// Writes lines to <paramref name="path"/>, or to standard output when it is null, through a
    /// temporary file: renamed into place (or copied to standard output) only once every line is
    /// written, so a failure part-way leaves no partial output.
    /// </summary>
    public static void Write(string? path, Action<TextWriter> produce)
    {
        string? full = path is null ? null : Path.GetFullPath(path);
        string? directory = full is null ? null : Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
            throw new DirectoryNotFoundException($"{path}: directory {directory} not found.");
        string temp = full is null ? Path.GetTempFileName() : Path.Combine(directory!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var writer = new StreamWriter(temp, false, new UTF8Encoding(false)))
                produce(writer);
            if (full is not null)
                File.Move(temp, full, overwrite: true);
            else
            {
                using var stdout = Console.OpenStandardOutput();
                using var written = File.OpenRead(temp);
                written.CopyTo(stdout);
            }
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
