using System.Diagnostics;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Objectives;
using GspoSharp.Rewards;
using GspoSharp.Tasks;
using GspoSharp.Training;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// One RL step, split into generation / old-log-prob pass / update, with tokens/s for each, for
/// the demo configuration and a ~50M-parameter model; and the objective's own cost (forward +
/// backward of the loss on the step's log-probs) as a share of the update.
/// </summary>
internal static class StepBench
{
    /// <summary>A reward an untrained model varies on, so that every step has a gradient.</summary>
    sealed class DigitShare : IRewardFunction
    {
        public string Name => "digits";
        public RewardScore Score(RewardInput input) =>
            new(input.Completion.Length == 0 ? 0 : input.Completion.Count(char.IsAsciiDigit) / (double)input.Completion.Length);
    }

    public static void Run()
    {
        var demo = new TrainConfig { PromptsPerStep = 16, NumGenerations = 8, MaxCompletionLength = 64, LearningRate = 5e-5, MaxSteps = 100 };
        foreach (var (name, size, config, steps) in new[]
                 {
                     ("demo (tiny qwen3, 16×8, ≤64 tokens)", ModelSize.Tiny, demo, 6),
                     ("50M qwen3 (4×8, ≤64 tokens)", ModelSize.Bench50M, demo with { PromptsPerStep = 4 }, 2),
                 })
        {
            string dir = Path.Combine(Path.GetTempPath(), $"gspo-bench-{Guid.NewGuid():N}");
            try
            {
                TinyModels.Create(dir, ModelType.Qwen3, size, seed: 1);
                using var policy = LanguageModel.Load(dir, chatTemplate: false);
                using var trainer = new GspoTrainer(config, policy, Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 1),
                    new RewardModel(new[] { new WeightedReward(new DigitShare(), 1) }));
                trainer.Step();   // warm-up
                var runs = Enumerable.Range(0, steps).Select(_ => trainer.Step()).ToList();
                double Mean(string key) => runs.Average(r => r[key]);
                double generation = Mean("time/generation"), old = Mean("time/old_logprobs"), update = Mean("time/update"), total = Mean("time/step");
                double tokens = Mean("completions/mean_length") * config.CompletionsPerStep;
                double objective = ObjectiveSeconds(config.CompletionsPerStep / config.StepsPerGeneration, (int)Math.Ceiling(Mean("completions/mean_length")))
                                   * config.StepsPerGeneration;
                Console.WriteLine($"RL step, {name}: {total:F2} s = generation {generation:F2} s ({tokens / generation:F0} tokens/s) " +
                                  $"+ old log-probs {old:F2} s ({tokens / old:F0} tokens/s) + update {update:F2} s ({tokens / update:F0} tokens/s) " +
                                  $"+ other {total - generation - old - update:F2} s; objective {objective * 1e3:F1} ms = {objective / update:P1} of the update");
            }
            finally
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>Forward + backward of the GSPO loss alone on a [rows, width] batch.</summary>
    static double ObjectiveSeconds(int rows, int width) => Measure.Seconds(() =>
    {
        using var scope = NewDisposeScope();
        var logp = (-rand(rows, width)).requires_grad_();
        using var loss = PolicyObjective.Compute(new PolicyBatch(logp, logp.detach() + 0.001 * randn(rows, width), randn(rows),
            ones(rows, width, ScalarType.Bool)), PolicyObjectiveOptions.Gspo());
        loss.Loss.backward();
        loss.ReadMetrics();
    });
}
