using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// While in scope on the thread that owns a model, the large products of its gradient-free passes
/// (<see cref="FewRowsLinear"/>: the decoding step's fused projections and output head) are split by
/// output features: one half runs on the calling thread, the other on a worker thread, each with one
/// LibTorch thread, and the halves are joined. On two cores oneMKL's own second thread gains little
/// on a decoding step's 64-row products; two single-threaded halves gain 1.2–1.5× over it on every
/// product of the 30M-class model (<c>bench -- split</c>, docs/performance.md). Everything else in
/// the scope (attention, norms, sampling) runs on one LibTorch thread. Each output is the same dot
/// product as without the split, though computed by a product of another shape, so its float
/// rounding can differ in the last bits, as with any change of thread count.
/// </summary>
/// <remarks>The halves run on the process's <see cref="SecondThread"/>. A scope belongs to the thread that began it.</remarks>
public sealed class ProductSplit : IDisposable
{
    /// <summary>Weights smaller than this (elements) are not split: the hand-over would cost more than it saves.</summary>
    public const long MinWeightElements = 1 << 18;

    /// <summary>Models of this many parameters and more sample on LibTorch's own threads: the Qwen3-0.6B-shaped
    /// rollout (8 rows) took 20.4 / 20.8 s under a split against 15.1 / 14.8 s without, its 151,936-token
    /// vocabulary's sampling and its attention then running on one thread (docs/performance.md, sixth round).</summary>
    public const long MaxParameters = 100_000_000;

    [ThreadStatic] static ProductSplit? current;
    static long splits;

    readonly ProductSplit? outer;
    readonly IntraOpThreads threads;
    readonly int owner = Environment.CurrentManagedThreadId;
    bool disposed;

    ProductSplit()
    {
        threads = IntraOpThreads.Use(1);
        outer = current;
        current = this;
    }

    /// <summary>Products split so far in the process (for tests and benchmarks).</summary>
    public static long Splits => Interlocked.Read(ref splits);

    /// <summary>
    /// The scope to sample <paramref name="model"/> in: a split when <see cref="IntraOpThreads.For"/> leaves the
    /// process's count (models of 1 M parameters and more, no count asked for), the model is below
    /// <see cref="MaxParameters"/>, the count is exactly 2 (where the
    /// split was measured to win; with more cores LibTorch's own threads divide the products further), and the
    /// model is dense, without adapters, on the CPU (its products all pass through <see cref="FewRowsLinear"/>);
    /// else the rule's thread count.
    /// </summary>
    public static IDisposable ForSampling(CausalLm model, int? requested)
    {
        int? rule = IntraOpThreads.For(model.Config, requested);
        bool split = rule is null && get_num_threads() == 2 && model.Config.ParameterCount() < MaxParameters
                     && !model.Config.HasMoeLayers && !model.HasAdapters && model.Device.type == DeviceType.CPU;
        return split ? new ProductSplit() : IntraOpThreads.Use(rule);
    }

    /// <summary>A split on this thread until disposal, whatever the model (benchmarks, tests).</summary>
    public static ProductSplit Begin() => new();

    /// <summary><c>linear(x, weight, bias)</c> split in halves, or null when no split is in scope on this
    /// thread or the weight is too small.</summary>
    internal static Tensor? Linear(Tensor x, Tensor weight, Tensor? bias) =>
        current is not null && weight.numel() >= MinWeightElements
            ? Halves(weight, bias, (w, b) => nn.functional.linear(x, w, b), dim: -1)
            : null;

    /// <summary><c>weight.matmul(columns)</c> ([out, rows]) split in halves, or null as <see cref="Linear"/>.</summary>
    internal static Tensor? Matmul(Tensor weight, Tensor columns) =>
        current is not null && weight.numel() >= MinWeightElements
            ? Halves(weight, null, (w, _) => w.matmul(columns), dim: 0)
            : null;

    static Tensor Halves(Tensor weight, Tensor? bias, Func<Tensor, Tensor?, Tensor> product, long dim)
    {
        using var scope = NewDisposeScope();
        long outFeatures = weight.shape[0], half = outFeatures / 2;
        var (w0, w1) = (weight.narrow(0, 0, half), weight.narrow(0, half, outFeatures - half));   // contiguous row blocks
        var (b0, b1) = bias is null ? (null, null) : (bias.narrow(0, 0, half), bias.narrow(0, half, outFeatures - half));
        Tensor? mine = null, theirs = null;
        try
        {
            // The worker's half is made outside any dispose scope: it is released here, joined or not.
            SecondThread.Run(() => theirs = product(w1, b1), () => mine = product(w0, b0));
            Interlocked.Increment(ref splits);
            return cat(new[] { mine!, theirs! }, dim).MoveToOuterDisposeScope();
        }
        finally
        {
            theirs?.Dispose();
        }
    }

    /// <summary>Ends the split (on the thread that began it) and restores the thread count.</summary>
    public void Dispose()
    {
        if (disposed) return;
        if (Environment.CurrentManagedThreadId != owner)
            throw new InvalidOperationException("a ProductSplit must be disposed on the thread that began it.");
        disposed = true;
        current = outer;
        threads.Dispose();
    }
}
