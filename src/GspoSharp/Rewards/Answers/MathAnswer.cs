using System.Globalization;
using System.Text.RegularExpressions;

namespace GspoSharp.Rewards;

/// <summary>
/// The shape of one normalised answer: a number or expression, a tuple or interval, a set, a bare
/// list, a union of intervals, an equation (<c>x = 5</c>), a multiple-choice letter or plain text.
/// <see cref="AnswerEquivalence"/> compares two of them.
/// </summary>
internal abstract partial record MathAnswer
{
    /// <summary>Deepest nesting of tuples and sets accepted.</summary>
    const int MaxDepth = 8;

    /// <summary>A number or expression; <paramref name="Percent"/> when written with a trailing %, its value being <paramref name="Expression"/> without it.</summary>
    internal sealed record Scalar(AnswerExpression Expression, bool Percent) : MathAnswer
    {
        SortedSet<string>? variables;
        AnswerNumber? value;

        /// <summary>The variables of the expression (computed once: a set's items are compared many times).</summary>
        public SortedSet<string> Variables => variables ??= Expression.Variables();

        /// <summary>The value of an expression without variables (computed once).</summary>
        public AnswerNumber Value => value ??= Expression.Evaluate(null);
    }

    /// <summary>An ordered tuple or an interval, with its brackets: (1, 2), [0, 1), (−∞, 3].</summary>
    internal sealed record Tuple(char Open, char Close, IReadOnlyList<MathAnswer> Items) : MathAnswer;

    /// <summary>A set \{…\}, or a list written without brackets (1, 2): both unordered.</summary>
    internal sealed record Collection(IReadOnlyList<MathAnswer> Items, bool Braced) : MathAnswer;

    /// <summary>A union of intervals, unordered.</summary>
    internal sealed record Union(IReadOnlyList<MathAnswer> Parts) : MathAnswer;

    /// <summary>An equation. <paramref name="Assigned"/> names the variable when the left side is one (x = 5, x_1 = 2).</summary>
    internal sealed record Equation(string? Assigned, MathAnswer Left, MathAnswer Right) : MathAnswer;

    /// <summary>A multiple-choice letter: B, (B), \text{B}, B).</summary>
    internal sealed record Choice(char Letter) : MathAnswer;

    /// <summary>Anything else, compared as text (whitespace collapsed).</summary>
    internal sealed record Text(string Value) : MathAnswer;

    [GeneratedRegex(@"^\(?([A-Z])\)?[.:]?$")]
    private static partial Regex ChoicePattern();

    [GeneratedRegex(@"^[A-Za-z]+(?: [A-Za-z]+)*$")]
    private static partial Regex WordsPattern();

    [GeneratedRegex(@"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?'*$")]
    private static partial Regex SymbolPattern();

    /// <summary>The shape of an answer, or null when it is empty (or too long to parse).</summary>
    public static MathAnswer? Parse(string answer)
    {
        string? s = AnswerNormalizer.Normalize(answer);
        if (string.IsNullOrEmpty(s)) return null;
        if (ChoicePattern().Match(s) is { Success: true } choice) return new Choice(choice.Groups[1].Value[0]);
        // Words (the reverse task's "z q k", "no solution") are text: read as a product of variables, "z q k" would equal "k q z".
        if (s.Length > 1 && WordsPattern().IsMatch(s)) return new Text(s);
        return Structure(s, 0) ?? new Text(s);
    }

    /// <summary>A list of items, an equation, or a single value; null when malformed.</summary>
    static MathAnswer? Structure(string s, int depth)
    {
        if (depth > MaxDepth) return null;
        var items = SplitTopLevel(s, ",");
        if (items.Count > 1)   // 1, 2 or x = 1, y = 2
        {
            var parsed = items.Select(i => Structure(i, depth + 1)).ToList();
            return parsed.Any(p => p is null) ? null : new Collection(parsed!, Braced: false);
        }
        var sides = SplitTopLevel(s, "=");
        if (sides.Count > 1)   // x = 5, x = 2 + 3 = 5 (the last side counts), 2x + 1 = 7
        {
            string left = sides[0].Trim();
            var right = Item(sides[^1], depth);
            if (right is null || sides.Any(p => p.Trim().Length == 0)) return null;
            if (SymbolPattern().IsMatch(left)) return new Equation(left.Replace("{", "").Replace("}", ""), new Text(left), right);
            // The left side of a worked equation (2 + 3 = 5) may hold the arithmetic; only its last side is the answer.
            return Item(left, depth, final: false) is { } l ? new Equation(null, l, right) : null;
        }
        return Item(s, depth);
    }

