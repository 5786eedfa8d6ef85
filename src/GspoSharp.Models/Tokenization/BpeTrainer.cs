namespace GspoSharp.Models.Tokenization;

/// <summary>
/// Learns BPE merges from counted words, the textbook way: repeatedly merge the most frequent
/// adjacent pair. Deterministic: ties go to the ordinally smallest pair. Meant for the small
/// corpora of tiny test and demo tokenizers (each merge rescans every distinct word).
/// </summary>
internal static class BpeTrainer
{
    /// <summary>
    /// <paramref name="count"/> merges for words given as symbol sequences (byte-level characters)
    /// with their frequencies. A pair whose merged string is already a token is passed over, so
    /// every merge adds one new token.
    /// </summary>
    /// <exception cref="ArgumentException">The words run out of pairs before <paramref name="count"/> merges.</exception>
    public static List<(string Left, string Right)> Learn(IReadOnlyDictionary<string, int> wordCounts, IEnumerable<string> alphabet, int count)
    {
        var words = wordCounts
            .OrderBy(w => w.Key, StringComparer.Ordinal)   // a fixed order, whatever the dictionary's
            .Select(w => (Symbols: w.Key.Select(c => c.ToString()).ToList(), w.Value))
            .ToList();
        var tokens = new HashSet<string>(alphabet, StringComparer.Ordinal);
        var merges = new List<(string, string)>(count);
        while (merges.Count < count)
        {
            var pairCounts = new Dictionary<(string, string), long>();
            foreach (var (symbols, frequency) in words)
                for (int i = 0; i + 1 < symbols.Count; i++)
                    pairCounts[(symbols[i], symbols[i + 1])] = pairCounts.GetValueOrDefault((symbols[i], symbols[i + 1])) + frequency;

            (string Left, string Right)? best = null;
            long bestCount = 0;
            foreach (var (pair, n) in pairCounts)
            {
                if (tokens.Contains(pair.Item1 + pair.Item2)) continue;
                if (n > bestCount || n == bestCount && Compare(pair, best!.Value) < 0)
                {
                    best = pair;
                    bestCount = n;
                }
            }
            if (best is not { } merge)
                throw new ArgumentException($"the corpus yields only {merges.Count} merges; {count} are needed.");

            foreach (var (symbols, _) in words) Apply(symbols, merge);
            tokens.Add(merge.Left + merge.Right);
            merges.Add(merge);
        }
        return merges;
    }

    static int Compare((string, string) a, (string, string) b)
    {
        int first = string.CompareOrdinal(a.Item1, b.Item1);
        return first != 0 ? first : string.CompareOrdinal(a.Item2, b.Item2);
    }

    /// <summary>Merges every occurrence of the pair, left to right.</summary>
    static void Apply(List<string> symbols, (string Left, string Right) merge)
    {
        for (int i = 0; i + 1 < symbols.Count; i++)
        {
            if (symbols[i] != merge.Left || symbols[i + 1] != merge.Right) continue;
            symbols[i] = merge.Left + merge.Right;
            symbols.RemoveAt(i + 1);
        }
    }
}
