using System.Text.Json.Nodes;

namespace GspoSharp.Rewards;

/// <summary>What a reward function sees of one completion.</summary>
/// <param name="Prompt">The prompt as text (for chat datasets, the rendered conversation).</param>
/// <param name="Completion">The completion's decoded text, without special tokens.</param>
/// <param name="Row">The dataset row the prompt came from, with every field (e.g. "answer").</param>
/// <param name="Truncated">True when the completion was cut by the length limit.</param>
public sealed record RewardInput(string Prompt, string Completion, JsonObject Row, bool Truncated);

/// <summary>A score, and optionally its named parts (logged as rewards/&lt;name&gt;/&lt;part&gt;).</summary>
public sealed record RewardScore(double Value, IReadOnlyDictionary<string, double>? Components = null);

/// <summary>
/// A verifiable reward: a deterministic function of the prompt, the completion and the dataset
/// row. Implementations must be thread-safe (rewards of a batch are scored in parallel) and touch
/// no tensors. A reward that throws is scored 0 for that completion, counted and logged.
/// </summary>
public interface IRewardFunction
{
    /// <summary>Name used in configs and metrics (rewards/&lt;name&gt;/mean).</summary>
    string Name { get; }

    /// <summary>Scores one completion.</summary>
    RewardScore Score(RewardInput input);

    /// <summary>Dataset fields every row must have; checked when the dataset is loaded, naming the line.</summary>
    IReadOnlyList<string> RequiredFields => Array.Empty<string>();
}
