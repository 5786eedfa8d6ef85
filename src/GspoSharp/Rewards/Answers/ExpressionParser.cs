using System.Globalization;
using System.Numerics;

namespace GspoSharp.Rewards;

/// <summary>
/// A recursive-descent parser from the LaTeX of one math answer (already normalised by
/// <see cref="AnswerNormalizer"/>) to an <see cref="AnswerExpression"/>. Grammar, loosest first:
/// <code>
/// sum     := product (('+' | '-') product)*
/// product := signed (('*' | '/' | \cdot | \times | \div | implicit) signed)*     implicit: 2x, 2\sqrt{2}, 3(4)
/// signed  := ('-' | '+') signed | power
/// power   := postfix ('^' (argument | number | signed))?                        2^{10}, 2^10, 10^-3
/// postfix := primary ('!' | '%')*
/// primary := number | variable | (sum) | [sum] | {sum} | |sum| | \frac a b | \sqrt[n] a | \pi | \infty | \sin a | …
/// argument:= {sum} | one digit | one letter | a command                       as TeX reads \frac12, \sqrt2
/// </code>
/// Malformed input yields null, never an exception; nesting deeper than <see cref="MaxDepth"/> is malformed.
/// </summary>
internal sealed class ExpressionParser
{
    /// <summary>Deepest nesting accepted (brackets, fractions, roots): far beyond any real answer, far below the stack's limit.</summary>
    internal const int MaxDepth = 48;

    static readonly HashSet<string> Greek = new(StringComparer.Ordinal)
    {
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa",
        "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega",
        "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
    };

    /// <summary>Commands that begin an operand, so that "2\sqrt{2}" multiplies; operators (\cdot, \cup, …) do not.</summary>
    static bool StartsOperand(string command) => command is "frac" or "sqrt" or "pi" or "infty" or "infin" or "left" or "text"
        or "mathrm" or "operatorname" or "mathbf" or "textbf" or "mbox" or "log" || Greek.Contains(command) || FunctionCall.Real.ContainsKey(command);

    sealed class MalformedException : Exception;

    readonly string text;
    int position, depth;

    ExpressionParser(string text) => this.text = text;

    /// <summary>The expression written in <paramref name="text"/>, or null when it is not one.</summary>
    public static AnswerExpression? TryParse(string text)
    {
        var parser = new ExpressionParser(text);
        try
        {
            var expression = parser.Sum();
            parser.SkipSpace();
            return parser.position == text.Length ? expression : null;
        }
        catch (MalformedException)
        {
            return null;
        }
    }

    // ---- Scanning -------------------------------------------------------------------------------------

    char Peek => position < text.Length ? text[position] : '\0';

    void SkipSpace()
    {
        while (position < text.Length && char.IsWhiteSpace(text[position])) position++;
    }

    static MalformedException Malformed() => new();

    /// <summary>The name of the command at the position (after the backslash), without consuming it.</summary>
    string PeekCommand()
    {
        if (Peek != '\\') return "";
        int end = position + 1;
        while (end < text.Length && char.IsAsciiLetter(text[end])) end++;
        return end == position + 1 && end < text.Length ? text[end].ToString() : text[(position + 1)..end];
    }

    string ReadCommand()
    {
        string name = PeekCommand();
        position += 1 + name.Length;
        return name;
    }

    void Expect(char c)
    {
        SkipSpace();
        if (Peek != c) throw Malformed();
        position++;
    }

    T Nested<T>(Func<T> parse)
    {
        if (++depth > MaxDepth) throw Malformed();
        var result = parse();
        depth--;
        return result;
    }

    // ---- Grammar ------------------------------------------------------------------------------------------

    AnswerExpression Sum() => Nested(() =>
    {
        var left = Product();
        while (true)
        {
            SkipSpace();
            if (Peek is '+' or '-')
            {
                char op = text[position++];
                left = new BinaryOperation(op, left, Product());
            }
            else return left;
        }
    });

