using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GspoSharp.Cli.Commands;

/// <summary>JSON Lines fields with errors that name the file, line and field, and output that appears whole or not at all
/// (input lines: <see cref="Tasks.JsonLinesFile"/>).</summary>
internal static class JsonLines
{
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
