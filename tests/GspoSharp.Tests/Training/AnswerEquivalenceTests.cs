using System.Globalization;
using System.Numerics;
using System.Text.Json.Nodes;
using CsCheck;
using GspoSharp.Rewards;

namespace GspoSharp.Tests.Training;

/// <summary>The parts of the answer verifier one by one; the labelled corpus is AnswerCorpusTests.</summary>
public class AnswerEquivalenceTests
{
    // ---- Normalisation: what is removed, by hand ------------------------------------------------------

    [Theory]
    [InlineData(@"\$18", "18")]
    [InlineData(@"$18.00", "18.00")]
    [InlineData(@"18 \text{ dollars}", "18")]
    [InlineData(@"5\mbox{ cm}^2", "5")]
    [InlineData(@"72 apples.", "72")]
    [InlineData(@"30^{\circ}", "30")]
    [InlineData(@"50\%", "50%")]
    [InlineData(@"28 percent", "28%")]
    [InlineData(@"1{,}000", "1000")]
    [InlineData(@"1,234,567", "1234567")]
    [InlineData(@"x = 1,000", "x = 1000")]
    [InlineData(@"(1,000)", "(1,000)")]                       // inside brackets the comma separates
    [InlineData(@"\$16,\!386.20", "16386.20")]
    [InlineData(@"\left( \frac{1}{3} \right)", @"( \frac{1}{3} )")]
    [InlineData(@"\dfrac{3}{4}", @"\frac{3}{4}")]
    [InlineData(@"\textbf{(B)}", "(B)")]
    [InlineData(@"\boxed{\text{B}}", "B")]
    [InlineData(@"5\text{x}", @"5\text{x}")]                 // \text of one letter is a symbol (5x): kept
    [InlineData(@"5 \text{ and } 6", "5, 6")]
    [InlineData(@"\frac{1}{3} \approx 0.33", @"\frac{1}{3}")]
    [InlineData("  12 ", "12")]
    public void Normalization_removes_what_does_not_change_the_value(string answer, string normalized) =>
        Assert.Equal(normalized, AnswerNormalizer.Normalize(answer));

    [Fact]
    public void Answers_longer_than_the_limit_are_not_normalized() =>
        Assert.Null(AnswerNormalizer.Normalize(new string('1', AnswerNormalizer.MaxLength + 1)));

    // ---- Values: exact rationals where arithmetic allows -------------------------------------------

    static AnswerNumber Value(string latex) => ExpressionParser.TryParse(latex)!.Evaluate(null);

    [Theory]
    [InlineData(@"2^{10}", 1024, 1)]
    [InlineData(@"\frac{3}{4}", 3, 4)]
    [InlineData(@"\frac12 + \frac13", 5, 6)]
    [InlineData(@"1.5 \times 10^{3}", 1500, 1)]
    [InlineData(@"2.5e-4", 1, 4000)]
    [InlineData(@"10^-3", 1, 1000)]
    [InlineData(@"\sqrt{\frac{9}{4}}", 3, 2)]
    [InlineData(@"\sqrt[3]{-27}", -3, 1)]
    [InlineData(@"8^{2/3}", 4, 1)]
    [InlineData(@"5!", 120, 1)]
    [InlineData(@"-(3 - 5)", 2, 1)]
    [InlineData(@"25%", 1, 4)]
    public void Arithmetic_on_rationals_stays_exact(string latex, long numerator, long denominator)
    {
        var value = Value(latex);
        Assert.True(value.IsExact, latex);
        Assert.True(value.SameRational(AnswerNumber.Exact(numerator, denominator)), latex);
    }

    [Theory]
    [InlineData(@"\sqrt{8}", 2.8284271247461903)]            // 2√2
    [InlineData(@"2\pi", 6.283185307179586)]
    [InlineData(@"\frac{\sqrt3}{2}", 0.8660254037844386)]
    [InlineData(@"\log_2 8", 3.0)]
    [InlineData(@"e^{2}", 7.38905609893065)]
    public void Irrational_values_are_doubles(string latex, double expected)
    {
        var value = Value(latex);
        Assert.False(value.IsExact, latex);
        Assert.Equal(expected, value.Value, 1e-12);
    }

    [Fact]
    public void A_decimal_is_marked_and_knows_whether_a_fraction_terminates()
    {
        Assert.True(Value("0.125").FromDecimal);
        Assert.False(Value("125").FromDecimal);
        Assert.True(Value(@"\frac{1}{8}").Terminates);
        Assert.False(Value(@"\frac{1}{3}").Terminates);
        Assert.False(Value(@"\frac{7}{12}").Terminates);
    }

