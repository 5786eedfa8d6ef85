using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>Settings of the supervised warm start.</summary>
public sealed record SftOptions
{
    /// <summary>Optimizer steps.</summary>
    public int Steps { get; init; } = 100;
    /// <summary>Demonstrations per step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Peak learning rate (cosine decay after 10% warm-up).</summary>
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>AdamW weight decay on matrices.</summary>
    public double WeightDecay { get; init; } = 0.01;
    /// <summary>Gradient-norm clip.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>First row of the dataset to read (rows are consumed in order).</summary>
    public long Seed { get; init; }
    /// <summary>LibTorch threads; null: <see cref="IntraOpThreads.For"/>'s choice (one for models under 1 M parameters).</summary>
    public int? Threads { get; init; }
}

/// <summary>
/// Supervised fine-tuning on demonstrations (the <c>completion</c> field of each row): the
/// cold-start stage the GSPO paper runs before RL. Minimises the mean negative log-likelihood of
/// the demonstration tokens (and the end-of-sequence token), prompt tokens excluded.
/// </summary>
public static class SupervisedFineTuning
{
    /// <summary>Trains <paramref name="policy"/> in place; <paramref name="onStep"/> receives (step, loss, tokens/s).
    /// Stops early, after a step, when <paramref name="stopRequested"/> returns true.</summary>
    public static void Run(LanguageModel policy, Dataset dataset, SftOptions options, Action<int, double, double>? onStep = null,
        Func<bool>? stopRequested = null)
    {
        using var optimization = new Optimization(policy.Model, options.LearningRate, options.WeightDecay, 0.9, 0.999, 1e-8,
            warmupSteps: Math.Max(1, options.Steps / 10), options.Steps, LearningRateSchedule.Cosine);
        // Asked before the count is set. Gradient checkpointing's recomputation back-propagates into the parameters' own
        // gradients, which the half that returns its gradients must not.
        bool split = RowSplit.Applies(policy.Model, options.Threads) && !policy.Model.GradientCheckpointing;
        using var threads = IntraOpThreads.UseFor(policy.Model.Config, options.Threads);
        policy.Model.train();
        long next = options.Seed * 1_000_003L;
        for (int step = 1; step <= options.Steps && stopRequested?.Invoke() != true; step++)
        {
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var rows = Enumerable.Range(0, options.BatchSize).Select(_ => dataset.Row(next++)).ToList();
            var prompts = rows.Select(policy.EncodePrompt).ToList();
            var demonstrations = rows.Select(r => policy.EncodeDemonstration(
                r["completion"]?.GetValue<string>() ?? throw new InvalidDataException($"{dataset.Name}: a row has no \"completion\" to learn from."))).ToList();
            using var scope = NewDisposeScope();
            using var batch = SequenceBatch.Build(prompts, demonstrations, policy.Model.Device);
            optimization.ZeroGrad();
            var tokens = batch.CompletionMask.sum();
            var all = Enumerable.Range(0, (int)batch.Rows).ToList();
            // −Σ log p(demonstration tokens of the rows) / (all tokens): the batch's mean, whole or in two halves at once.
            (Tensor, PartLoss) Loss(List<int> part)
            {
                var index = tensor(part.Select(r => (long)r).ToArray(), device: policy.Model.Device);
                var scores = CompletionScorer.Score(policy.Model, batch, index, temperature: 1.0);   // released with SplitBackward's scope
                var loss = -(scores.LogProbs.sum() / tokens);
                return (loss, new PartLoss(loss.item<float>()));
            }
            double loss;
            if (split && all.Count >= 2)
            {
                var (first, second) = SplitBackward.Halves(optimization, all, Loss);
                loss = first.Value + second.Value;
            }
            else loss = SplitBackward.Whole(all, Loss).Value;
            optimization.Step(options.MaxGradNorm);
            onStep?.Invoke(step, loss, tokens.item<long>() / watch.Elapsed.TotalSeconds);
        }
        policy.Model.eval();
    }

    /// <summary>A part's loss, read back (nothing to release).</summary>
    sealed record PartLoss(double Value) : IDisposable
    {
        public void Dispose() { }
    }
}
