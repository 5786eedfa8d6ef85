using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Models;

/// <summary>
/// A causal language model with its tokenizer and the way dataset rows become token ids — what
/// training, evaluation, generation and serving load:
/// <c>messages</c> through the chat template; a <c>prompt</c> string through the chat template as one
/// user turn when <see cref="ChatTemplate"/> is set, else as plain text.
/// </summary>
public sealed class LanguageModel(CausalLm model, HfTokenizer tokenizer, bool chatTemplate, IReadOnlyList<long> eosTokenIds) : IDisposable
{
    /// <summary>The network.</summary>
    public CausalLm Model { get; } = model;

    /// <summary>Its tokenizer.</summary>
    public HfTokenizer Tokenizer { get; } = tokenizer;

    /// <summary>Whether plain prompts are wrapped as a user turn of the chat template.</summary>
    public bool ChatTemplate { get; } = chatTemplate;

    /// <summary>Ids that end a completion; the first is appended to SFT demonstrations.</summary>
    public IReadOnlyList<long> EosTokenIds { get; } = eosTokenIds.Count > 0
        ? eosTokenIds : throw new ArgumentException("the policy needs at least one end-of-sequence id.");

    /// <summary>Loads a model directory: weights, tokenizer, and end-of-sequence ids from
    /// generation_config.json, config.json or the tokenizer, in that order.</summary>
    /// <paramref name="projectionWeightDtype"/>: keep the projection weights in this dtype, frozen (a LoRA run's half-precision base).
    public static LanguageModel Load(string directory, bool chatTemplate, string device = "cpu", TorchSharp.torch.ScalarType? projectionWeightDtype = null)
    {
        var tokenizer = HfTokenizer.Load(directory);
        var model = ModelDirectory.Load(directory, device: TorchSharp.torch.device(device), projectionWeightDtype: projectionWeightDtype);
        IReadOnlyList<long> eos;
        try
        {
            eos = EndOfSequenceIds(directory, model.Config, tokenizer);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        if (chatTemplate && tokenizer.ChatFormat is null)
        {
            model.Dispose();
            throw new ModelFormatException($"{directory}: the tokenizer has no chat template, but chat_template is on.");
        }
        return new LanguageModel(model, tokenizer, chatTemplate, eos);
    }

    /// <summary>The end-of-sequence ids of a model directory: generation_config.json's, else config.json's,
    /// else the tokenizer's; every reader of a model directory takes them from here.</summary>
    /// <exception cref="ModelFormatException">None of the three names one.</exception>
    public static IReadOnlyList<long> EndOfSequenceIds(string directory, ModelConfig config, HfTokenizer tokenizer)
    {
        var eos = ModelDirectory.LoadGenerationConfig(directory)?.EosTokenIds is { Count: > 0 } g ? g
            : config.EosTokenIds.Count > 0 ? config.EosTokenIds
            : tokenizer.EosTokenId is { } e ? new[] { e } : Array.Empty<int>();
        if (eos.Count == 0)
            throw new ModelFormatException($"{directory}: no end-of-sequence token in generation_config.json, config.json or the tokenizer.");
        return eos.Select(i => (long)i).ToList();
    }

    /// <summary>The prompt of a dataset row as the model sees it (rendered text).</summary>
    public string PromptText(JsonObject row)
    {
        if (row["messages"] is JsonArray messages)
            return Tokenizer.ApplyChatTemplate(messages.Select(m => new ChatMessage(m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList(),
                addGenerationPrompt: true);
        string prompt = row["prompt"]!.GetValue<string>();
        return ChatTemplate ? Tokenizer.ApplyChatTemplate(new[] { new ChatMessage("user", prompt) }, addGenerationPrompt: true) : prompt;
    }

    /// <summary>The prompt's token ids.</summary>
    public long[] EncodePrompt(JsonObject row) => Tokenizer.Encode(PromptText(row)).Select(i => (long)i).ToArray();

    /// <summary>A demonstration's ids, ending with the end-of-sequence token.</summary>
    public long[] EncodeDemonstration(string completion) =>
        Tokenizer.Encode(completion).Select(i => (long)i).Append(EosTokenIds[0]).ToArray();

    /// <summary>Completion ids as text, without special tokens.</summary>
    public string Decode(IReadOnlyList<long> ids) => Tokenizer.Decode(ids.Select(i => (int)i), skipSpecialTokens: true);

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
