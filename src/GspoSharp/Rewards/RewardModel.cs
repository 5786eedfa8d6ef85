using System.Collections.Concurrent;

namespace GspoSharp.Rewards;

/// <summary>One reward function with its weight (TRL: reward_funcs with reward_weights).</summary>
public sealed record WeightedReward(IRewardFunction Function, double Weight);

/// <summary>Scores of one batch: totals per completion, each function's scores, failures.</summary>
/// <param name="Totals">Σ_f weight_f · score_f per completion.</param>
/// <param name="ByFunction">Each function's (and each named component's) score per completion.</param>
/// <param name="Failures">Completions whose reward threw (scored 0), with the message, per function.</param>
public sealed record RewardBatch(double[] Totals, IReadOnlyDictionary<string, double[]> ByFunction,
    IReadOnlyList<(string Function, int Completion, string Message)> Failures);

/// <summary>
/// Combines weighted reward functions and scores a batch in parallel (rewards are plain C# on
/// strings, so they may run on any thread; no tensor work happens here). A function that throws
/// scores 0 for that completion; the failure is recorded and the run goes on.
/// </summary>
public sealed class RewardModel(IReadOnlyList<WeightedReward> rewards)
{
    /// <summary>The functions and weights.</summary>
    public IReadOnlyList<WeightedReward> Rewards { get; } = rewards.Count > 0
        ? rewards : throw new ArgumentException("at least one reward function is needed.");

    /// <summary>Scores every input.</summary>
    public RewardBatch Score(IReadOnlyList<RewardInput> inputs)
    {
        var byFunction = new ConcurrentDictionary<string, double[]>();
        var failures = new ConcurrentBag<(string, int, string)>();
        var totals = new double[inputs.Count];
        foreach (var r in Rewards) byFunction[r.Function.Name] = new double[inputs.Count];
        Parallel.For(0, inputs.Count, i =>
        {
            double total = 0;
            foreach (var (function, weight) in Rewards)
            {
                RewardScore score;
                try
                {
                    score = function.Score(inputs[i]);
                    if (!double.IsFinite(score.Value)) throw new InvalidOperationException($"returned {score.Value}.");
                }
                catch (Exception e)
                {
                    failures.Add((function.Name, i, e.Message));
                    score = new RewardScore(0);
                }
                byFunction[function.Name][i] = score.Value;
                foreach (var (part, value) in score.Components ?? new Dictionary<string, double>())
                    byFunction.GetOrAdd($"{function.Name}/{part}", _ => new double[inputs.Count])[i] = value;
                total += weight * score.Value;
            }
            totals[i] = total;
        });
        return new RewardBatch(totals, byFunction, failures.OrderBy(f => f.Item2).ToList());
    }
}
