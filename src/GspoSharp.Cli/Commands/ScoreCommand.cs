using System.CommandLine;
using System.Text.Json.Nodes;
using GspoSharp.Tasks;
using GspoSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo score</c>: log p(ids[t] | ids[&lt;t]) for t = 1..n−1 of every input line. Needs only
/// config.json and the weights, so it works on any checkpoint directory: for parity checks with
/// other frameworks and for perplexity.
/// </summary>
internal static class ScoreCommand
{
    const int BatchSize = 16;

    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Hugging Face model directory (config.json + safetensors).", Required = true };
        var adapter = new Option<DirectoryInfo?>("--adapter") { Description = "PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) to apply on the model." };
        var input = new Option<FileInfo>("--input", "-i") { Description = "JSON Lines, one {\"ids\": [..]} per line.", Required = true };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "JSON Lines, one {\"logprobs\": [..]} per input line (n − 1 values). Default: standard output." };
        var command = new Command("score", "Per-token log-probs of token sequences under a model.") { model, adapter, input, output };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            string inputPath = parse.GetValue(input)!.FullName;
            using var lm = ModelDirectory.Load(parse.GetValue(model)!.FullName);
            if (parse.GetValue(adapter) is { } a) Models.Adapters.PeftAdapter.Load(lm, a.FullName);
            // Read and check everything before writing anything.
            var rows = ReadRows(inputPath, lm.Config);
            JsonLines.Write(parse.GetValue(output)?.FullName, writer =>
            {
                foreach (var chunk in rows.Chunk(BatchSize))
                    foreach (var logProbs in Score(lm, chunk))
                        writer.WriteLine(new JsonObject { ["logprobs"] = new JsonArray(logProbs.Select(v => (JsonNode)v).ToArray()) }.ToJsonString());
            });
            return 0;
        }));
        return command;
    }

    /// <summary>The token ids of every line of an --input file, checked against the model's vocabulary and context;
    /// errors name the file and line.</summary>
    internal static List<long[]> ReadRows(string inputPath, Models.Architecture.ModelConfig config) =>
        JsonLinesFile.Read(inputPath, skipBlankLines: false).Select(line =>
        {
            var ids = JsonLines.Ids(line.Value, "ids", inputPath, line.Line);
            if (ids.Length == 0) throw new InvalidDataException($"{inputPath}:{line.Line}: \"ids\" is empty.");
            foreach (var id in ids)
                if (id < 0 || id >= config.VocabSize)
                    throw new InvalidDataException($"{inputPath}:{line.Line}: token id {id} is outside the vocabulary [0, {config.VocabSize}).");
            if (ids.Length > config.MaxPositionEmbeddings)
                throw new InvalidDataException($"{inputPath}:{line.Line}: {ids.Length} tokens exceed the model's context of {config.MaxPositionEmbeddings}.");
            return ids;
        }).ToList();

    /// <summary>Scores a batch of sequences, right-padded to the longest.</summary>
    static IEnumerable<double[]> Score(Models.Architecture.CausalLm lm, long[][] rows)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        int width = Math.Max(2, rows.Max(r => r.Length));
        var (ids, mask) = Models.Architecture.PaddedRows.Build(rows, width, Models.Architecture.PaddingSide.Right);
        using var scores = lm.ScoreTokens(ids, mask, mask.narrow(1, 1, width - 1));
        var values = scores.LogProbs.to_type(ScalarType.Float64).data<double>().ToArray();
        return rows.Select((r, i) => values.Skip(i * (width - 1)).Take(r.Length - 1).ToArray()).ToList();
    }
}