    AnswerExpression Product()
    {
        var left = Signed();
        while (true)
        {
            SkipSpace();
            char op;
            if (Peek is '*' or '/') { op = Peek; position++; }
            else if (PeekCommand() is "cdot" or "times" or "ast") { ReadCommand(); op = '*'; }
            else if (PeekCommand() == "div") { ReadCommand(); op = '/'; }
            else if (char.IsAsciiLetter(Peek) || Peek is '(' or '{' || (Peek == '\\' && StartsOperand(PeekCommand()))) op = '*';
            else return left;
            left = new BinaryOperation(op, left, Signed());
        }
    }

    AnswerExpression Signed()
    {
        SkipSpace();
        if (Peek == '-') { position++; return new Negation(Nested(Signed)); }
        if (Peek == '+') { position++; return Nested(Signed); }
        return Power();
    }

    AnswerExpression Power()
    {
        var @base = Postfix();
        SkipSpace();
        if (Peek != '^') return @base;
        position++;
        SkipSpace();
        // "10^-3" and "2^10" are not TeX (which reads 2^1 0), but models write them and mean 10⁻³ and 2¹⁰.
        var exponent = Peek is '-' or '+' ? Signed() : char.IsAsciiDigit(Peek) ? Number() : Argument();
        return Postfixes(new BinaryOperation('^', @base, exponent));
    }

    AnswerExpression Postfix() => Postfixes(Primary());

    AnswerExpression Postfixes(AnswerExpression operand)
    {
        while (true)
        {
            SkipSpace();
            if (Peek == '!') { position++; operand = new FunctionCall("factorial", operand); }
            else if (Peek == '%') { position++; operand = new BinaryOperation('/', operand, FunctionCall.Integer(100)); }
            else return operand;
        }
    }

    /// <summary>A macro argument as TeX reads it: a braced group, or one digit, letter or command.</summary>
    AnswerExpression Argument() => Nested(() =>
    {
        SkipSpace();
        if (Peek == '{')
        {
            position++;
            var inner = Sum();
            Expect('}');
            return inner;
        }
        if (char.IsAsciiDigit(Peek)) return FunctionCall.Integer(text[position++] - '0');
        if (char.IsAsciiLetter(Peek) || Peek == '\\') return Primary();
        throw Malformed();
    });

    AnswerExpression Primary() => Nested(() =>
    {
        SkipSpace();
        char c = Peek;
        if (char.IsAsciiDigit(c) || c == '.') return Number();
        if (char.IsAsciiLetter(c)) return Letter();
        switch (c)
        {
            case '(': return Group(')');
            case '[': return Group(']');
            case '{': return Group('}');
            case '|':
                position++;
                var inner = Sum();
                Expect('|');
                return new FunctionCall("abs", inner);
            case '\\': return Command();
            default: throw Malformed();
        }
    });

    AnswerExpression Group(char close)
    {
        position++;
        var inner = Sum();
        Expect(close);
        return inner;
    }

    /// <summary>Digits with an optional fraction and exponent: 12, 0.5, .5, 1.5e3, 2E-4.</summary>
    AnswerExpression Number()
    {
        int start = position;
        while (char.IsAsciiDigit(Peek)) position++;
        bool fraction = false;
        if (Peek == '.' && position + 1 < text.Length && char.IsAsciiDigit(text[position + 1]))
        {
            position++;
            while (char.IsAsciiDigit(Peek)) position++;
            fraction = true;
        }
        else if (Peek == '.' && position > start && !(position + 1 < text.Length && text[position + 1] == '.')) position++;   // "5." is 5
        string digits = text[start..position].TrimEnd('.');
        if (digits.Length == 0 || digits == ".") throw Malformed();
        int exponent = 0;
        if (Peek is 'e' or 'E')
        {
            int mark = position++;
            int sign = Peek == '-' ? -1 : 1;
            if (Peek is '+' or '-') position++;
            int expStart = position;
            while (char.IsAsciiDigit(Peek) && position - expStart < 4) position++;
            if (position == expStart || char.IsAsciiLetter(Peek)) position = mark;   // "2e" is 2·e, not a number
            else exponent = sign * int.Parse(text[expStart..position], CultureInfo.InvariantCulture);
        }
        int point = digits.IndexOf('.');
        string whole = point < 0 ? digits : digits.Remove(point, 1);
        int scale = (point < 0 ? 0 : digits.Length - point - 1) - exponent;
        var n = BigInteger.Parse(whole.Length == 0 ? "0" : whole, CultureInfo.InvariantCulture);
        if (Math.Abs(scale) > 400) throw Malformed();
        var value = scale >= 0
            ? AnswerNumber.Exact(n, BigInteger.Pow(10, scale), fraction)
            : AnswerNumber.Exact(n * BigInteger.Pow(10, -scale), 1, fraction);
        return new NumberLiteral(value);
    }

