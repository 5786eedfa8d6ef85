using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GspoSharp.Tasks;

/// <summary>
/// Sums of small numbers, worked step by step: "Add: 7 + 2 + 5" → "7+2=9, 9+5=14. \boxed{14}".
/// Responses grow with the number of terms. The demonstrations can be imperfect, like those of a
/// weaker teacher: with <see cref="DemonstrationErrorRate"/>, each step of a demonstration is off by
/// one and the error carries on to the answer. A model fine-tuned on them reproduces the mistakes
/// at random, and a verifiable reward is what teaches it to stop.
/// <para>Two built-in instances: <c>arithmetic</c> (2–5 terms, ~25-token responses) and <c>long-sum</c>
/// (13–30 terms, 100–300 tokens of worked steps with the tiny tokenizer, demonstrations wrong on 5% of
/// steps), the long-answer regime where the GSPO paper says token-level ratios become noisy.</para>
/// <para>Every step "a+b=c" is verifiable on its own (<see cref="Steps"/>): it is right when b is the
/// prompt's next term, a is the previous step's result (the first term for the first step) and
/// c = a + b. A step that continues correctly from a wrong running total is right: the credit marks
/// where an error was made, not everything after it.</para>
/// </summary>
public sealed partial class ArithmeticChainTask(int minTerms = 2, int maxTerms = 5, int maxNumber = 9, double demonstrationErrorRate = 0.2,
    string name = "arithmetic") : SyntheticTask
{
    /// <summary>The <c>long-sum</c> task: 13–30 terms from 1 to 9, demonstrations wrong on 5% of steps.</summary>
    public static ArithmeticChainTask LongSum() => new(13, 30, 9, 0.05, "long-sum");

    /// <summary>Probability that a step of a demonstration is off by one.</summary>
    public double DemonstrationErrorRate { get; } = demonstrationErrorRate;

    /// <inheritdoc />
    public override string Name => name;

    /// <inheritdoc />
    public override string Description =>
        $"sum {minTerms}–{maxTerms} numbers from 1 to {maxNumber} step by step, answer in \\boxed{{}}; demonstrations err on {(DemonstrationErrorRate * 100).ToString("0.#", CultureInfo.InvariantCulture)}% of steps";

    /// <inheritdoc />
    protected override (string, string, string) Generate(Random random)
    {
        var terms = Enumerable.Range(0, random.Next(minTerms, maxTerms + 1)).Select(_ => random.Next(1, maxNumber + 1)).ToArray();
        var steps = new List<string>();
        int total = terms.Sum(), shown = terms[0];
        foreach (var term in terms.Skip(1))
        {
            int next = shown + term + (random.NextDouble() < DemonstrationErrorRate ? (random.Next(2) == 0 ? -1 : 1) : 0);
            steps.Add($"{shown}+{term}={next}");
            shown = next;
        }
        return ($"Add: {string.Join(" + ", terms)}", total.ToString(CultureInfo.InvariantCulture),
            $"{string.Join(", ", steps)}. \\boxed{{{shown}}}");
    }

    /// <inheritdoc />
    /// <remarks>Steps are the "a+b=c" matches before the first <c>\boxed</c>, in order; the k-th is checked
    /// against the prompt's term k + 1. Steps beyond the last term are wrong.</remarks>
    public override IReadOnlyList<StepCredit>? Steps(JsonObject row, string completion)
    {
        var terms = Terms(row["prompt"]?.GetValue<string>() ?? "");
        if (terms is null) return null;
        int end = completion.IndexOf("\\boxed", StringComparison.Ordinal);
        var work = end >= 0 ? completion[..end] : completion;
        var credit = new List<StepCredit>();
        long? previous = terms[0];
        foreach (Match match in StepPattern().Matches(work))
        {
            int k = credit.Count + 1;
            long? a = Parse(match.Groups[1].Value), b = Parse(match.Groups[2].Value), c = Parse(match.Groups[3].Value);
            bool right = k < terms.Length && a == previous && b == terms[k] && a + b == c;
            credit.Add(new StepCredit(match.Index, match.Length, right));
            previous = c;
        }
        return credit;
    }

    /// <summary>The terms of an "Add: a + b + …" prompt, or null.</summary>
    static long[]? Terms(string prompt)
    {
        if (!prompt.StartsWith("Add: ", StringComparison.Ordinal)) return null;
        var parts = prompt[5..].Split(" + ");
        var terms = parts.Select(Parse).ToArray();
        return terms.Length >= 2 && terms.All(t => t is not null) ? terms.Select(t => t!.Value).ToArray() : null;
    }

    static long? Parse(string text) => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : null;

    [GeneratedRegex(@"(\d{1,9})\+(\d{1,9})=(\d{1,9})")]
    private static partial Regex StepPattern();
}