    [Theory]
    [InlineData(@"2^{5000}")]                                 // beyond 4096 bits, and overflowing a double
    [InlineData(@"1000!")]
    [InlineData(@"\frac{1}{0}")]
    [InlineData(@"\sqrt{-4}")]
    public void Values_too_large_or_undefined_are_not_numbers(string latex) => Assert.True(double.IsNaN(Value(latex).Value), latex);

    // ---- The tolerance (docs/answers.md) --------------------------------------------------------------

    [Theory]
    [InlineData(@"\frac{1}{3}", "0.333333", true)]            // |Δ| = 10⁻⁶ · (1/3): exactly at the tolerance
    [InlineData(@"\frac{1}{3}", "0.3333333", true)]
    [InlineData(@"\frac{1}{3}", "0.33333", false)]            // 10⁻⁵
    [InlineData(@"\frac{1}{7}", "0.142857", true)]
    [InlineData(@"\frac{2}{3}", "0.6667", false)]             // 5 × 10⁻⁵
    [InlineData(@"\pi", "3.141593", true)]                    // 1.1 × 10⁻⁷
    [InlineData(@"\pi", "3.1416", false)]                     // 2.3 × 10⁻⁶
    [InlineData(@"\sqrt{2}", "1.414214", true)]
    [InlineData("1000000", "1000001", false)]                 // 10⁻⁶ apart but exact: never within a tolerance
    [InlineData("0.125", "0.1250001", false)]
    [InlineData(@"\frac{1}{3}", "0.3333334", true)]
    public void Approximations_are_equal_within_one_part_in_a_million(string expected, string answer, bool equal) =>
        Assert.Equal(equal, AnswerEquivalence.Equivalent(answer, expected));

    [Fact]
    public void The_tolerance_is_one_part_in_a_million() => Assert.Equal(1e-6, AnswerEquivalence.RelativeTolerance);

    // ---- Properties -----------------------------------------------------------------------------------------

    [Fact]
    public void On_plain_numbers_the_verdict_is_equality_of_the_numbers_as_before()
    {
        // The previous verifier compared decimals; the arithmetic task's answers are integers.
        Gen.Select(Gen.Long[-100_000, 100_000], Gen.Long[-100_000, 100_000], Gen.Int[0, 3], Gen.Bool).Sample((a, b, scale, padded) =>
        {
            decimal x = a / (decimal)Math.Pow(10, scale), y = (padded ? a : b) / (decimal)Math.Pow(10, scale);
            string sx = x.ToString(CultureInfo.InvariantCulture), sy = y.ToString("F" + (scale + 2), CultureInfo.InvariantCulture);
            return AnswerEquivalence.Equivalent(sx, sy) == (x == y) && AnswerEquivalence.Equivalent(sy, sx) == (x == y);
        }, iter: 2000);
    }

    /// <summary>Fragments of LaTeX, well and badly formed, to assemble random answers from.</summary>
    static readonly string[] Fragments =
    {
        "1", "2", "0", "-", "+", "/", "^", "!", "%", ".", ",", "=", "x", "y", "e", "(", ")", "[", "]", "{", "}", "|",
        @"\frac", @"\sqrt", @"\pi", @"\infty", @"\left(", @"\right)", @"\{", @"\}", @"\text{", @"\cup", @"\cdot", @"\$",
        @"\sin", @"\log_", @"\boxed{", @"\%", " ", "dollars", "B", "(B)", "10^{", "e5", "1,000", @"\!", "{,}", "_",
    };

    [Fact]
    public void Malformed_answers_are_never_an_error()
    {
        var answer = Gen.Int[0, Fragments.Length - 1].Array[0, 24].Select(ix => string.Concat(ix.Select(i => Fragments[i])));
        Gen.Select(answer, answer).Sample((a, b) =>
        {
            bool equal = AnswerEquivalence.Equivalent(a, b);
            // Reflexive for any non-empty answer, and the same either way round unless an equation is involved.
            return (string.IsNullOrWhiteSpace(a) || AnswerEquivalence.Equivalent(a, a))
                && (a.Contains('=') || b.Contains('=') || equal == AnswerEquivalence.Equivalent(b, a));
        }, iter: 5000);
    }

