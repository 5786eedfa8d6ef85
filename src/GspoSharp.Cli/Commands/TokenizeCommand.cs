using System.CommandLine;
using System.Text.Json.Nodes;
using GspoSharp.Tasks;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo tokenize</c>: the token ids of texts with a model's tokenizer.json, one JSON line in
/// ({"text": ...}), one JSON line out ({"ids": [...]}). No special tokens are added; special
/// tokens written in the text are recognised — the ids GspoSharp trains and samples on.
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "Model directory holding tokenizer.json (and tokenizer_config.json).",
            Required = true,
        };
        var input = new Option<string>("--input", "-i")
        {
            Description = "JSONL file, one {\"text\": \"...\"} per line.",
            Required = true,
        };
        var output = new Option<string?>("--output", "-o")
        {
            Description = "JSONL file to write, one {\"ids\": [...]} per input line. Default: standard output.",
        };
        var command = new Command("tokenize", "Token ids of texts: no special tokens added, special tokens written in the text recognised.")
        {
            tokenizer, input, output,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var hf = HfTokenizer.Load(parse.GetValue(tokenizer)!);
            string inputPath = parse.GetValue(input)!, outputPath = parse.GetValue(output)!;
            var encoded = Encode(inputPath, hf);
            JsonLines.Write(outputPath, writer =>
            {
                foreach (var ids in encoded)
                    writer.WriteLine(new JsonObject { ["ids"] = new JsonArray(ids.Select(id => (JsonNode)id).ToArray()) }.ToJsonString());
            });
            if (outputPath is not null) Console.WriteLine($"{encoded.Count} texts, {encoded.Sum(e => (long)e.Length)} tokens → {outputPath}");
            return 0;
        }));
        return command;
    }

    /// <summary>The ids of the "text" of every line of an --input file; errors name the file and line.</summary>
    internal static List<int[]> Encode(string inputPath, HfTokenizer tokenizer) =>
        JsonLinesFile.Read(inputPath, skipBlankLines: false).Select(line => line.Value["text"] is JsonValue v && v.TryGetValue(out string? text)
            ? tokenizer.Encode(text)
            : throw new InvalidDataException($"{inputPath}:{line.Line}: expected an object with a \"text\" string.")).ToList();
}
