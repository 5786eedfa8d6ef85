using System.Text.Json.Nodes;

namespace GspoSharp.Rewards;

/// <summary>
/// 1 when the completion's final answer (last \boxed{…}, else a GSM8K <c>#### …</c>, else the last
/// number) is mathematically equivalent to the row's <c>answer</c> field (<see cref="AnswerEquivalence"/>:
/// LaTeX-aware, units and currency ignored, fractions, roots, sets, tuples, equations), else 0.
/// The reference may be a bare answer or a worked solution ending in \boxed{…} or <c>#### …</c>.
/// The math verifier of the GSM8K and MATH-style recipes.
/// </summary>
public sealed class AccuracyReward(string answerField = "answer") : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "accuracy";

    /// <inheritdoc />
    public IReadOnlyList<string> RequiredFields => new[] { answerField };

    /// <inheritdoc />
    public RewardScore Score(RewardInput input)
    {
        string expected = input.Row[answerField] switch
        {
            JsonValue v when v.TryGetValue(out string? s) => s,
            JsonValue v => v.ToJsonString(),
            _ => throw new InvalidOperationException($"the dataset row has no \"{answerField}\" field."),
        };
        var answer = AnswerExtraction.FinalAnswer(input.Completion);
        return new RewardScore(AnswerEquivalence.Equivalent(answer, AnswerExtraction.ExpectedAnswer(expected)) ? 1 : 0);
    }
}

/// <summary>
/// 1 when the completion matches a format: by default, it ends with its answer in
/// <c>\boxed{…}</c> (braces balanced, as in <c>\boxed{\frac{1}{2}}</c>; nothing after it but
/// punctuation and whitespace), else 0.
/// </summary>
public sealed class FormatReward : IRewardFunction
{
    /// <inheritdoc />
    public string Name => "format";

    /// <inheritdoc />
    public RewardScore Score(RewardInput input)
    {
        string text = input.Completion;
        int start = text.LastIndexOf("\\boxed{", StringComparison.Ordinal), depth = 0;
        for (int i = start + 6; start >= 0 && i < text.Length; i++)
        {
            if (text[i] == '{') depth++;
            else if (text[i] == '}' && --depth == 0)
                return new(text[(i + 1)..].All(c => char.IsWhiteSpace(c) || c is '.' or '!') ? 1 : 0);
        }
        return new(0);
    }
}
