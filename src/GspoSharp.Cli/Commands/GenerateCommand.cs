using GspoSharp.Models;
using System.CommandLine;
using System.Text.Json.Nodes;
using GspoSharp.Tasks;
using GspoSharp.Rollout;
using GspoSharp.Training;

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
        var adapter = new Option<DirectoryInfo?>("--adapter") { Description = "PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) to apply on the model." };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "A prompt to complete; the sample is streamed." };
        var chat = new Option<bool>("--chat") { Description = "Wrap each prompt as a user message in the model's chat template." };
        var input = new Option<FileInfo?>("--input", "-i") { Description = "JSON Lines of {\"prompt\": TEXT} or {\"prompt_ids\": [..]}." };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "JSON Lines of samples (with --input). Default: standard output." };
        var samples = new Option<int>("-n") { Description = "Samples per prompt.", DefaultValueFactory = _ => 1 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens per sample.", DefaultValueFactory = _ => 128 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 1.0 };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling mass (0, 1], over the top-k survivors." };
        var topK = new Option<int?>("--top-k") { Description = "Keep the k most likely tokens; 0 keeps all." };
        var seed = new Option<long>("--seed") { Description = "Seed of all random draws.", DefaultValueFactory = _ => 0 };
        var command = new Command("generate", "Sample completions from a model.")
        {
            model, adapter, prompt, chat, input, output, samples, maxNew, temperature, topP, topK, seed,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            bool single = parse.GetValue(prompt) is not null;
            if (single == (parse.GetValue(input) is not null))
                throw new ArgumentException("give either --prompt (one streamed sample) or --input (a batch of prompts).");
            using var policy = LanguageModel.Load(parse.GetValue(model)!.FullName, parse.GetValue(chat));
            if (parse.GetValue(adapter) is { } a) Models.Adapters.PeftAdapter.Load(policy.Model, a.FullName);
            var options = new SamplingOptions
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK),
                MaxNewTokens = parse.GetValue(maxNew), SamplesPerPrompt = single ? 1 : parse.GetValue(samples),
                Seed = parse.GetValue(seed), EosTokenIds = policy.EosTokenIds,
            };
            if (single)
                return Stream(policy, policy.EncodePrompt(new JsonObject { ["prompt"] = parse.GetValue(prompt) }), options);

            string inputPath = parse.GetValue(input)!.FullName;
            var prompts = ReadPrompts(inputPath, policy);
            using var backend = new LocalRolloutBackend(policy.Model, policy.Decode);
            using var result = backend.GenerateAsync(prompts, options).GetAwaiter().GetResult();
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

    /// <summary>The prompt ids of every line of an --input file; errors name the file and line.</summary>
    internal static List<long[]> ReadPrompts(string path, LanguageModel policy)
    {
        var prompts = JsonLinesFile.Read(path, skipBlankLines: false).Select(line => PromptIds(line.Value, policy, path, line.Line)).ToList();
        return prompts.Count > 0 ? prompts : throw new InvalidDataException($"{path}: no prompts.");
    }

    /// <summary>A line's prompt ids: given as ids, or a text encoded as the policy encodes prompts (chat template with --chat).</summary>
    static long[] PromptIds(JsonObject line, LanguageModel policy, string path, int number)
    {
        long[] ids = line["prompt_ids"] is not null ? JsonLines.Ids(line, "prompt_ids", path, number)
            // Only the prompt: a "messages" field beside it is not part of this format.
            : line["prompt"] is JsonValue v && v.TryGetValue(out string? text) ? policy.EncodePrompt(new JsonObject { ["prompt"] = text })
            : throw new InvalidDataException($"{path}:{number}: expected {{\"prompt\": TEXT}} or {{\"prompt_ids\": [..]}}.");
        // What the rollout engine requires of a prompt, checked here to name the line.
        var config = policy.Model.Config;
        if (ids.Length == 0) throw new InvalidDataException($"{path}:{number}: the prompt is empty.");
        if (ids.Length >= config.MaxPositionEmbeddings)
            throw new InvalidDataException($"{path}:{number}: the prompt has {ids.Length} tokens; the model's context is {config.MaxPositionEmbeddings}, leaving no room to generate.");
        foreach (long id in ids)
            if (id < 0 || id >= config.VocabSize)
                throw new InvalidDataException($"{path}:{number}: token id {id} is outside the vocabulary [0, {config.VocabSize}).");
        return ids;
    }

    /// <summary>Prints the sample as it is produced: the decoded text grows token by token; a multi-byte
    /// character is printed once all of its bytes have arrived.</summary>
    static int Stream(LanguageModel policy, long[] promptIds, SamplingOptions options)
    {
        var tokens = new List<long>();
        int printed = 0;
        using var backend = new LocalRolloutBackend(policy.Model, policy.Decode)
        {
            OnToken = (_, _, token) =>
            {
                tokens.Add(token);
                string text = policy.Decode(tokens);
                int ready = text.EndsWith('\uFFFD') ? text.TrimEnd('\uFFFD').Length : text.Length;
                if (ready > printed)
                {
                    Console.Write(text[printed..ready]);
                    printed = ready;
                }
            },
        };
        using var result = backend.GenerateAsync(new[] { promptIds }, options).GetAwaiter().GetResult();
        var c = result.Completions[0];
        if (c.Text.Length > printed) Console.Write(c.Text[printed..]);
        Console.WriteLine();
        Console.Error.WriteLine($"[{c.CompletionIds.Length} tokens, finish_reason {(c.FinishReason == FinishReason.Stop ? "stop" : "length")}, " +
                                $"{c.CompletionIds.Length / Math.Max(1e-9, result.DecodeSeconds):F0} tokens/s]");
        return 0;
    }
}
