namespace GspoSharp.Models.Tokenization;

/// <summary>
/// The "pre_tokenizer" of a byte-level tokenizer.json: zero or more Split steps (a regex, pieces
/// isolated) followed by the ByteLevel step, which may prefix each piece with a space and split
/// it again with the GPT-2 regex. Each resulting word is then encoded by BPE on its own.
/// </summary>
internal sealed class WordSplitter
{
    readonly IReadOnlyList<IsolatingRegex> _splits;
    readonly bool _addPrefixSpace;
    readonly IsolatingRegex? _gpt2Split;

    /// <param name="splits">The Split steps, in order.</param>
    /// <param name="addPrefixSpace">ByteLevel's add_prefix_space: each piece not starting with a space gets one.</param>
    /// <param name="gpt2Split">ByteLevel's use_regex: the GPT-2 regex then splits each piece.</param>
    public WordSplitter(IReadOnlyList<IsolatingRegex> splits, bool addPrefixSpace, IsolatingRegex? gpt2Split)
    {
        _splits = splits;
        _addPrefixSpace = addPrefixSpace;
        _gpt2Split = gpt2Split;
    }

    /// <summary>The words of <paramref name="text"/>, in order; none for the empty text.</summary>
    public List<string> Split(string text)
    {
        var pieces = new List<string>();
        if (text.Length == 0) return pieces;
        pieces.Add(text);
        foreach (var split in _splits) pieces = SplitEach(pieces, split);
        if (_addPrefixSpace)
            for (int i = 0; i < pieces.Count; i++)
                if (!pieces[i].StartsWith(' ')) pieces[i] = " " + pieces[i];
        if (_gpt2Split is not null) pieces = SplitEach(pieces, _gpt2Split);
        return pieces;
    }

    static List<string> SplitEach(List<string> pieces, IsolatingRegex regex)
    {
        var next = new List<string>(pieces.Count * 2);
        foreach (var piece in pieces) regex.Split(piece, next);
        return next;
    }
}
