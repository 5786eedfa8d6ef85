using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GspoSharp.Models;
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
            Run(parse.GetValue(tokenizer)!, parse.GetValue(input)!, parse.GetValue(output))));
        return command;
    }

    static int Run(string tokenizerDirectory, string inputPath, string? outputPath)
    {
        HfTokenizer tokenizer;
        try
        {
            tokenizer = HfTokenizer.Load(tokenizerDirectory);
        }
        catch (ModelFormatException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        if (!File.Exists(inputPath)) throw new FileNotFoundException($"{inputPath}: file not found.");
        string? outputDirectory = outputPath is null ? null : Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (outputDirectory is not null && !Directory.Exists(outputDirectory))
            throw new DirectoryNotFoundException($"{outputPath}: directory {outputDirectory} not found.");

        // Everything is written to a temporary file first, so that a bad line leaves no partial
        // output: the file is renamed into place, or copied to stdout, only when all lines encoded.
        string temporary = outputDirectory is null
            ? Path.GetTempFileName()
            : Path.Combine(outputDirectory, $".{Path.GetFileName(outputPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            (int texts, long tokens) = Tokenize(tokenizer, inputPath, temporary);
            if (outputPath is null)
            {
                using var stdout = Console.OpenStandardOutput();
                using var written = File.OpenRead(temporary);
                written.CopyTo(stdout);
            }
            else
            {
                File.Move(temporary, outputPath, overwrite: true);
                Console.WriteLine($"{texts} texts, {tokens} tokens → {outputPath}");
            }
        }
        finally
        {
            File.Delete(temporary);
        }
        return 0;
    }

    static (int Texts, long Tokens) Tokenize(HfTokenizer tokenizer, string inputPath, string outputPath)
    {
        using var writer = new StreamWriter(outputPath, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
        int lineNumber = 0;
        long tokens = 0;
        foreach (string line in File.ReadLines(inputPath))
        {
            lineNumber++;
            int[] ids = tokenizer.Encode(TextOf(line, inputPath, lineNumber));
            tokens += ids.Length;
            writer.Write("{\"ids\":[");
            for (int i = 0; i < ids.Length; i++)
            {
                if (i > 0) writer.Write(',');
                writer.Write(ids[i].ToString(CultureInfo.InvariantCulture));
            }
            writer.Write("]}\n");
        }
        return (lineNumber, tokens);
    }

    static string TextOf(string line, string path, int lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: line {lineNumber}: invalid JSON: {e.Message}");
        }
        using (document)
        {
            return document.RootElement.ValueKind == JsonValueKind.Object &&
                   document.RootElement.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String
                ? text.GetString()!
                : throw new InvalidDataException($"{path}: line {lineNumber}: expected an object with a \"text\" string.");
        }
    }
}
