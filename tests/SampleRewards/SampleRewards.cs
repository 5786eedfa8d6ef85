using GspoSharp.Rewards;

namespace SampleRewards;

/// <summary>1 when the completion is shorter than the row's "limit" characters (default 20), else 0.</summary>
public sealed class BrevityReward : IRewardFunction
{
    public string Name => "brevity";

    public IReadOnlyList<string> RequiredFields => ["prompt"];

    public RewardScore Score(RewardInput input) =>
        new(input.Completion.Length < ((int?)input.Row["limit"] ?? 20) ? 1 : 0);
}

/// <summary>The number of distinct characters of the completion divided by its length (0 for an empty one).</summary>
public sealed class VarietyReward : IRewardFunction
{
    public string Name => "variety";

    public RewardScore Score(RewardInput input) =>
        new(input.Completion.Length == 0 ? 0 : input.Completion.Distinct().Count() / (double)input.Completion.Length);
}

/// <summary>Always throws: a run scores it 0 and counts the failure.</summary>
public sealed class BrokenReward : IRewardFunction
{
    public string Name => "broken";

    public RewardScore Score(RewardInput input) => throw new InvalidOperationException("the grading service is down");
}

/// <summary>Not a reward the registry can make: no parameterless constructor.</summary>
public sealed class ConfiguredReward(double value) : IRewardFunction
{
    public string Name => "configured";

    public RewardScore Score(RewardInput input) => new(value);
}
