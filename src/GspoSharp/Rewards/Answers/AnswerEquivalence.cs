namespace GspoSharp.Rewards;

/// <summary>
/// Whether a model's final answer equals the reference answer as mathematics, not as text:
/// <c>\$18</c>, <c>18 \text{ dollars}</c> and <c>18</c> are equal, so are <c>\frac{1}{2}</c> and
/// <c>0.5</c>, <c>\sqrt{8}</c> and <c>2\sqrt2</c>, <c>x = 5</c> and <c>5</c>, <c>(B)</c> and <c>B</c>;
/// <c>180</c> and <c>18</c>, <c>\frac13</c> and <c>0.333</c>, <c>(1,2)</c> and <c>(2,1)</c> are not.
/// The rules, with examples, are in docs/answers.md. It aligns with the semantics of Hugging Face's
/// math_verify (which TRL's accuracy reward calls): assignments unwrap, sets are unordered and
/// tuples ordered, percent reads as a unit or as /100, decimals approximate within a tolerance.
/// Unlike math_verify, arithmetic left undone (<c>7 + 7</c>, <c>3 \times 6</c>) is not a final answer.
/// <para>Thread-safe and allocation-light; malformed input is simply not equal (never an exception),
/// and input length and nesting are bounded, so no answer can make it slow.</para>
/// </summary>
public static class AnswerEquivalence
{
    /// <summary>
    /// Two numbers at least one of which is not exact (π, √2, or a written decimal standing for a
    /// non-terminating value such as 1/3) are equal when |a − b| ≤ 10⁻⁶ · max(|a|, |b|): one part in
    /// a million, so 0.333333 = 1/3 but 0.33333 ≠ 1/3. Exact values (integers, fractions, terminating
    /// decimals) are equal only when they are the same rational: 1000000 ≠ 1000001, 180 ≠ 180.0001.
    /// </summary>
    public const double RelativeTolerance = 1e-6;

    /// <summary>
    /// Longest answer (characters, after extraction) that is parsed; a longer one is equivalent only
    /// to exactly the same text. Real final answers are far shorter; the bound keeps every call fast.
    /// </summary>
    public const int MaxAnswerLength = 1000;

    /// <summary>Most items compared in one set or list (answers are bounded in length anyway).</summary>
    const int MaxItems = 64;

    /// <summary>
    /// True when <paramref name="answer"/> (the model's) is equivalent to <paramref name="expected"/>
    /// (the reference). An empty or missing answer is never equivalent. The relation is symmetric
    /// except for equations: an answer "2 + 3 = 5" counts as its last side, a reference equation does not.
    /// </summary>
    public static bool Equivalent(string? answer, string? expected)
    {
        if (string.IsNullOrWhiteSpace(answer) || string.IsNullOrWhiteSpace(expected)) return false;
        string a = answer.Trim(), e = expected.Trim();
        if (string.Equals(a, e, StringComparison.Ordinal)) return true;
        // Two plain decimals (the arithmetic demo, GSM8K): exact equality, without parsing LaTeX.
        if (PlainDecimal(a) is { } x && PlainDecimal(e) is { } y) return x == y;
        var gold = MathAnswer.Parse(expected);
        var predicted = gold is null ? null : MathAnswer.Parse(answer);
        return gold is not null && predicted is not null && Equal(gold, predicted);
    }

