using System.Text.RegularExpressions;

namespace GspoSharp.Rewards;

/// <summary>Extracts final answers from model output: the last \boxed{…}, else a GSM8K <c>#### 72</c>, else the last number.</summary>
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

    /// <summary>The text after the last GSM8K marker <c>#### </c> to the end of its line, or null.</summary>
    public static string? AfterHashes(string text)
    {
        int start = text.LastIndexOf("####", StringComparison.Ordinal);
        if (start < 0) return null;
        int end = text.IndexOf('\n', start);
        string answer = text[(start + 4)..(end < 0 ? text.Length : end)].Trim();
        return answer.Length == 0 ? null : answer;
    }

    /// <summary>The final answer: the last \boxed{…} when present, else what follows the last <c>####</c>, else the last number.</summary>
    public static string? FinalAnswer(string text) => LastBoxed(text) ?? AfterHashes(text) ?? LastNumber(text);

    /// <summary>
    /// The reference answer of a dataset row: the row's text itself (<c>72</c>, <c>\frac{1}{2}</c>), or,
    /// when it is a worked solution, its last \boxed{…} (MATH) or what follows <c>####</c> (GSM8K).
    /// </summary>
    public static string ExpectedAnswer(string reference) => LastBoxed(reference) ?? AfterHashes(reference) ?? reference;

    /// <summary>True when two answers are mathematically equivalent (<see cref="AnswerEquivalence.Equivalent"/>).</summary>
    public static bool Equivalent(string? answer, string expected) => AnswerEquivalence.Equivalent(answer, expected);
}
