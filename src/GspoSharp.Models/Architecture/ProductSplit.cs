using System.Runtime.ExceptionServices;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// While in scope on the thread that owns a model, the large products of its gradient-free passes
/// (<see cref="FewRowsLinear"/>: the decoding step's projections and output head) are split by
/// output features: one half runs on the calling thread, the other on a worker thread, each with one
/// LibTorch thread, and the halves are joined. On two cores oneMKL's own second thread gains little
/// on a decoding step's 64-row products; two single-threaded halves gain 1.2–1.5× over it on every
/// product of the 30M-class model (<c>bench -- split</c>, docs/performance.md). Everything else in
/// the scope (attention, norms, sampling) runs on one LibTorch thread. Each output is the same dot
/// product as without the split, though computed by a product of another shape, so its float
/// rounding can differ in the last bits, as with any change of thread count.
/// </summary>
public sealed class ProductSplit : IDisposable
{
    /// <summary>Weights smaller than this (elements) are not split: the hand-over would cost more than it saves.</summary>
    public const long MinWeightElements = 1 << 18;

    [ThreadStatic] static ProductSplit? current;

    readonly ProductSplit? outer;
    readonly IntraOpThreads threads;
    readonly Thread worker;
    readonly ManualResetEventSlim start = new(false, 2047), done = new(false, 2047);
    Func<Tensor>? work;
    Tensor? result;
    ExceptionDispatchInfo? error;
    volatile bool stopping;
    bool disposed;

    ProductSplit()
    {
        threads = IntraOpThreads.Use(1);
        worker = new Thread(Serve) { IsBackground = true, Name = "GspoSharp product split" };
        worker.Start();
        outer = current;
        current = this;
    }

    /// <summary>Products split (for tests and benchmarks: how often the split ran).</summary>
    public static long Splits => Interlocked.Read(ref splits);
    static long splits;

    /// <summary>
    /// The scope to sample <paramref name="config"/>'s model in: when <see cref="IntraOpThreads.For"/> leaves
    /// the process's count (models of 1 M parameters and more, no count asked for), that count is 2 or
    /// more and the model is on the CPU, a split on this thread; else the rule's thread count.
    /// </summary>
    public static IDisposable ForSampling(ModelConfig config, int? requested, Device device) =>
        IntraOpThreads.For(config, requested) is null && device.type == DeviceType.CPU && get_num_threads() >= 2
            ? new ProductSplit()
            : IntraOpThreads.Use(IntraOpThreads.For(config, requested));

    /// <summary>A split on this thread until disposal, whatever the model (benchmarks, tests).</summary>
    public static ProductSplit Begin() => new();

    /// <summary><c>linear(x, weight, bias)</c> split in halves, or null when no split is in scope on this
    /// thread or the weight is too small.</summary>
    internal static Tensor? Linear(Tensor x, Tensor weight, Tensor? bias) =>
        current is { } split && weight.numel() >= MinWeightElements
            ? split.Halves(weight, bias, (w, b) => nn.functional.linear(x, w, b), dim: -1)
            : null;

    /// <summary><c>weight.matmul(columns)</c> ([out, rows]) split in halves, or null as <see cref="Linear"/>.</summary>
    internal static Tensor? Matmul(Tensor weight, Tensor columns) =>
        current is { } split && weight.numel() >= MinWeightElements
            ? split.Halves(weight, null, (w, _) => w.matmul(columns), dim: 0)
            : null;

    Tensor Halves(Tensor weight, Tensor? bias, Func<Tensor, Tensor?, Tensor> product, long dim)
    {
        using var scope = NewDisposeScope();
        long outFeatures = weight.shape[0], half = outFeatures / 2;
        var (w0, w1) = (weight.narrow(0, 0, half), weight.narrow(0, half, outFeatures - half));   // contiguous row blocks
        var (b0, b1) = bias is null ? (null, null) : (bias.narrow(0, 0, half), bias.narrow(0, half, outFeatures - half));
        work = () => product(w1, b1);
        start.Set();
        Tensor mine;
        try
        {
            mine = product(w0, b0);
        }
        finally
        {
            done.Wait();   // the worker reads the views above: never leave before it is done
            done.Reset();
        }
        error?.Throw();
        using var theirs = result!;   // made on the worker, outside any dispose scope
        result = null;
        Interlocked.Increment(ref splits);
        return cat(new[] { mine, theirs }, dim).MoveToOuterDisposeScope();
    }

    void Serve()
    {
        using var noGrad = no_grad();   // grad mode is per thread; splits run in gradient-free passes only
        while (true)
        {
            start.Wait();
            start.Reset();
            if (stopping) return;
            try
            {
                error = null;
                result = work!();
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
            done.Set();
        }
    }

    /// <summary>Ends the split (on the thread that began it) and restores the thread count.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        current = outer;
        stopping = true;
        start.Set();
        worker.Join();
        start.Dispose();
        done.Dispose();
        threads.Dispose();
    }
}
