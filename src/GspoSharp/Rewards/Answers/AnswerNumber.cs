using System.Numerics;

namespace GspoSharp.Rewards;

/// <summary>
/// The value of an answer expression: an exact rational while the arithmetic allows it
/// (integers, decimals, fractions, percentages, integer powers, perfect roots), else a double
/// (π, irrational roots, functions). Exactness is what keeps 1000000 and 1000001 apart, which a
/// tolerance alone would not. <see cref="FromDecimal"/> records that a written decimal went into
/// the value: a decimal is the one way an answer states an approximation (0.333333 for 1/3).
/// </summary>
internal readonly struct AnswerNumber
{
    /// <summary>Exact values larger than this many bits become doubles, so no input can make arithmetic slow.</summary>
    internal const int MaxBits = 4096;

    readonly BigInteger numerator, denominator;   // denominator > 0, gcd 1; meaningful when IsExact
    readonly double approximate;

    /// <summary>True when the value is an exact rational.</summary>
    public bool IsExact { get; }

    /// <summary>True when a written decimal with digits after the point contributed to the value.</summary>
    public bool FromDecimal { get; }

    AnswerNumber(BigInteger n, BigInteger d, double x, bool exact, bool fromDecimal) =>
        (numerator, denominator, approximate, IsExact, FromDecimal) = (n, d, x, exact, fromDecimal);

    /// <summary>The exact rational n / d (reduced), or NaN when d is 0; a double when it is too large.</summary>
    public static AnswerNumber Exact(BigInteger n, BigInteger d, bool fromDecimal = false)
    {
        if (d.IsZero) return NaN;
        if (d.Sign < 0) (n, d) = (-n, -d);
        var g = BigInteger.GreatestCommonDivisor(n, d);
        if (!g.IsOne && !g.IsZero) (n, d) = (n / g, d / g);
        if (n.GetBitLength() > MaxBits || d.GetBitLength() > MaxBits) return new(0, 1, Ratio(n, d), false, fromDecimal);
        return new(n, d, 0, true, fromDecimal);
    }

    /// <summary>An inexact value.</summary>
    public static AnswerNumber Approximate(double x, bool fromDecimal = false) => new(0, 1, x, false, fromDecimal);

    /// <summary>Not a number: the result of 0/0, a root of a negative number, an overflow.</summary>
    public static AnswerNumber NaN { get; } = new(0, 1, double.NaN, false, false);

    /// <summary>The value as a double (NaN when it overflows: a huge number is never equal to infinity).</summary>
    public double Value => IsExact ? Ratio(numerator, denominator) : approximate;

    /// <summary>True when the value is below zero (read exactly for exact values, which may exceed a double's range).</summary>
    public bool IsNegative => IsExact ? numerator.Sign < 0 : approximate < 0;

    /// <summary>True for the exact integer <paramref name="k"/>.</summary>
    public bool IsInteger(out BigInteger k)
    {
        k = numerator;
        return IsExact && denominator.IsOne;
    }

    /// <summary>True when the exact value has a finite decimal expansion (its denominator has no prime but 2 and 5).</summary>
    public bool Terminates
    {
        get
        {
            if (!IsExact) return false;
            var d = denominator;
            while (d.IsEven) d >>= 1;
            while ((d % 5).IsZero) d /= 5;
            return d.IsOne;
        }
    }

    static double Ratio(BigInteger n, BigInteger d)
    {
        if (n.GetBitLength() < 1000 && d.GetBitLength() < 1000) return (double)n / (double)d;
        double log = BigInteger.Log(BigInteger.Abs(n)) - BigInteger.Log(d);
        double x = n.Sign * Math.Exp(log);
        return double.IsFinite(x) ? x : double.NaN;
    }

    // ---- Arithmetic: exact when both sides are, else in doubles -----------------------------------

    public static AnswerNumber operator -(AnswerNumber a) =>
        a.IsExact ? new(-a.numerator, a.denominator, 0, true, a.FromDecimal) : new(0, 1, -a.approximate, false, a.FromDecimal);

    public static AnswerNumber operator +(AnswerNumber a, AnswerNumber b) => a.IsExact && b.IsExact
        ? Exact(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator, a.FromDecimal || b.FromDecimal)
        : Double(a, b, a.Value + b.Value);

    public static AnswerNumber operator -(AnswerNumber a, AnswerNumber b) => a + -b;

    public static AnswerNumber operator *(AnswerNumber a, AnswerNumber b) => a.IsExact && b.IsExact
        ? Exact(a.numerator * b.numerator, a.denominator * b.denominator, a.FromDecimal || b.FromDecimal)
        : Double(a, b, a.Value * b.Value);

    public static AnswerNumber operator /(AnswerNumber a, AnswerNumber b) => a.IsExact && b.IsExact
        ? Exact(a.numerator * b.denominator, a.denominator * b.numerator, a.FromDecimal || b.FromDecimal)
        : Double(a, b, b.Value == 0 ? double.NaN : a.Value / b.Value);

    /// <summary>A double result of an operation; an overflow to ±∞ from finite operands is NaN.</summary>
    static AnswerNumber Double(AnswerNumber a, AnswerNumber b, double x) =>
        Approximate(double.IsInfinity(x) && double.IsFinite(a.Value) && double.IsFinite(b.Value) ? double.NaN : x, a.FromDecimal || b.FromDecimal);

    /// <summary>A function of one argument in doubles (overflow from a finite argument is NaN).</summary>
    public static AnswerNumber Apply(Func<double, double> f, AnswerNumber a)
    {
        double x = f(a.Value);
        return Approximate(double.IsInfinity(x) && double.IsFinite(a.Value) ? double.NaN : x, a.FromDecimal);
    }

    /// <summary>a^b: exact for an exact base and an integer or p/q exponent whose root is exact.</summary>
    public static AnswerNumber Pow(AnswerNumber a, AnswerNumber b)
    {
        if (a.IsExact && b.IsExact && b.denominator <= 64 && BigInteger.Abs(b.numerator) <= MaxBits)
        {
            int p = (int)b.numerator, q = (int)b.denominator;
            AnswerNumber? root = q == 1 ? a
                : Root(a.numerator, q) is { } rn && Root(a.denominator, q) is { } rd ? Exact(rn, rd, a.FromDecimal) : null;
            if (root is { IsExact: true } r)
            {
                if (r.numerator.IsZero) return p < 0 ? NaN : p == 0 ? Exact(1, 1) : r;
                long bits = Math.Max(r.numerator.GetBitLength(), r.denominator.GetBitLength()) * (long)Math.Abs(p);
                if (bits <= MaxBits)
                {
                    var n = BigInteger.Pow(r.numerator, Math.Abs(p));
                    var d = BigInteger.Pow(r.denominator, Math.Abs(p));
                    return p >= 0 ? Exact(n, d, a.FromDecimal || b.FromDecimal) : Exact(d, n, a.FromDecimal || b.FromDecimal);
                }
            }
        }
        double x = Math.Pow(a.Value, b.Value);
        // A negative base with a rational exponent of odd denominator is real: (−2)^(1/3) = −(2^(1/3)).
        if (a.Value < 0 && b.IsExact && !b.denominator.IsEven && !b.denominator.IsOne)
            x = Math.Pow(-a.Value, b.Value) * (b.numerator.IsEven ? 1 : -1);
        return Double(a, b, x);
    }

    /// <summary>The exact q-th root of an integer, or null when it has none (or is too large to find cheaply).</summary>
    static BigInteger? Root(BigInteger n, int q)
    {
        if (q == 1) return n;
        if (n.Sign < 0) return q % 2 == 1 && Root(-n, q) is { } r ? -r : null;
        if (n.IsZero) return 0;
        if (n.GetBitLength() > 1000) return null;
        double guess = Math.Round(Math.Exp(BigInteger.Log(n) / q));
        for (var c = new BigInteger(guess) - 1; c <= new BigInteger(guess) + 1; c++)
            if (c.Sign >= 0 && BigInteger.Pow(c, q) == n) return c;
        return null;
    }

    /// <summary>n! for an exact non-negative integer (exact up to 300!), else NaN.</summary>
    public static AnswerNumber Factorial(AnswerNumber a)
    {
        if (!a.IsInteger(out var k) || k.Sign < 0 || k > 300) return NaN;
        BigInteger f = 1;
        for (int i = 2; i <= (int)k; i++) f *= i;
        return Exact(f, 1, a.FromDecimal);
    }

    /// <summary>Exact equality of two exact values.</summary>
    public bool SameRational(AnswerNumber other) =>
        IsExact && other.IsExact && numerator == other.numerator && denominator == other.denominator;
}
