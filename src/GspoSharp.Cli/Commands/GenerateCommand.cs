using System.CommandLine;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Tokenization;
using GspoSharp.Rollout;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo generate</c>: sample from a model. With <c>--prompt</c> one sample is streamed to the
/// terminal; with <c>--input</c> a batch of prompts is sampled and written as JSON Lines.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Model directory (config.json, safetensors, tokenizer.json).", Required = true };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "A prompt to complete; the sample is streamed." };
        var chat = new Option<bool>("--chat") { Description = "Wrap each prompt as a user message in the model's chat template." };
        var input = new Option<FileInfo?>("--input", "-i") { Description = "JSON Lines of {\"prompt\": TEXT} or {\"prompt_ids\": [..]}." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "JSON Lines of samples (with --input). Default: standard output." };
        var samples = new Option<int>("-n") { Description = "Samples per prompt.", DefaultValueFactory = _ => 1 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens per sample.", DefaultValueFactory = _ => 128 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 1.0 };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling mass (0, 1]." };
        var topK = new Option<int?>("--top-k") { Description = "Keep the k most likely tokens." };
        var seed = new Option<long>("--seed") { Description = "Seed of all random draws.", DefaultValueFactory = _ => 0 };
        var command = new Command("generate", "Sample completions from a model.")
        {
            model, prompt, chat, input, output, samples, maxNew, temperature, topP, topK, seed,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            bool single = parse.GetValue(prompt) is not null;
            if (single == (parse.GetValue(input) is not null))
                throw new ArgumentException("give either --prompt (one streamed sample) or --input (a batch of prompts).");
            string directory = parse.GetValue(model)!.FullName;
            var tokenizer = HfTokenizer.Load(directory);
            using var lm = ModelDirectory.Load(directory);
            var options = new SamplingOptions
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK),
                MaxNewTokens = parse.GetValue(maxNew), SamplesPerPrompt = single ? 1 : parse.GetValue(samples),
                Seed = parse.GetValue(seed), EosTokenIds = EndOfSequenceIds(directory, lm.Config, tokenizer),
            };
            bool useChat = parse.GetValue(chat);
            string Decode(IReadOnlyList<long> ids) => tokenizer.Decode(ids.Select(i => (int)i), skipSpecialTokens: true);
            if (single)
                return Stream(lm, tokenizer, Encode(tokenizer, parse.GetValue(prompt)!, useChat), options, Decode);

            string inputPath = parse.GetValue(input)!.FullName;
            var prompts = JsonLines.Read(inputPath).Select(line => PromptIds(line.Value, tokenizer, useChat, inputPath, line.Line)).ToList();
            using var result = new RolloutEngine(lm, Decode).Generate(prompts, options);
            JsonLines.Write(parse.GetValue(output)?.FullName, writer =>
            {
                foreach (var c in result.Completions)
                    writer.WriteLine(new JsonObject
                    {
                        ["prompt_index"] = c.PromptIndex,
                        ["prompt_ids"] = Array(c.PromptIds.Select(i => (JsonNode)i)),
                        ["completion_ids"] = Array(c.CompletionIds.Select(i => (JsonNode)i)),
                        ["text"] = c.Text,
                        ["logprobs"] = Array(c.LogProbs.Select(v => (JsonNode)v)),
                        ["finish_reason"] = c.FinishReason == FinishReason.Stop ? "stop" : "length",
                    }.ToJsonString());
            });
            return 0;
        }));
        return command;
    }

    static JsonArray Array(IEnumerable<JsonNode> items) => new(items.ToArray());

    /// <summary>generation_config.json's end-of-sequence ids, else config.json's, else the tokenizer's.</summary>
    internal static long[] EndOfSequenceIds(string directory, ModelConfig config, HfTokenizer tokenizer)
    {
        var fromGeneration = ModelDirectory.LoadGenerationConfig(directory)?.EosTokenIds ?? System.Array.Empty<int>();
        var ids = fromGeneration.Count > 0 ? fromGeneration
            : config.EosTokenIds.Count > 0 ? config.EosTokenIds
            : tokenizer.EosTokenId is { } eos ? new[] { eos } : System.Array.Empty<int>();
        return ids.Select(i => (long)i).ToArray();
    }

    static long[] Encode(HfTokenizer tokenizer, string text, bool chat)
    {
        if (chat && tokenizer.ChatFormat is null) throw new ArgumentException($"{tokenizer.Directory}: the tokenizer has no chat template; drop --chat.");
        string rendered = chat ? tokenizer.ApplyChatTemplate(new[] { new ChatMessage("user", text) }, addGenerationPrompt: true) : text;
        return tokenizer.Encode(rendered).Select(i => (long)i).ToArray();
    }

    static long[] PromptIds(JsonObject line, HfTokenizer tokenizer, bool chat, string path, int number)
    {
        if (line["prompt_ids"] is not null) return JsonLines.Ids(line, "prompt_ids", path, number);
        if (line["prompt"] is JsonValue v && v.TryGetValue(out string? text)) return Encode(tokenizer, text, chat);
        throw new InvalidDataException($"{path}:{number}: expected {{\"prompt\": TEXT}} or {{\"prompt_ids\": [..]}}.");
    }

    /// <summary>Prints the sample as it is produced: the decoded text grows token by token; a multi-byte
    /// character is printed once all of its bytes have arrived.</summary>
    static int Stream(CausalLm lm, HfTokenizer tokenizer, long[] promptIds, SamplingOptions options, Func<IReadOnlyList<long>, string> decode)
    {
        var tokens = new List<long>();
        int printed = 0;
        var engine = new RolloutEngine(lm, decode)
        {
            OnToken = (_, _, token) =>
            {
                tokens.Add(token);
                string text = decode(tokens);
                int ready = text.EndsWith('\uFFFD') ? text.TrimEnd('\uFFFD').Length : text.Length;
                if (ready > printed)
                {
                    Console.Write(text[printed..ready]);
                    printed = ready;
                }
            },
        };
        using var result = engine.Generate(new[] { promptIds }, options);
        var c = result.Completions[0];
        if (c.Text.Length > printed) Console.Write(c.Text[printed..]);
        Console.WriteLine();
        Console.Error.WriteLine($"[{c.CompletionIds.Length} tokens, finish_reason {(c.FinishReason == FinishReason.Stop ? "stop" : "length")}, " +
                                $"{c.CompletionIds.Length / Math.Max(1e-9, result.DecodeSeconds):F0} tokens/s]");
        return 0;
    }
}
