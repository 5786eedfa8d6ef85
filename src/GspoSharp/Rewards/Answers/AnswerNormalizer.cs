using System.Text.RegularExpressions;

namespace GspoSharp.Rewards;

/// <summary>
/// Rewrites one answer's LaTeX into the plain form <see cref="MathAnswer"/> parses: removes what
/// changes the look but not the value (\left/\right, spacing, \displaystyle, currency signs,
/// degree signs, units in \text{…} or as trailing words, thousands separators, a trailing period),
/// unwraps \text{…} / \boxed{…} around the whole answer, and spells percent as <c>%</c>.
/// Every pattern is linear in the input, and inputs longer than <see cref="MaxLength"/> are refused.
/// </summary>
internal static partial class AnswerNormalizer
{
    /// <summary>Longest answer normalised and parsed (characters); a longer one only matches itself exactly.</summary>
    internal const int MaxLength = AnswerEquivalence.MaxAnswerLength;

    [GeneratedRegex(@"\\(?:left|right)\s*\.|\\(?:left|right|[bB]igg?[lr]?)(?![a-zA-Z])")]
    private static partial Regex Sizing();

    [GeneratedRegex(@"\\[dtc]frac(?![a-zA-Z])")]
    private static partial Regex FracVariants();

    // 10{,}000 and 10\,000 write ten thousand; \! is a negative thin space (10,\!000).
    [GeneratedRegex(@"\\!|(?<=\d)(?:\{,\}|\\,)(?=\d{3}(?!\d))")]
    private static partial Regex DigitGroupSpacing();

    [GeneratedRegex(@"\\(?:displaystyle|textstyle|scriptstyle|quad|qquad|[,;:>])|\\ |~")]
    private static partial Regex Spacing();

    [GeneratedRegex(@"\{,\}")]
    private static partial Regex BracedComma();

    [GeneratedRegex(@"\\\$|\$|€|£|¥|₹|\\euro(?![a-zA-Z])|\\pounds(?![a-zA-Z])")]
    private static partial Regex Currency();

    [GeneratedRegex(@"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![a-zA-Z])|°|\\degree(?![a-zA-Z])")]
    private static partial Regex Degrees();

    [GeneratedRegex(@"\\%|\s*\\(?:text|mathrm|mbox)\s*\{\s*(?:percent|percentage|pct|\\%)\s*\}|\s*\b(?:percent|percentage|pct)\b")]
    private static partial Regex Percent();

    [GeneratedRegex(@"^\\(?:text|textbf|textrm|textit|textup|textnormal|mathrm|mathbf|mathit|mbox|boxed|fbox)\s*\{")]
    private static partial Regex WrapperStart();

    [GeneratedRegex(@"\s*\\(?:text|textrm|textup|textnormal|textit|textbf|mathrm|mbox)\s*\{\s*(?:and|or)\s*\}\s*|\s+(?:and|or)\s+")]
    private static partial Regex Conjunction();

    // "18 \text{ dollars}", "5\text{cm}^2": a \text group ending the answer, after something else.
    [GeneratedRegex(@"^(?<body>.*\S)\s*\\(?:text|textrm|textup|textnormal|textit|textbf|mathrm|mbox)\s*\{(?<unit>[^{}]*)\}\s*(?:\^\s*\{?\d\}?)?\s*\.?$")]
    private static partial Regex TrailingText();

    // "18 dollars", "72 apples.", "3 square feet": words of two letters or more after a number.
    [GeneratedRegex(@"^(?<body>.*?[\d})\]%])\s+[A-Za-z]{2,}[A-Za-z'.\-]*(?:\s+[A-Za-z]+[A-Za-z'.\-]*)*\s*(?:\^\s*\{?\d\}?)?$")]
    private static partial Regex TrailingWords();

    // Words that are part of the number, not a unit: "2 million" is not 2, "5 squared" is not 5.
    [GeneratedRegex(@"\b(?:hundreds?|thousands?|millions?|billions?|trillions?|dozens?|squared|cubed|halves|half|thirds?|quarters?|tenths?|hundredths?|thousandths?)\b", RegexOptions.IgnoreCase)]
    private static partial Regex ChangesTheValue();

