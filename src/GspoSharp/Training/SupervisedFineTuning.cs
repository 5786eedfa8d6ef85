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
        bool split = RowSplit.Applies(policy.Model, options.Threads);   // asked before the count is set
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
            var rowIndices = Enumerable.Range(0, (int)batch.Rows).ToList();
            double loss;
            if (split && rowIndices.Count >= 2)
            {
                // Two halves at once, each −Σ log p / (all tokens): the first back-propagates into the parameters'
                // gradients, the second's are added after it.
                var (firstRows, secondRows) = RowSplit.Halves(rowIndices);
                var (first, second) = RowSplit.Run(() => HalfLoss(policy.Model, batch, firstRows, tokens, optimization, accumulate: true),
                                                   () => HalfLoss(policy.Model, batch, secondRows, tokens, optimization, accumulate: false));
                using (first)
                using (second)
                {
                    optimization.Accumulate(second.Gradients!);
                    loss = first.Loss + second.Loss;
                }
            }
            else loss = HalfLoss(policy.Model, batch, rowIndices, tokens, optimization, accumulate: true).Loss;
            optimization.Step(options.MaxGradNorm);
            onStep?.Invoke(step, loss, tokens.item<long>() / watch.Elapsed.TotalSeconds);
        }
        policy.Model.eval();
    }

    sealed record PartLoss(double Loss, Tensor?[]? Gradients) : IDisposable
    {
        public void Dispose()
        {
            foreach (var g in Gradients ?? []) g?.Dispose();
        }
    }

    /// <summary>−Σ log p(demonstration tokens of <paramref name="rows"/>) / <paramref name="tokens"/>, back-propagated
    /// into the parameters' gradients (<paramref name="accumulate"/>) or returned with its gradients.</summary>
    static PartLoss HalfLoss(CausalLm model, SequenceBatch batch, List<int> rows, Tensor tokens, Optimization optimization, bool accumulate)
    {
        using var scope = NewDisposeScope();
        var index = tensor(rows.Select(r => (long)r).ToArray(), device: model.Device);
        using var scores = CompletionScorer.Score(model, batch, index, temperature: 1.0);
        var loss = -(scores.LogProbs.sum() / tokens);
        if (accumulate)
        {
            loss.backward();
            return new PartLoss(loss.item<float>(), null);
        }
        var gradients = optimization.Gradients(loss);
        foreach (var g in gradients) g?.DetachFromDisposeScope();
        return new PartLoss(loss.item<float>(), gradients);
    }
}
