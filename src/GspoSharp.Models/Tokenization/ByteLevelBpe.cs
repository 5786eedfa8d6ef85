using Microsoft.ML.Tokenizers;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// The BPE model of a byte-level tokenizer.json, run by Microsoft.ML.Tokenizers' BpeTokenizer
/// (byte-level mode: a word is turned into UTF-8 bytes shown in the GPT-2 alphabet, then merged
/// by rank). Normalization, pre-tokenization and added tokens happen before, in GspoSharp, so the
/// BpeTokenizer is only ever given one pre-tokenized word.
/// </summary>
internal sealed class ByteLevelBpe
{
    readonly BpeTokenizer _bpe;
    readonly IReadOnlyDictionary<string, int> _vocab;
    readonly Dictionary<int, string> _tokens;
    readonly bool _ignoreMerges;

    /// <param name="vocab">Token (in the byte-level alphabet) → id.</param>
    /// <param name="merges">Merge rules as "left right", highest priority first.</param>
    /// <param name="ignoreMerges">A word that is itself a vocabulary entry is that one id, whatever the merges would make of it (Llama-3).</param>
    /// <param name="unknownToken">The id to use for a character outside the vocabulary, or null to drop it.</param>
    /// <param name="fuseUnknown">Consecutive unknown characters make one unknown token.</param>
    /// <param name="where">The file and field, for errors.</param>
    public ByteLevelBpe(IReadOnlyDictionary<string, int> vocab, IEnumerable<string> merges,
        bool ignoreMerges, string? unknownToken, bool fuseUnknown, string where)
    {
        _vocab = vocab;
        _ignoreMerges = ignoreMerges;
        _tokens = new Dictionary<int, string>(vocab.Count);
        foreach (var (token, id) in vocab) _tokens.TryAdd(id, token);
        var options = new BpeOptions(vocab)
        {
            Merges = merges,
            ByteLevel = true,
            UnknownToken = unknownToken,
            FuseUnknownTokens = fuseUnknown,
        };
        try
        {
            _bpe = BpeTokenizer.Create(options);
        }
        catch (InvalidOperationException e)   // a merge of, or into, a token missing from the vocabulary
        {
            throw new ModelFormatException($"{where}: {e.Message}", e);
        }
    }

    /// <summary>Appends the ids of one pre-tokenized word (raw text, not yet byte-level).</summary>
    public void Encode(string word, List<int> ids)
    {
        if (word.Length == 0) return;
        // ML.Tokenizers 2.0.1 has no ignore_merges option: the whole-word lookup is done here.
        if (_ignoreMerges && _vocab.TryGetValue(ByteLevelAlphabet.Encode(word), out int id))
        {
            ids.Add(id);
            return;
        }
        ids.AddRange(_bpe.EncodeToIds(word, considerPreTokenization: false, considerNormalization: false));
    }

    /// <summary>The vocabulary entry (byte-level alphabet) of <paramref name="id"/>, or null.</summary>
    public string? Token(int id) => _tokens.GetValueOrDefault(id);

    /// <summary>The id of a vocabulary entry, or null.</summary>
    public int? Id(string token) => _vocab.TryGetValue(token, out int id) ? id : null;

    /// <summary>The largest id in the vocabulary, or −1 when it is empty.</summary>
    public int MaxId => _tokens.Count == 0 ? -1 : _tokens.Keys.Max();
}
