using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// Writes small byte-level BPE tokenizers for tiny test and demo models, in the same file format
/// as Qwen's (tokenizer.json + tokenizer_config.json: NFC normalizer, Qwen's split regex,
/// ByteLevel pre-tokenizer and decoder, BPE with [left, right] merges, ChatML special tokens), so
/// that a tiny model goes through exactly the code path of a real checkpoint.
/// </summary>
public static class TinyTokenizer
{
    /// <summary>The special tokens, after the learned vocabulary in this order: end of text, turn start, turn end.</summary>
    public static IReadOnlyList<string> SpecialTokens { get; } = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

    /// <summary>The pre-tokenizer regex of Qwen2, Qwen2.5 and Qwen3 (digits one by one).</summary>
    internal const string QwenSplitPattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>A plain ChatML template: each message as &lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n.</summary>
    internal const string ChatTemplate =
        "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}{%- endfor %}" +
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

    static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Learns a vocabulary of <paramref name="vocabSize"/> tokens from <paramref name="corpus"/> —
    /// the 256 bytes, <c>vocabSize − 259</c> merges and the 3 <see cref="SpecialTokens"/> — and
    /// writes it to <paramref name="directory"/> (created if needed). The same corpus and size
    /// always give the same files.
    /// </summary>
    /// <returns>The written tokenizer, loaded.</returns>
    /// <exception cref="ArgumentException">The size is below 259, or the corpus is too small to learn that many merges.</exception>
    public static HfTokenizer Write(string directory, string corpus, int vocabSize = 512)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        int mergeCount = vocabSize - 256 - SpecialTokens.Count;
        if (mergeCount < 0)
            throw new ArgumentException($"vocabSize must be at least {256 + SpecialTokens.Count} (256 bytes and {SpecialTokens.Count} special tokens); got {vocabSize}.", nameof(vocabSize));

        var alphabet = Enumerable.Range(0, 256).Select(b => ByteLevelAlphabet.Char((byte)b).ToString())
            .Order(StringComparer.Ordinal).ToList();   // GPT-2's order: "!" is 0
        List<(string Left, string Right)> merges;
        try
        {
            merges = BpeTrainer.Learn(CountWords(corpus), alphabet, mergeCount);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{e.Message} Give a larger corpus or a smaller vocabSize ({vocabSize}).", nameof(corpus), e);
        }
        var vocab = alphabet.Concat(merges.Select(m => m.Left + m.Right)).ToList();

        Directory.CreateDirectory(directory);
        WriteJson(Path.Combine(directory, HfTokenizer.FileName), w => TokenizerJson(w, vocab, merges));
        WriteJson(Path.Combine(directory, TokenizerConfig.FileName), w => TokenizerConfigJson(w, vocab.Count));
        return HfTokenizer.Load(directory);
    }

    /// <summary>The corpus's words as the tokenizer will see them: NFC, split by Qwen's regex, byte-level.</summary>
    static Dictionary<string, int> CountWords(string corpus)
    {
        var words = new List<string>();
        new IsolatingRegex(QwenSplitPattern, nameof(QwenSplitPattern)).Split(TextNormalizer.Apply(corpus, NormalizationForm.FormC), words);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var word in words)
        {
            string bytes = ByteLevelAlphabet.Encode(word);
            counts[bytes] = counts.GetValueOrDefault(bytes) + 1;
        }
        return counts;
    }

    static void TokenizerJson(Utf8JsonWriter w, List<string> vocab, List<(string Left, string Right)> merges)
    {
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < SpecialTokens.Count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("id", vocab.Count + i);
            w.WriteString("content", SpecialTokens[i]);
            foreach (var flag in new[] { "single_word", "lstrip", "rstrip", "normalized" }) w.WriteBoolean(flag, false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteStartObject("normalizer");
        w.WriteString("type", "NFC");
        w.WriteEndObject();
        w.WriteStartObject("pre_tokenizer");
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", QwenSplitPattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
        ByteLevel(w, null);
        w.WriteEndArray();
        w.WriteEndObject();
        ByteLevel(w, "post_processor");
        ByteLevel(w, "decoder");
        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteString("continuing_subword_prefix", "");
        w.WriteString("end_of_word_suffix", "");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int id = 0; id < vocab.Count; id++) w.WriteNumber(vocab[id], id);
        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (left, right) in merges)
        {
            w.WriteStartArray();
            w.WriteStringValue(left);
            w.WriteStringValue(right);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    static void ByteLevel(Utf8JsonWriter w, string? name)
    {
        if (name is null) w.WriteStartObject();
        else w.WriteStartObject(name);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", false);
        w.WriteBoolean("use_regex", false);
        w.WriteEndObject();
    }

    static void TokenizerConfigJson(Utf8JsonWriter w, int firstSpecialId)
    {
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", false);
        w.WriteBoolean("add_prefix_space", false);
        w.WriteStartObject("added_tokens_decoder");
        for (int i = 0; i < SpecialTokens.Count; i++)
        {
            w.WriteStartObject((firstSpecialId + i).ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("content", SpecialTokens[i]);
            foreach (var flag in new[] { "lstrip", "normalized", "rstrip", "single_word" }) w.WriteBoolean(flag, false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteNull("bos_token");
        w.WriteString("chat_template", ChatTemplate);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteString("eos_token", "<|im_end|>");
        w.WriteString("errors", "replace");
        w.WriteNumber("model_max_length", 32768);
        w.WriteString("pad_token", "<|endoftext|>");
        w.WriteBoolean("split_special_tokens", false);
        w.WriteString("tokenizer_class", "Qwen2Tokenizer");
        w.WriteNull("unk_token");
        w.WriteEndObject();
    }

    static void WriteJson(string path, Action<Utf8JsonWriter> write)
    {
        using var stream = File.Create(path);
        using var writer = new Utf8JsonWriter(stream, Indented);
        write(writer);
    }
}
