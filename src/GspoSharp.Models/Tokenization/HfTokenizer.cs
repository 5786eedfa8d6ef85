using System.Runtime.InteropServices;
using System.Text;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json of the byte-level BPE kind that Qwen2, Qwen2.5, Qwen3 and
/// Llama-3 ship, with the special-token names and chat template of tokenizer_config.json.
/// </summary>
/// <remarks>
/// Encoding follows the Hugging Face pipeline: added tokens are found first (so special tokens
/// written in the text are single ids), the rest is normalized, split by the pre-tokenizer and
/// merged by BPE (Microsoft.ML.Tokenizers' BpeTokenizer). No special tokens are added: the
/// ids the post-processor would add are reported by <see cref="PostProcessorPrefixIds"/> and
/// <see cref="PostProcessorSuffixIds"/>. Instances are immutable and safe to share across threads.
/// </remarks>
public sealed class HfTokenizer
{
    /// <summary>The tokenizer file of a model directory.</summary>
    public const string FileName = "tokenizer.json";

    readonly TokenizerDefinition _definition;
    readonly AddedVocabulary _addedVocabulary;
    readonly Dictionary<int, AddedToken> _addedById = [];
    readonly Dictionary<string, int> _addedByContent = [];
    readonly string? _chatUnsupported;
    readonly string _chatSource;

    HfTokenizer(string directory, TokenizerDefinition definition, TokenizerConfig config)
    {
        Directory = directory;
        _definition = definition;
        _addedVocabulary = new AddedVocabulary(definition.AddedTokens, definition.Normalizer);
        foreach (var token in definition.AddedTokens)
        {
            _addedById[token.Id] = token;   // later entries win, as in Hugging Face's added vocabulary
            _addedByContent[token.Content] = token.Id;
        }
        VocabSize = Math.Max(definition.Model.MaxId, definition.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max()) + 1;

        string configPath = Path.Combine(directory, TokenizerConfig.FileName);
        (EosToken, EosTokenId) = Named(config.EosToken, configPath, "eos_token");
        (PadToken, PadTokenId) = Named(config.PadToken, configPath, "pad_token");
        (BosToken, BosTokenId) = Named(config.BosToken, configPath, "bos_token");
        ChatFormat = ChatFormat.Detect(config.ChatTemplate, config.BosToken, t => TokenToId(t) is not null, out _chatUnsupported);
        _chatSource = config.ChatTemplateSource;
    }

    /// <summary>
    /// Loads <c>tokenizer.json</c> (required) and <c>tokenizer_config.json</c> (optional) from a model directory.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">It has no tokenizer.json.</exception>
    /// <exception cref="ModelFormatException">A file is malformed or uses a feature GspoSharp does not implement.</exception>
    public static HfTokenizer Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"{directory}: directory not found.");
        var definition = TokenizerJson.Read(Path.Combine(directory, FileName));
        return new HfTokenizer(directory, definition, TokenizerConfig.Read(directory));
    }

    /// <summary>The directory the tokenizer was loaded from.</summary>
    public string Directory { get; }

    /// <summary>One more than the largest id of the vocabulary and the added tokens: the least embedding size.</summary>
    public int VocabSize { get; }

    /// <summary>The added tokens of tokenizer.json, special (control) tokens and others, in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => _definition.AddedTokens;

    /// <summary>tokenizer_config.json's eos_token, or null.</summary>
    public string? EosToken { get; }

    /// <summary>The id of <see cref="EosToken"/>, or null.</summary>
    public int? EosTokenId { get; }

    /// <summary>tokenizer_config.json's pad_token, or null.</summary>
    public string? PadToken { get; }

    /// <summary>The id of <see cref="PadToken"/>, or null.</summary>
    public int? PadTokenId { get; }

    /// <summary>tokenizer_config.json's bos_token, or null.</summary>
    public string? BosToken { get; }

    /// <summary>The id of <see cref="BosToken"/>, or null.</summary>
    public int? BosTokenId { get; }

    /// <summary>Ids the file's post-processor puts before a sequence when asked to add special tokens (never added here).</summary>
    public IReadOnlyList<int> PostProcessorPrefixIds => _definition.PrefixIds;

    /// <summary>Ids the file's post-processor puts after a sequence when asked to add special tokens (never added here).</summary>
    public IReadOnlyList<int> PostProcessorSuffixIds => _definition.SuffixIds;

    /// <summary>The chat layout the template selects, or null when it is not one GspoSharp renders.</summary>
    public ChatFormat? ChatFormat { get; }

    /// <summary>
    /// The ids of <paramref name="text"/>, with no special tokens added; special tokens written in
    /// the text are recognised as single ids. Unpaired UTF-16 surrogates are encoded as U+FFFD.
    /// </summary>
    /// <exception cref="ModelFormatException">A Split pattern of tokenizer.json backtracks catastrophically on this text.</exception>
    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        text = ReplaceLoneSurrogates(text);
        var ids = new List<int>(text.Length / 3 + 4);
        foreach (var (piece, id) in _addedVocabulary.Split(text, _definition.Normalizer))
        {
            if (id is { } added)
            {
                ids.Add(added);
                continue;
            }
            foreach (var word in _definition.Splitter.Split(piece)) _definition.Model.Encode(word, ids);
        }
        return ids.ToArray();
    }

    /// <summary>
    /// The text of <paramref name="ids"/>. Bytes that are not valid UTF-8 (a character cut
    /// between tokens) become U+FFFD; ids outside the vocabulary are skipped, as in Hugging Face.
    /// </summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="skipSpecialTokens">Leave out special (control) tokens such as &lt;|im_end|&gt;.</param>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            string? token;
            if (_addedById.TryGetValue(id, out var added))
            {
                if (skipSpecialTokens && added.Special) continue;
                token = added.Content;
            }
            else token = _definition.Model.Token(id);
            // ML.Tokenizers' byte-level decode would copy an added token's text as it is; the
            // Hugging Face ByteLevel decoder maps it through the byte alphabet when it can.
            if (token is not null) ByteLevelAlphabet.AppendBytes(token, bytes);
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>The id of a token (an added token's text, or a vocabulary entry in the byte-level alphabet), or null.</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out int id) ? id : _definition.Model.Id(token);

    /// <summary>The token of an id (an added token's text, or a vocabulary entry in the byte-level alphabet), or null.</summary>
    public string? IdToToken(int id) =>
        _addedById.TryGetValue(id, out var added) ? added.Content : _definition.Model.Token(id);

    /// <summary>Whether <paramref name="id"/> is a special (control) added token.</summary>
    public bool IsSpecial(int id) => _addedById.TryGetValue(id, out var added) && added.Special;

    /// <summary>
    /// The conversation rendered by the model's chat template (see <see cref="ChatFormat.Render"/>).
    /// </summary>
    /// <exception cref="ModelFormatException">The template is not one GspoSharp renders.</exception>
    public string ApplyChatTemplate(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false, bool enableThinking = true) =>
        (ChatFormat ?? throw new ModelFormatException($"{_chatSource}: {_chatUnsupported}"))
            .Render(messages, addGenerationPrompt, enableThinking);

    (string?, int?) Named(string? token, string configPath, string field) =>
        token is null ? (null, null)
        : TokenToId(token) is { } id ? (token, id)
        : throw new ModelFormatException($"{configPath}: {field}: '{token}' is not a token of {FileName}.");

    static string ReplaceLoneSurrogates(string text)
    {
        if (text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') < 0) return text;
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }
}
