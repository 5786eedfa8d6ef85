using GspoSharp.Models;
using GspoSharp.Rewards;
using GspoSharp.Rollout;
using GspoSharp.Tasks;

namespace GspoSharp.Training;

/// <summary>Held-out accuracy: pass@1 averaged over k samples per prompt.</summary>
/// <param name="Accuracy">Mean over prompts and samples of the accuracy reward (1 correct, 0 not).</param>
/// <param name="Prompts">Held-out prompts.</param>
/// <param name="SamplesPerPrompt">k.</param>
/// <param name="MeanLength">Mean completion length in tokens.</param>
/// <param name="Seconds">Wall-clock time of the evaluation.</param>
public sealed record EvaluationResult(double Accuracy, int Prompts, int SamplesPerPrompt, double MeanLength, double Seconds);

/// <summary>Evaluates a policy on a held-out dataset with a reward (accuracy by default).</summary>
public static class Evaluation
{
    /// <summary>Samples <paramref name="samplesPerPrompt"/> completions for each of the first
    /// <paramref name="prompts"/> rows and averages <paramref name="reward"/> over all of them; samples through
    /// <paramref name="rollout"/> (default: in process, on the policy's model, with <paramref name="threads"/> LibTorch
    /// threads: null for the backend's choice, <see cref="LocalRolloutBackend.Threads"/>).</summary>
    public static EvaluationResult Run(LanguageModel policy, Dataset dataset, int prompts, int samplesPerPrompt, int maxNewTokens,
        double temperature, long seed, IRewardFunction? reward = null, int batchPrompts = 32, IRolloutBackend? rollout = null,
        int? threads = null)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        reward ??= new AccuracyReward();
        using var local = rollout is null ? new LocalRolloutBackend(policy.Model, policy.Decode) { Threads = threads } : null;
        var backend = rollout ?? local!;
        double correct = 0, length = 0;
        int count = (int)Math.Min(prompts, dataset.Count ?? prompts);
        for (int start = 0; start < count; start += batchPrompts)
        {
            var rows = Enumerable.Range(start, Math.Min(batchPrompts, count - start)).Select(i => dataset.Row(i)).ToList();
            using var result = backend.GenerateAsync(rows.Select(policy.EncodePrompt).ToList(), new SamplingOptions
            {
                Temperature = temperature, MaxNewTokens = maxNewTokens, SamplesPerPrompt = samplesPerPrompt,
                EosTokenIds = policy.EosTokenIds, Seed = seed + start,
            }).GetAwaiter().GetResult();
            correct += new RewardModel(new[] { new WeightedReward(reward, 1) }).Score(RewardInputs.For(policy, rows, result.Completions)).Totals.Sum();
            length += result.Completions.Sum(c => c.CompletionIds.Length);
        }
        int total = count * samplesPerPrompt;
        return new EvaluationResult(correct / total, count, samplesPerPrompt, length / total, watch.Elapsed.TotalSeconds);
    }
}