    [Theory]
    [InlineData(10_000)]
    [InlineData(400)]
    [InlineData(40)]
    public void Deep_nesting_is_refused_without_exhausting_the_stack(int depth)
    {
        foreach (var (open, close) in new[] { ("{", "}"), ("(", ")"), (@"\sqrt{", "}"), (@"\frac{1}{", "}"), ("2^{", "}") })
        {
            string nested = string.Concat(Enumerable.Repeat(open, depth)) + "5" + string.Concat(Enumerable.Repeat(close, depth));
            Assert.False(AnswerEquivalence.Equivalent(nested, "7"));
        }
        Assert.False(AnswerEquivalence.Equivalent(new string('-', depth) + "5", "7"));
    }

    [Fact]
    public void Huge_numbers_are_compared_exactly_or_not_at_all()
    {
        Assert.False(AnswerEquivalence.Equivalent(@"10^{100} + 1", "10^{100}"));
        Assert.True(AnswerEquivalence.Equivalent(@"10^{100}", "1" + new string('0', 100)));
        Assert.False(AnswerEquivalence.Equivalent(@"10^{5000}", @"10^{5001}"));   // both beyond the limit: not numbers
        Assert.False(AnswerEquivalence.Equivalent(@"10^{5000}", @"\infty"));
        Assert.True(AnswerEquivalence.Equivalent(BigInteger.Pow(7, 300).ToString(CultureInfo.InvariantCulture), "7^{300}"));
        // Beyond a double's range (2¹⁰²⁴) exact values still compare exactly.
        Assert.True(AnswerEquivalence.Equivalent(BigInteger.Pow(2, 2000).ToString(CultureInfo.InvariantCulture), "2^{2000}"));
        Assert.False(AnswerEquivalence.Equivalent((BigInteger.Pow(2, 2000) + 1).ToString(CultureInfo.InvariantCulture), "2^{2000}"));
        Assert.True(AnswerEquivalence.Equivalent(@"|-2^{2000}|", "2^{2000}"));
    }

    // ---- The accuracy reward on whole completions --------------------------------------------------------

    static double Accuracy(string completion, string reference) =>
        new AccuracyReward().Score(new RewardInput("question", completion, new JsonObject { ["answer"] = reference }, Truncated: false)).Value;

    [Theory]
    [InlineData(@"She pays 3 \times 6 = 18 dollars, so the answer is \boxed{\$18}.", "18", 1)]
    [InlineData(@"So the probability is $\boxed{\dfrac{1}{2}}$.", "0.5", 1)]
    [InlineData(@"The solutions are $x = 2$ and $x = -3$, so \boxed{-3, 2}", "2, -3", 1)]
    [InlineData(@"Therefore the answer is \boxed{x = 5}", "5", 1)]
    [InlineData(@"The answer is \boxed{(B)}", "B", 1)]
    [InlineData("Natalia sold 48 + 24 = 72 clips.\n#### 72", "72", 1)]
    [InlineData("She sold 72 clips.\n#### 72\nDone.", "72", 1)]
    [InlineData("#### 1,000", "1000", 1)]
    [InlineData(@"\boxed{\frac{1}{2}", "0.5", 0)]            // unclosed: the last number, 2, counts
    [InlineData(@"\boxed{}", "0", 0)]
    [InlineData(@"the answer is \boxed{180}", "18", 0)]
    public void Accuracy_reads_the_final_answer_as_mathematics(string completion, string reference, double expected) =>
        Assert.Equal(expected, Accuracy(completion, reference));

    [Theory]
    [InlineData("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72")]
    [InlineData(@"Half of the $4$ outcomes are even, so the probability is $\boxed{\frac{1}{2}}$.")]
    public void A_worked_solution_as_reference_counts_by_its_final_answer(string reference)
    {
        string expected = reference.Contains("####") ? "72" : "0.5";
        Assert.Equal(1.0, Accuracy($@"\boxed{{{expected}}}", reference));
        Assert.Equal(0.0, Accuracy(@"\boxed{24}", reference));
    }

    [Theory]
    [InlineData("Answer\n#### 72", "72")]
    [InlineData("#### 72\n\nmore text", "72")]
    [InlineData("####", null)]
    [InlineData("no marker", null)]
    public void AfterHashes_takes_the_rest_of_the_marked_line(string text, string? expected) =>
        Assert.Equal(expected, AnswerExtraction.AfterHashes(text));
}
