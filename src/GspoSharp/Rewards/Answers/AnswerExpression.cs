using System.Numerics;

namespace GspoSharp.Rewards;

/// <summary>
/// A parsed arithmetic expression of an answer (<c>2\sqrt{2}</c>, <c>\frac{x}{2}+1</c>). It is
/// only ever evaluated: two expressions are equal when their values are, exactly or within the
/// tolerance (<see cref="AnswerEquivalence"/>), at the same points when they have variables.
/// </summary>
internal abstract record AnswerExpression
{
    /// <summary>The value, with each variable taking its value from <paramref name="variables"/> (null: no variables).</summary>
    public abstract AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables);

    /// <summary>Adds the names of the variables the expression uses.</summary>
    public abstract void CollectVariables(ISet<string> names);

    /// <summary>The variables the expression uses.</summary>
    public SortedSet<string> Variables()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        CollectVariables(names);
        return names;
    }
}

/// <summary>A written number: exact, and marked as a decimal when it has digits after the point.</summary>
internal sealed record NumberLiteral(AnswerNumber Number) : AnswerExpression
{
    public override AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables) => Number;
    public override void CollectVariables(ISet<string> names) { }
}

/// <summary>π, e or ∞.</summary>
internal sealed record Constant(string Name, double Value) : AnswerExpression
{
    public override AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables) => AnswerNumber.Approximate(Value);
    public override void CollectVariables(ISet<string> names) { }
}

/// <summary>A variable (<c>x</c>, <c>x_1</c>, <c>\theta</c>).</summary>
internal sealed record Variable(string Name) : AnswerExpression
{
    public override AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables) =>
        variables is not null && variables.TryGetValue(Name, out double x) ? AnswerNumber.Approximate(x) : AnswerNumber.NaN;
    public override void CollectVariables(ISet<string> names) => names.Add(Name);
}

/// <summary>−x.</summary>
internal sealed record Negation(AnswerExpression Operand) : AnswerExpression
{
    public override AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables) => -Operand.Evaluate(variables);
    public override void CollectVariables(ISet<string> names) => Operand.CollectVariables(names);
}

/// <summary>a + b, a − b, a · b, a / b, a ^ b.</summary>
internal sealed record BinaryOperation(char Operator, AnswerExpression Left, AnswerExpression Right) : AnswerExpression
{
    public override AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables)
    {
        var (a, b) = (Left.Evaluate(variables), Right.Evaluate(variables));
        return Operator switch
        {
            '+' => a + b,
            '-' => a - b,
            '*' => a * b,
            '/' => a / b,
            '^' => AnswerNumber.Pow(a, b),
            _ => throw new InvalidOperationException($"unknown operator '{Operator}'."),
        };
    }

    public override void CollectVariables(ISet<string> names)
    {
        Left.CollectVariables(names);
        Right.CollectVariables(names);
    }
}

/// <summary>A named function of one argument: roots, trigonometry, logarithms, |x|, n!.</summary>
internal sealed record FunctionCall(string Name, AnswerExpression Argument, AnswerExpression? Parameter = null) : AnswerExpression
{
    /// <summary>The functions of one real argument the parser knows (LaTeX command names), evaluated in doubles.</summary>
    internal static readonly IReadOnlyDictionary<string, Func<double, double>> Real = new Dictionary<string, Func<double, double>>(StringComparer.Ordinal)
    {
        ["sin"] = Math.Sin, ["cos"] = Math.Cos, ["tan"] = Math.Tan,
        ["sec"] = x => 1 / Math.Cos(x), ["csc"] = x => 1 / Math.Sin(x), ["cot"] = x => 1 / Math.Tan(x),
        ["arcsin"] = Math.Asin, ["arccos"] = Math.Acos, ["arctan"] = Math.Atan,
        ["sinh"] = Math.Sinh, ["cosh"] = Math.Cosh, ["tanh"] = Math.Tanh,
        ["ln"] = Math.Log, ["exp"] = Math.Exp,
        // \log without a base is the common logarithm, as in school mathematics (\log_b x names its base).
        ["log"] = Math.Log10,
    };

    public override AnswerNumber Evaluate(IReadOnlyDictionary<string, double>? variables)
    {
        var x = Argument.Evaluate(variables);
        switch (Name)
        {
            case "sqrt":   // Parameter: the index of \sqrt[n]{x}, 2 when absent
                var index = Parameter?.Evaluate(variables) ?? AnswerNumber.Exact(2, 1);
                return index.IsInteger(out var n) && n >= 2 && n <= 64
                    ? AnswerNumber.Pow(x, AnswerNumber.Exact(1, n))
                    : AnswerNumber.Pow(x, AnswerNumber.Exact(1, 1) / index);
            case "abs":
                return x.IsNegative ? -x : x;
            case "factorial":
                return AnswerNumber.Factorial(x);
            case "log" when Parameter is not null:   // \log_b x = ln x / ln b
                var b = Parameter.Evaluate(variables);
                return AnswerNumber.Apply(Math.Log, x) / AnswerNumber.Apply(Math.Log, b);
            default:
                return Real.TryGetValue(Name, out var f) ? AnswerNumber.Apply(f, x) : AnswerNumber.NaN;
        }
    }

    public override void CollectVariables(ISet<string> names)
    {
        Argument.CollectVariables(names);
        Parameter?.CollectVariables(names);
    }

    /// <summary>Convenience for the parser: an exact integer literal.</summary>
    internal static NumberLiteral Integer(BigInteger k) => new(AnswerNumber.Exact(k, 1));
}
