using System.Globalization;
using System.Text.RegularExpressions;

namespace GspoSharp.Rewards;

/// <summary>Extracts final answers from model output: the last \boxed{…}, else the last number.</summary>
public static partial class AnswerExtraction
{
    [GeneratedRegex(@"-?\d[\d,]*(?:\.\d+)?")]
    private static partial Regex NumberPattern();

    /// <summary>The content of the last <c>\boxed{…}</c> (braces balanced), or null.</summary>
    public static string? LastBoxed(string text)
    {
        int start = text.LastIndexOf("\\boxed{", StringComparison.Ordinal);
        if (start < 0) return null;
        int depth = 0;
        for (int i = start + 6; i < text.Length; i++)
        {
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0) return text[(start + 7)..i].Trim();
        }
        return null;
    }

    /// <summary>The last number in the text (commas as thousands separators allowed), or null.</summary>
    public static string? LastNumber(string text)
    {
        var matches = NumberPattern().Matches(text);
        return matches.Count == 0 ? null : matches[^1].Value.Replace(",", "");
    }

    /// <summary>The final answer: the last \boxed{…} when present, else the last number.</summary>
    public static string? FinalAnswer(string text) => LastBoxed(text) ?? LastNumber(text);

    /// <summary>True when two answers are equal as numbers (1.50 = 1.5) or, failing that, as trimmed strings.</summary>
    public static bool Equivalent(string? answer, string expected)
    {
        if (answer is null) return false;
        string a = answer.Replace(",", "").Trim(), e = expected.Replace(",", "").Trim();
        if (decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) &&
            decimal.TryParse(e, NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
            return x == y;
        return string.Equals(a, e, StringComparison.Ordinal);
    }
}