    /// <summary>A one-letter variable with an optional subscript (x, x_1, a_{n}) and primes; e is Euler's number.</summary>
    AnswerExpression Letter()
    {
        string name = text[position++].ToString();
        if (Peek == '_') name += Subscript();
        while (Peek == '\'') name += text[position++];
        return name == "e" ? new Constant("e", Math.E) : new Variable(name);
    }

    string Subscript()
    {
        int start = position++;
        if (Peek == '{')
        {
            int close = text.IndexOf('}', position);
            if (close < 0 || text.IndexOf('{', position + 1, close - position - 1) >= 0) throw Malformed();
            position = close + 1;
        }
        else if (char.IsAsciiLetterOrDigit(Peek)) position++;
        else throw Malformed();
        return text[start..position].Replace("{", "").Replace("}", "");
    }

    AnswerExpression Command()
    {
        string name = ReadCommand();
        switch (name)
        {
            case "frac":
                var numerator = Argument();
                return new BinaryOperation('/', numerator, Argument());
            case "sqrt":
                AnswerExpression? index = null;
                SkipSpace();
                if (Peek == '[') index = Group(']');
                return new FunctionCall("sqrt", Argument(), index);
            case "pi": return new Constant("pi", Math.PI);
            case "infty" or "infin": return new Constant("infinity", double.PositiveInfinity);
            case "left": return Primary();   // \left( … \right): the normaliser removes these; a stray one is harmless
            case "text" or "mathrm" or "textrm" or "mbox" or "mathbf" or "textbf" or "operatorname":
                return TextCommand();
        }
        if (Greek.Contains(name)) return new Variable("\\" + name);
        if (name == "log" || FunctionCall.Real.ContainsKey(name)) return Function(name);
        throw Malformed();
    }

    /// <summary>\text{…} inside an expression: a single letter is that symbol (\mathrm{e}, \text{x}), anything else is not math.</summary>
    AnswerExpression TextCommand()
    {
        SkipSpace();
        if (Peek != '{') throw Malformed();
        int close = text.IndexOf('}', position);
        if (close < 0) throw Malformed();
        string content = text[(position + 1)..close].Trim();
        position = close + 1;
        if (content.Length == 1 && char.IsAsciiLetter(content[0])) return content == "e" ? new Constant("e", Math.E) : new Variable(content);
        throw Malformed();
    }

    /// <summary>\sin x, \sin(2x), \sin^2 x, \log_2 8, \ln{x}.</summary>
    AnswerExpression Function(string name)
    {
        AnswerExpression? @base = null, power = null;
        SkipSpace();
        if (name == "log" && Peek == '_') { position++; @base = Argument(); SkipSpace(); }
        if (Peek == '^') { position++; power = Argument(); SkipSpace(); }
        var argument = Peek is '(' or '{' or '[' ? Primary() : Nested(Power);
        AnswerExpression call = new FunctionCall(name, argument, @base);
        return power is null ? call : new BinaryOperation('^', call, power);
    }
}
