using System.Globalization;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// Finds added tokens in text before any other step, as Hugging Face tokenizers do: a token
/// written in the text is one id, never split by the pre-tokenizer or BPE. Matching is
/// leftmost-longest, first against the raw text for tokens with normalized = false, then against
/// the normalized remainder for the others (whose contents are normalized too).
/// </summary>
internal sealed class AddedVocabulary
{
    readonly Matcher _raw;
    readonly Matcher _normalized;

    public AddedVocabulary(IReadOnlyList<AddedToken> tokens, TextNormalizer normalizer)
    {
        _raw = new Matcher(tokens.Where(t => !t.Normalized && t.Content.Length > 0).Select(t => (t.Content, t)));
        _normalized = new Matcher(tokens.Where(t => t.Normalized && t.Content.Length > 0).Select(t => (normalizer.Normalize(t.Content), t)));
    }

    /// <summary>
    /// Splits <paramref name="text"/> into added tokens (Id set) and the stretches between them
    /// (Id null), which are normalized before being searched for normalized tokens.
    /// </summary>
    public IEnumerable<(string Text, int? Id)> Split(string text, TextNormalizer normalizer)
    {
        foreach (var (piece, id) in _raw.Split(text))
        {
            if (id is not null)
            {
                yield return (piece, id);
                continue;
            }
            foreach (var inner in _normalized.Split(normalizer.Normalize(piece)))
                yield return inner;
        }
    }

    sealed class Matcher
    {
        // Candidates by first character, longest first: the first that matches is the longest.
        readonly Dictionary<char, (string Pattern, AddedToken Token)[]> _byFirstChar;

        public Matcher(IEnumerable<(string Pattern, AddedToken Token)> entries) =>
            _byFirstChar = entries.Where(e => e.Pattern.Length > 0)
                .GroupBy(e => e.Pattern[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(e => e.Pattern.Length).ToArray());

        public List<(string Text, int? Id)> Split(string text)
        {
            var pieces = new List<(string, int?)>();
            if (_byFirstChar.Count == 0 || text.Length == 0)
            {
                if (text.Length > 0) pieces.Add((text, null));
                return pieces;
            }
            int pieceStart = 0;   // start of the text not yet emitted
            int i = 0;
            while (i < text.Length)
            {
                var found = LongestAt(text, i);
                if (found is null)
                {
                    i++;
                    continue;
                }
                var (pattern, token) = found.Value;
                int start = i, stop = i + pattern.Length;
                i = stop;   // a discarded match is consumed too, as in aho-corasick's find_iter
                if (token.SingleWord && (IsWordBefore(text, start) || IsWordAfter(text, stop))) continue;
                // Whitespace already emitted (or absorbed by the previous token) stays where it is.
                if (token.LStrip) start = Math.Max(pieceStart, TrailingWhitespaceStart(text, start));
                if (token.RStrip) stop = LeadingWhitespaceEnd(text, stop);
                if (start > pieceStart) pieces.Add((text[pieceStart..start], null));
                pieces.Add((text[start..stop], token.Id));
                // The search resumes after whitespace an rstrip absorbed; Hugging Face resumes at
                // the token's end and can then emit overlapping pieces.
                pieceStart = i = stop;
            }
            if (pieceStart < text.Length) pieces.Add((text[pieceStart..], null));
            return pieces;
        }

        (string, AddedToken)? LongestAt(string text, int i)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates)) return null;
            foreach (var candidate in candidates)
                if (string.CompareOrdinal(text, i, candidate.Pattern, 0, candidate.Pattern.Length) == 0)
                    return candidate;
            return null;
        }
    }

    static int TrailingWhitespaceStart(string text, int end)
    {
        while (end > 0 && char.IsWhiteSpace(text[end - 1])) end--;
        return end;
    }

    static int LeadingWhitespaceEnd(string text, int start)
    {
        while (start < text.Length && char.IsWhiteSpace(text[start])) start++;
        return start;
    }

    static bool IsWordBefore(string text, int index) =>
        index > 0 && IsWordChar(char.IsLowSurrogate(text[index - 1]) && index > 1
            ? char.ConvertToUtf32(text[index - 2], text[index - 1]) : text[index - 1]);

    static bool IsWordAfter(string text, int index) =>
        index < text.Length && IsWordChar(char.IsSurrogatePair(text, index) ? char.ConvertToUtf32(text, index) : text[index]);

    /// <summary>
    /// Rust regex's Unicode <c>\w</c>, by general category: letters, marks, decimal and letter
    /// numbers, connector punctuation, and the zero-width joiners.
    /// </summary>
    static bool IsWordChar(int codePoint) =>
        codePoint is 0x200C or 0x200D || CharUnicodeInfo.GetUnicodeCategory(codePoint) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter
                or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
                or UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber
                or UnicodeCategory.ConnectorPunctuation => true,
            _ => false,
        };
}
