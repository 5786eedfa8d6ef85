using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// A pre-tokenizer regex with the "Isolated" split behaviour of Hugging Face tokenizers: every
/// match becomes a piece, and so does every non-empty stretch between two matches.
/// </summary>
/// <remarks>
/// The patterns are written for Oniguruma, which matches code points. .NET matches UTF-16 code
/// units, so a character outside the Basic Multilingual Plane (𝒜, 𠀀, 😀) would be two
/// "surrogate" units of category Cs and never match <c>\p{L}</c> or <c>\p{N}</c>. Microsoft.ML.Tokenizers'
/// RegexPreTokenizer runs the pattern on the raw string and so shares this defect, which is why the
/// split is done here: each such character is replaced, for matching only, by a BMP stand-in of
/// the same Unicode general category, and match positions are mapped back to the original text.
/// That is exact for patterns that classify characters by category (all the GPT-2, Qwen and
/// Llama-3 patterns do).
/// </remarks>
internal sealed class IsolatingRegex
{
    /// <summary>The GPT-2 pattern a ByteLevel pre-tokenizer applies when its use_regex is true.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>
    /// How long one match may take. The patterns need lookaheads, so .NET's backtracking engine
    /// runs them, and a pattern from a file with nested quantifiers (<c>(a+)+$</c>) can take
    /// exponential time; the real patterns take microseconds.
    /// </summary>
    public static readonly TimeSpan DefaultMatchTimeout = TimeSpan.FromSeconds(5);

    static readonly char[] StandIns = BuildStandIns();

    readonly Regex _regex;
    readonly string _where;

    /// <summary>Compiles <paramref name="pattern"/>; <paramref name="where"/> names the file and field for errors.</summary>
    public IsolatingRegex(string pattern, string where, TimeSpan? matchTimeout = null)
    {
        _where = where;
        try
        {
            _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled, matchTimeout ?? DefaultMatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException($"{where}: the pattern is not a regular expression .NET supports: {e.Message}", e);
        }
    }

    /// <summary>Appends the pieces of <paramref name="text"/> to <paramref name="pieces"/>.</summary>
    /// <exception cref="ModelFormatException">One match took longer than the match timeout: the pattern backtracks catastrophically.</exception>
    public void Split(string text, List<string> pieces)
    {
        try
        {
            SplitUnchecked(text, pieces);
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new ModelFormatException($"{_where}: matching the pattern on a {text.Length}-character text took longer than " +
                                           $"{e.MatchTimeout.TotalSeconds:0.###} s; it backtracks catastrophically (nested quantifiers such as (a+)+).", e);
        }
    }

    void SplitUnchecked(string text, List<string> pieces)
    {
        if (text.Length == 0) return;
        string subject = WithStandIns(text, out int[]? original);
        int Original(int i) => original is null ? i : original[i];
        int previous = 0;
        foreach (var match in _regex.EnumerateMatches(subject))
        {
            if (match.Length == 0) continue;
            int start = Original(match.Index), end = Original(match.Index + match.Length);
            if (start > previous) pieces.Add(text[previous..start]);
            pieces.Add(text[start..end]);
            previous = end;
        }
        if (previous < text.Length) pieces.Add(text[previous..]);
    }

    /// <summary>
    /// <paramref name="text"/> with each surrogate pair replaced by one stand-in character, and
    /// for each index of the result the index it came from (null when nothing was replaced).
    /// </summary>
    static string WithStandIns(string text, out int[]? original)
    {
        original = null;
        int first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (first < 0) return text;
        var subject = new StringBuilder(text.Length);
        var map = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length;)
        {
            map.Add(i);
            if (char.IsSurrogatePair(text, i))
            {
                subject.Append(StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))]);
                i += 2;
            }
            else
            {
                subject.Append(text[i]);
                i++;
            }
        }
        map.Add(text.Length);
        original = map.ToArray();
        return subject.ToString();
    }

    /// <summary>
    /// One BMP character per general category. The search starts at U+A000 (Yi, Vai, Bamum, …)
    /// so that stand-ins are not Latin or CJK characters a pattern might name literally.
    /// </summary>
    static char[] BuildStandIns()
    {
        var standIns = new char[Enum.GetValues<UnicodeCategory>().Length];
        var found = new bool[standIns.Length];
        foreach (var range in new[] { (0xA000, 0xFFFF), (0x0080, 0x9FFF) })
            for (int c = range.Item1; c <= range.Item2; c++)
            {
                if (c is >= 0xD800 and <= 0xDFFF) continue;
                int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
                if (found[category]) continue;
                standIns[category] = (char)c;
                found[category] = true;
            }
        for (int i = 0; i < standIns.Length; i++)
            if (!found[i]) standIns[i] = '\uFFFD';   // no BMP character has this category (surrogates only)
        return standIns;
    }
}
