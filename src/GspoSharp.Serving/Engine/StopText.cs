using GspoSharp.Models.Tokenization;

namespace GspoSharp.Serving.Engine;

/// <summary>The text of a sequence as a response shows it: decoded (special tokens skipped or kept as
/// asked) and cut before the first stop string, which is not part of the output (vLLM's default).</summary>
internal static class StopText
{
    public static string Decode(HfTokenizer tokenizer, IReadOnlyList<long> tokens, SequenceParams p) =>
        tokenizer.Decode(tokens.Select(t => (int)t), skipSpecialTokens: p.SkipSpecialTokens);

    /// <summary>The text up to the first stop string, and that string (null when none occurs).</summary>
    public static (string Text, string? Stop) Cut(string text, SequenceParams p)
    {
        int at = -1;
        string? which = null;
        foreach (var stop in p.Stop)
        {
            int i = text.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (at < 0 || i < at)) (at, which) = (i, stop);
        }
        return at < 0 ? (text, null) : (text[..at], which);
    }

    /// <summary>How much of a growing text a stream may send now: not a partly decoded character (U+FFFD
    /// at the end) and not a tail that could still become a stop string, so the pieces a client
    /// assembles equal the text of the finished sequence.</summary>
    public static int Ready(string text, SequenceParams p)
    {
        int ready = text.EndsWith('\uFFFD') ? text.TrimEnd('\uFFFD').Length : text.Length;
        foreach (var stop in p.Stop)
            for (int k = Math.Min(stop.Length - 1, ready); k > 0; k--)
                if (string.CompareOrdinal(text, ready - k, stop, 0, k) == 0)
                {
                    ready -= k;
                    break;
                }
        return Math.Max(0, ready);
    }
}
