using GspoSharp.Models;
using System.Text.Json.Nodes;
using GspoSharp.Rewards;
using GspoSharp.Rollout;

namespace GspoSharp.Training;

/// <summary>What the rewards see of sampled completions: the rendered prompt, the text, the row and whether the length limit cut it.</summary>
internal static class RewardInputs
{
    /// <summary>One input per completion; <paramref name="rows"/>[c.PromptIndex] is the row completion c answers.</summary>
    public static List<RewardInput> For(LanguageModel policy, IReadOnlyList<JsonObject> rows, IEnumerable<Completion> completions) =>
        completions.Select(c => new RewardInput(policy.PromptText(rows[c.PromptIndex]), c.Text, rows[c.PromptIndex],
            c.FinishReason == FinishReason.Length)).ToList();
}