    // 1,000, 12,345.5 and 1 000 000 as a whole answer or as the right side of "x = …" (not inside
    // tuples, where the comma separates).
    [GeneratedRegex(@"(?<=^|=\s*)[-+]?\d{1,3}(?:(?:,\d{3})+|(?: \d{3})+)(?:\.\d+)?(?=%?$)")]
    private static partial Regex ThousandsNumber();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    /// <summary>The normalised answer, or null when it is longer than <see cref="MaxLength"/>.</summary>
    public static string? Normalize(string answer)
    {
        if (answer.Length > MaxLength) return null;
        string s = answer.Trim();
        // Plain numbers (the arithmetic demo, GSM8K references) skip the passes that cannot apply.
        bool command = s.Contains('\\'), letters = s.Any(char.IsAsciiLetter);
        if (command || s.Contains('~'))
        {
            s = Sizing().Replace(s, "");
            s = FracVariants().Replace(s, @"\frac");
            s = DigitGroupSpacing().Replace(s, "");
            s = Spacing().Replace(s, " ");
        }
        if (s.Contains('{')) s = BracedComma().Replace(s, ",");
        if (command || s.Any(c => c is '$' or '€' or '£' or '¥' or '₹' or '°'))
        {
            s = Currency().Replace(s, "");
            s = Degrees().Replace(s, "");
        }
        if (command || letters) s = Percent().Replace(s, "%");
        int approx = s.IndexOf(@"\approx", StringComparison.Ordinal);   // "\frac{1}{3} \approx 0.33": the exact part
        if (approx > 0 && s[..approx].Trim().Length > 0) s = s[..approx];
        if (letters) s = Conjunction().Replace(s.Trim(), ", ");
        for (int pass = 0; pass < 4; pass++)
        {
            string before = s;
            s = Unwrap(s.Trim().TrimEnd('.').TrimEnd());
            if (s.Length == 0 || !letters) break;
            if (command && TrailingText().Match(s) is { Success: true } text && !IsSymbol(text.Groups["unit"].Value)
                && !ChangesTheValue().IsMatch(text.Groups["unit"].Value))
                s = text.Groups["body"].Value;
            // The pattern scans the answer once per candidate end of its body: only tried when the answer can end in a word.
            if (s.Length > 0 && (char.IsAsciiLetter(s[^1]) || s[^1] is '}' or '.' or '\'' or '-' || char.IsAsciiDigit(s[^1]))
                && TrailingWords().Match(s) is { Success: true } words && words.Groups["body"].Value.Any(char.IsAsciiDigit)
                && !ChangesTheValue().IsMatch(s[words.Groups["body"].Length..]))
                s = words.Groups["body"].Value;
            if (s == before) break;
        }
        if (s.Contains(',') || s.Contains(' ')) s = ThousandsNumber().Replace(s, m => m.Value.Replace(",", "").Replace(" ", ""));
        return s.Any(char.IsWhiteSpace) ? Whitespace().Replace(s, " ").Trim() : s;
    }

    /// <summary>\text{x} or \mathrm{e} names a symbol (kept); \text{ m} or \text{cm} is a unit (dropped).</summary>
    static bool IsSymbol(string content) => content.Length == 1 && char.IsAsciiLetter(content[0]);

    /// <summary>The content of \text{…}, \boxed{…} and the like when one of them is the whole answer.</summary>
    static string Unwrap(string s)
    {
        var start = WrapperStart().Match(s);
        if (!start.Success || s[^1] != '}') return s;
        int depth = 0;
        for (int i = start.Length - 1; i < s.Length; i++)
        {
            if (s[i] == '{') depth++;
            else if (s[i] == '}' && --depth == 0) return i == s.Length - 1 ? s[start.Length..^1].Trim() : s;
        }
        return s;
    }
}