    /// <summary>A set, tuple, interval, union or scalar; null when malformed (or, when <paramref name="final"/>, <see cref="Unevaluated"/>).</summary>
    static MathAnswer? Item(string s, int depth, bool final = true)
    {
        s = s.Trim();
        if (s.Length == 0 || depth > MaxDepth) return null;
        var parts = SplitTopLevel(s, @"\cup");
        if (parts.Count > 1)
        {
            var parsed = parts.Select(p => Item(p, depth + 1)).ToList();
            return parsed.Any(p => p is null) ? null : new Union(parsed!);
        }
        if (s is @"\emptyset" or @"\varnothing" or "∅") return new Collection(Array.Empty<MathAnswer>(), Braced: true);
        if (s.StartsWith(@"\{", StringComparison.Ordinal) && s.EndsWith(@"\}", StringComparison.Ordinal) && Encloses(s, 1, s.Length - 1))
        {
            string inner = s[2..^2].Trim();
            if (inner.Length == 0) return new Collection(Array.Empty<MathAnswer>(), Braced: true);
            var parsed = SplitTopLevel(inner, ",").Select(i => Structure(i, depth + 1)).ToList();
            return parsed.Any(p => p is null) ? null : new Collection(parsed!, Braced: true);
        }
        if (s[0] is '(' or '[' && s[^1] is ')' or ']' && Encloses(s, 0, s.Length - 1))
        {
            var items = SplitTopLevel(s[1..^1], ",");
            if (items.Count > 1)
            {
                var parsed = items.Select(i => Structure(i, depth + 1)).ToList();
                return parsed.Any(p => p is null) ? null : new Tuple(s[0], s[^1], parsed!);
            }
        }
        bool percent = s.EndsWith('%');
        if (percent) s = s[..^1].TrimEnd();
        if (MixedNumberPattern().Match(s) is { Success: true } mixed)
        {
            // 2\frac{1}{4} and 2 1/4 are mixed numbers (9/4), as MATH writes them, not 2 · 1/4; an improper one is no number.
            string num = mixed.Groups["num"].Value, den = mixed.Groups["den"].Value;
            if (num.Length > 9 || den.Length > 9 || long.Parse(num, CultureInfo.InvariantCulture) >= long.Parse(den, CultureInfo.InvariantCulture)) return null;
            s = $@"{mixed.Groups["sign"].Value}({mixed.Groups["whole"].Value}+\frac{{{num}}}{{{den}}})";
        }
        var expression = ExpressionParser.TryParse(s);
        return expression is null || (final && Unevaluated(expression)) ? null : new Scalar(expression, percent);
    }

    /// <summary>
    /// True when the expression adds, subtracts or multiplies two written numbers (7 + 7, 3 \times 6,
    /// 2(3)): arithmetic left undone is not a final answer, or a model could score by boxing the
    /// question's own sum. Fractions (3/4), powers (2^{10}), scientific notation (1.5 \times 10^3)
    /// and sums with a root or a variable (1 + \sqrt{2}, x + 1) are final forms.
    /// </summary>
    static bool Unevaluated(AnswerExpression expression) => expression switch
    {
        BinaryOperation { Operator: '+' or '-' or '*' } b when Written(b.Left) && Written(b.Right) => true,
        BinaryOperation b => Unevaluated(b.Left) || Unevaluated(b.Right),
        Negation n => Unevaluated(n.Operand),
        FunctionCall f => Unevaluated(f.Argument) || (f.Parameter is { } p && Unevaluated(p)),
        _ => false,
    };

    static bool Written(AnswerExpression e) => e is NumberLiteral or Negation { Operand: NumberLiteral };

    [GeneratedRegex(@"^(?<sign>[-+]?)\s*(?<whole>\d+)(?:\s*\\frac\s*(?:\{(?<num>\d+)\}\s*\{(?<den>\d+)\}|(?<num>\d)(?<den>\d))|\s+(?<num>\d+)/(?<den>\d+))$")]
    private static partial Regex MixedNumberPattern();

    /// <summary>True when the bracket at <paramref name="open"/> closes at <paramref name="close"/> (any bracket kind: intervals mix them).</summary>
    static bool Encloses(string s, int open, int close)
    {
        int depth = 0;
        for (int i = open; i <= close; i++)
        {
            if (s[i] is '(' or '[' or '{') depth++;
            else if (s[i] is ')' or ']' or '}' && --depth == 0) return i == close;
        }
        return false;
    }

    /// <summary>The parts of <paramref name="s"/> between separators outside any bracket.</summary>
    static List<string> SplitTopLevel(string s, string separator)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (depth == 0 && string.CompareOrdinal(s, i, separator, 0, separator.Length) == 0
                     && !(separator == "=" && i > 0 && s[i - 1] is '<' or '>' or '!' or ':' or '\\'))
            {
                parts.Add(s[start..i]);
                start = i + separator.Length;
                i = start - 1;
            }
        }
        parts.Add(s[start..]);
        return parts;
    }
}
