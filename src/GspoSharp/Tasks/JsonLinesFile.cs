using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models.Json;

namespace GspoSharp.Tasks;

/// <summary>Reads JSON Lines files (datasets, metrics, tool input) with errors that name the file and line.</summary>
public static class JsonLinesFile
{
    /// <summary>
    /// Each line of <paramref name="path"/> as a JSON object, with its 1-based line number. Blank lines
    /// are skipped, or refused when <paramref name="skipBlankLines"/> is false.
    /// </summary>
    public static IEnumerable<(int Line, JsonObject Value)> Read(string path, bool skipBlankLines = true)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.");
        int number = 0;
        foreach (var text in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(text))
            {
                if (skipBlankLines) continue;
                throw new InvalidDataException($"{path}:{number}: empty line.");
            }
            JsonNode? node;
            try
            {
                node = StrictJson.Node(text);
            }
            catch (JsonException e)
            {
                throw new InvalidDataException($"{path}:{number}: invalid JSON: {e.Message}");
            }
            yield return (number, node as JsonObject ?? throw new InvalidDataException($"{path}:{number}: expected a JSON object."));
        }
    }
}
