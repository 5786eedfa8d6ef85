using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Training;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// <c>bench -- rows</c>: the evidence for <see cref="RowSplit"/>. The demo's model (~0.1 M parameters) runs on one
/// LibTorch thread, because its operations are too small for a second intra-op thread to pay. This times its
/// passes, and the 30M-class model's, in one run: on one LibTorch thread, on two, with the sampling products split
/// (<see cref="ProductSplit"/>, the 30M-class model's rollout as gspo runs it), and split by rows in two halves run
/// at once on two .NET threads with one LibTorch thread each (as gspo runs the demo's model). The passes: an update
/// micro-batch (forward, log-prob gather, backward; the halves' gradients summed as the trainer does) and a rollout
/// (2 samples per prompt, no end-of-sequence token). Prints the median time of each and the rows split's speed-up
/// over the best of the others.
/// </summary>
internal static class RowsBench
{
    public static void Run()
    {
        Console.WriteLine();
        Console.WriteLine("== rows: passes split by rows across two .NET threads vs LibTorch's threads ==");
        int before = get_num_threads();
        if (before < 2)
        {
            Console.WriteLine($"  skipped: the process has {before} thread; the split needs two");
            return;
        }
        Console.WriteLine("| model | pass | 1 thread | 2 threads | products split | rows split | rows split ÷ best other |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        // The demo's model, and the 30M-class one (the 50M shape with the tiny tokenizer's 512 tokens), which gspo runs
        // on LibTorch's threads with its sampling products split (ProductSplit).
        foreach (var (name, size, batch, length, prompts, newTokens) in new[]
                 { ("tiny (demo)", ModelSize.Tiny, 32, 64, 64, 64), ("30M-class", ModelSize.Bench50M, 8, 128, 32, 64) })
        {
            var config = TinyConfigs.Create(ModelType.Qwen3, size, 512);
            using var lm = new CausalLm(config);
            lm.InitializeWeights(1);
            string label = $"{name}, {config.ParameterCount() / 1e6:F1} M";
            Update(lm, label, batch, length);
            set_num_threads(before);
            Rollout(lm, label, prompts, newTokens);
            set_num_threads(before);
        }
    }

    /// <summary>An update micro-batch: forward, log-prob gather, backward, the halves' gradients summed as the trainer does.</summary>
    static void Update(CausalLm lm, string label, int batch, int length)
    {
        using var optimization = new Optimization(lm, 1e-4, 0, 0.9, 0.999, 1e-8, 0, 100, LearningRateSchedule.Constant);
        var generator = new Generator(3);
        using var ids = randint(0, 512, new long[] { batch, length }, generator: generator);
        using var mask = ones(new long[] { batch, length }, ScalarType.Bool);
        using var targets = ones(new long[] { batch, length - 1 }, ScalarType.Bool);
        lm.train();
        (Tensor, Nothing) Loss(List<int> rows)
        {
            var index = tensor(rows.Select(r => (long)r).ToArray());
            var scores = lm.ScoreTokens(ids.index_select(0, index), mask.index_select(0, index), targets.index_select(0, index));
            return (scores.LogProbs.sum().neg(), new Nothing());
        }
        var all = Enumerable.Range(0, batch).ToList();
        void Whole()
        {
            optimization.ZeroGrad();
            SplitBackward.Whole(all, Loss);
        }
        void Split()
        {
            optimization.ZeroGrad();
            SplitBackward.Halves(optimization, all, Loss);
        }
        int repeats = lm.Config.ParameterCount() < IntraOpThreads.SingleThreadParameters ? 21 : 7;
        set_num_threads(1);
        double one = Measure.Seconds(Whole, warmup: 2, repeats: repeats);
        set_num_threads(2);
        double two = Measure.Seconds(Whole, warmup: 2, repeats: repeats);
        double rows = Measure.Seconds(Split, warmup: 2, repeats: repeats);   // each half on one thread
        lm.eval();
        Print(label, $"update micro-batch, {batch} × {length} tokens", one, two, null, rows);
    }

    /// <summary>A rollout of <paramref name="prompts"/> prompts × 2 samples, no end-of-sequence token.</summary>
    static void Rollout(CausalLm lm, string label, int prompts, int newTokens)
    {
        var random = new Random(5);
        var all = Enumerable.Range(0, prompts).Select(_ => Enumerable.Range(0, 14).Select(_ => (long)random.Next(509)).ToArray()).ToList();
        var options = new SamplingOptions { MaxNewTokens = newTokens, SamplesPerPrompt = 2, Seed = 1 };
        using var one = new LocalRolloutBackend(lm) { Threads = 1 };
        using var two = new LocalRolloutBackend(lm) { Threads = 2 };
        using var rule = new LocalRolloutBackend(lm);   // products split for the 30M-class model, rows for the tiny one
        int half = prompts / 2;
        var (first, second) = (all.Take(half).ToList(), all.Skip(half).ToList());
        void Rows()   // what LocalRolloutBackend does for a model under 1 M parameters, here for any
        {
            var (a, b) = RowSplit.Run(() => one.GenerateAsync(first, options).Result, () => one.GenerateAsync(second, options with { FirstPromptIndex = half }).Result);
            a.Dispose();
            b.Dispose();
        }
        const int repeats = 5;
        double tOne = Measure.Seconds(() => one.GenerateAsync(all, options).Result.Dispose(), warmup: 1, repeats: repeats);
        double tTwo = Measure.Seconds(() => two.GenerateAsync(all, options).Result.Dispose(), warmup: 1, repeats: repeats);
        double? tProducts = RowSplit.Applies(lm, null) ? null
            : Measure.Seconds(() => rule.GenerateAsync(all, options).Result.Dispose(), warmup: 1, repeats: repeats);
        double tRows = Measure.Seconds(() => Rows(), warmup: 1, repeats: repeats);
        Print(label, $"rollout, {prompts} prompts × 2 samples × {newTokens} new tokens", tOne, tTwo, tProducts, tRows);
    }

    static void Print(string model, string pass, double one, double two, double? products, double rows)
    {
        double best = Math.Min(Math.Min(one, two), products ?? double.MaxValue);
        Console.WriteLine($"| {model} | {pass} | {one * 1e3:F1} ms | {two * 1e3:F1} ms | {(products is { } p ? $"{p * 1e3:F1} ms" : "–")} | {rows * 1e3:F1} ms | {best / rows:F2}× |");
    }

    /// <summary>What a part keeps besides its gradients: nothing.</summary>
    internal sealed record Nothing : IDisposable
    {
        public void Dispose() { }
    }
}