    /// <summary>The value of a plain decimal like -12 or 3.50 (at most 28 digits), else null.</summary>
    static decimal? PlainDecimal(string s)
    {
        if (s.Length is 0 or > 28) return null;
        int points = 0, digits = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (char.IsAsciiDigit(c)) digits++;
            else if (c == '.') points++;
            else if (!(i == 0 && c is '-' or '+')) return null;
        }
        return digits > 0 && points <= 1 && decimal.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign | System.Globalization.NumberStyles.AllowDecimalPoint,
            System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : null;
    }

    static bool Equal(MathAnswer gold, MathAnswer predicted) => (gold, predicted) switch
    {
        (MathAnswer.Equation { Assigned: { } g } ge, MathAnswer.Equation { Assigned: { } p } pe) => g == p && Equal(ge.Right, pe.Right),
        (MathAnswer.Equation ge, MathAnswer.Equation pe) => EquationsEqual(ge, pe),
        (MathAnswer.Equation { Assigned: not null } ge, _) => Equal(ge.Right, predicted),   // x = 5 against 5
        (_, MathAnswer.Equation pe) => Equal(gold, pe.Right),                             // 5 against x = 5, 2 + 3 = 5
        (MathAnswer.Choice g, MathAnswer.Choice p) => g.Letter == p.Letter,
        (MathAnswer.Text g, MathAnswer.Text p) => string.Equals(g.Value, p.Value, StringComparison.Ordinal),
        (MathAnswer.Scalar g, MathAnswer.Scalar p) => ScalarsEqual(g, p),
        (MathAnswer.Tuple g, MathAnswer.Tuple p) => g.Open == p.Open && g.Close == p.Close && InOrder(g.Items, p.Items),
        (MathAnswer.Collection g, MathAnswer.Collection p) => Unordered(g.Items, p.Items),
        (MathAnswer.Union g, MathAnswer.Union p) => Unordered(g.Parts, p.Parts),
        // {5} and 5; a list "1, 2" and the tuple (1, 2)
        (MathAnswer.Collection { Braced: true, Items.Count: 1 } g, MathAnswer.Scalar) => Equal(g.Items[0], predicted),
        (MathAnswer.Scalar, MathAnswer.Collection { Braced: true, Items.Count: 1 } p) => Equal(gold, p.Items[0]),
        (MathAnswer.Collection { Braced: false } g, MathAnswer.Tuple { Open: '(', Close: ')' } p) => InOrder(g.Items, p.Items),
        (MathAnswer.Tuple { Open: '(', Close: ')' } g, MathAnswer.Collection { Braced: false } p) => InOrder(g.Items, p.Items),
        _ => false,
    };

    /// <summary>Same sides, swapped sides, or (for expressions) left − right equal up to sign: 2x = 6 and 6 = 2x, x + 1 = 3 and x − 2 = 0.</summary>
    static bool EquationsEqual(MathAnswer.Equation g, MathAnswer.Equation p)
    {
        if ((Equal(g.Left, p.Left) && Equal(g.Right, p.Right)) || (Equal(g.Left, p.Right) && Equal(g.Right, p.Left))) return true;
        if (g.Left is not MathAnswer.Scalar { Percent: false } gl || g.Right is not MathAnswer.Scalar { Percent: false } gr ||
            p.Left is not MathAnswer.Scalar { Percent: false } pl || p.Right is not MathAnswer.Scalar { Percent: false } pr) return false;
        var gd = new BinaryOperation('-', gl.Expression, gr.Expression);
        return ValuesEqual(gd, new BinaryOperation('-', pl.Expression, pr.Expression))
            || ValuesEqual(gd, new BinaryOperation('-', pr.Expression, pl.Expression));
    }

    /// <summary>
    /// A percentage reads as its number (GSM8K writes 50 for "50%") or as a fraction (50% = 0.5),
    /// so 50\% matches 50 and 0.5, but 50 and 0.5 do not match each other.
    /// </summary>
    static bool ScalarsEqual(MathAnswer.Scalar g, MathAnswer.Scalar p)
    {
        if (g.Variables.Count == 0 && p.Variables.Count == 0)
        {
            if (NumbersEqual(g.Value, p.Value)) return true;
            if (g.Percent == p.Percent) return false;
            var percent = AnswerNumber.Exact(100, 1);
            return g.Percent ? NumbersEqual(g.Value / percent, p.Value) : NumbersEqual(g.Value, p.Value / percent);
        }
        if (ValuesEqual(g.Expression, p.Expression)) return true;
        if (g.Percent == p.Percent) return false;
        var hundred = FunctionCall.Integer(100);
        return g.Percent
            ? ValuesEqual(new BinaryOperation('/', g.Expression, hundred), p.Expression)
            : ValuesEqual(g.Expression, new BinaryOperation('/', p.Expression, hundred));
    }

    static bool InOrder(IReadOnlyList<MathAnswer> gold, IReadOnlyList<MathAnswer> predicted)
    {
        if (gold.Count != predicted.Count || gold.Count > MaxItems) return false;
        for (int i = 0; i < gold.Count; i++)
            if (!Equal(gold[i], predicted[i])) return false;
        return true;
    }

    /// <summary>Equal as sets: repeated items count once, each item of one has an equal item in the other.</summary>
    static bool Unordered(IReadOnlyList<MathAnswer> gold, IReadOnlyList<MathAnswer> predicted)
    {
        if (gold.Count > MaxItems || predicted.Count > MaxItems) return false;
        var g = Distinct(gold);
        var p = Distinct(predicted);
        if (g.Count != p.Count) return false;
        var used = new bool[p.Count];
        foreach (var item in g)
        {
            int match = -1;
            for (int j = 0; j < p.Count && match < 0; j++)
                if (!used[j] && Equal(item, p[j])) match = j;
            if (match < 0) return false;
            used[match] = true;
        }
        return true;
    }

    static List<MathAnswer> Distinct(IReadOnlyList<MathAnswer> items)
    {
        var distinct = new List<MathAnswer>(items.Count);
        foreach (var item in items)
            if (!distinct.Any(d => Equal(d, item))) distinct.Add(item);
        return distinct;
    }

    /// <summary>
    /// Equal values: without variables, exactly or within <see cref="RelativeTolerance"/> (see there);
    /// with variables (the same ones on both sides), at each of a few fixed points.
    /// </summary>
    internal static bool ValuesEqual(AnswerExpression gold, AnswerExpression predicted)
    {
        var variables = gold.Variables();
        if (!variables.SetEquals(predicted.Variables())) return false;
        if (variables.Count == 0) return NumbersEqual(gold.Evaluate(null), predicted.Evaluate(null));
        int compared = 0;
        for (int point = 0; point < SamplePoints; point++)
        {
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            int i = 0;
            foreach (var name in variables) values[name] = SampleValue(i++, point);
            double x = gold.Evaluate(values).Value, y = predicted.Evaluate(values).Value;
            if (double.IsNaN(x) && double.IsNaN(y)) continue;   // outside both domains
            if (!DoublesEqual(x, y)) return false;
            compared++;
        }
        return compared > 0;
    }

    /// <summary>Points per comparison of expressions with variables: distinct expressions of low degree cannot agree at all of them by accident.</summary>
    const int SamplePoints = 6;

    /// <summary>
    /// Irregular magnitudes in (1, 2.5), no two alike and none a "nice" number; every other point is
    /// negative, so that \sqrt{x^2} and x differ as they should (points outside both sides' domain are skipped).
    /// </summary>
    static double SampleValue(int variable, int point) =>
        (point % 2 == 0 ? 1 : -1) * (1 + 1.5 * ((0.6180339887498949 * (variable + 1) + 0.41421356237309515 * (point + 1) + 0.1 * variable * point) % 1.0));

    internal static bool NumbersEqual(AnswerNumber a, AnswerNumber b)
    {
        if (a.SameRational(b)) return true;   // before reading doubles: exact values beyond a double's range compare too
        if (double.IsNaN(a.Value) || double.IsNaN(b.Value)) return false;
        if (a.IsExact && b.IsExact)
            // Two different rationals: equal only when one is a written decimal approximating a value no decimal can write.
            return ((a.FromDecimal && !b.Terminates) || (b.FromDecimal && !a.Terminates)) && DoublesEqual(a.Value, b.Value);
        return DoublesEqual(a.Value, b.Value);
    }

    static bool DoublesEqual(double x, double y)
    {
        if (double.IsNaN(x) || double.IsNaN(y)) return false;
        if (double.IsInfinity(x) || double.IsInfinity(y)) return x == y;
        // The factor (1 + 1e-8) absorbs rounding, so the boundary case (1/3 against 0.333333,
        // exactly one part in a million apart) does not depend on the last bit of a double.
        return Math.Abs(x - y) <= RelativeTolerance * Math.Max(Math.Abs(x), Math.Abs(y)) * (1 + 1e-8);
    }
}
