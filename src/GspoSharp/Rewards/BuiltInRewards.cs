using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GspoSharp.Rewards;

/// <summary>
/// 1 when the completion's final answer (last \boxed{…}, else last number) equals the row's
/// <c>answer</c> field (numerically when both are numbers), else 0. The math verifier of the
/// GSM8K-style recipes.
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
        return new RewardScore(AnswerExtraction.Equivalent(AnswerExtraction.FinalAnswer(input.Completion), expected) ? 1 : 0);
    }
}

/// <summary>
/// 1 when the completion matches a format: by default, it ends with its answer in
/// <c>\boxed{…}</c> (nothing after it but punctuation and whitespace), else 0.
/// </summary>
public sealed partial class FormatReward : IRewardFunction
{
    [GeneratedRegex(@"\\boxed\{[^{}]*\}[\s.!]*$")]
    private static partial Regex EndsWithBoxed();

    /// <inheritdoc />
    public string Name => "format";

    /// <inheritdoc />
    public RewardScore Score(RewardInput input) => new(EndsWithBoxed().IsMatch(input.Completion) ? 1 : 0);
}
