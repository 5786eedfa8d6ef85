using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// A small model's batch split by rows in two halves that run at once, one on the calling thread and
/// one on the process's <see cref="SecondThread"/>, each on one LibTorch thread: data parallelism
/// across the two cores of a small machine, inside one process and on one copy of the weights.
/// </summary>
/// <remarks>
/// Models under <see cref="IntraOpThreads.SingleThreadParameters"/> parameters run on one LibTorch thread
/// because each of their operations is too small to divide: a second intra-op thread costs more in
/// wake-ups than it saves. Their passes still are, as wholes, large enough to divide: the demo's model
/// scored and back-propagated 32 sequences of 64 tokens in 43–48 ms on one thread, 55–69 ms on two
/// intra-op threads, and 29–33 ms as two halves of 16 at once (<c>bench -- rows</c>, docs/performance.md,
/// seventh round).
/// Each half does exactly what it would do as a micro-batch of its own, so a split pass equals, bit
/// for bit, the same pass run as two consecutive halves on one thread; it differs from the unsplit
/// pass only by float rounding (a sum over the batch taken in two parts).
/// </remarks>
public static class RowSplit
{
    [ThreadStatic] static long splits;

    /// <summary>Splits the calling thread has run so far (for tests and benchmarks).</summary>
    public static long Splits => splits;

    /// <summary>
    /// Whether work on <paramref name="model"/> splits its rows: when <see cref="IntraOpThreads.For"/> runs it on one
    /// thread by the rule (a model under <see cref="IntraOpThreads.SingleThreadParameters"/> parameters and no count
    /// <paramref name="requested"/>) while the process has two threads or more, and the model is dense, without
    /// adapters, on the CPU. Ask before the work's thread count is set: the answer reads the process's count.
    /// </summary>
    /// <remarks>Mixture-of-experts models are left out because their routing is recorded and replayed per
    /// micro-batch; models with adapters because adapter dropout draws from the one global generator, whose
    /// order two threads would make depend on timing.</remarks>
    public static bool Applies(CausalLm model, int? requested) =>
        requested is null && IntraOpThreads.For(model.Config, null) == 1 && get_num_threads() >= 2
        && !model.Config.HasMoeLayers && !model.HasAdapters && model.Device.type == DeviceType.CPU;

    /// <summary>The first ⌊n/2⌋ items and the rest.</summary>
    public static (List<T> First, List<T> Second) Halves<T>(IReadOnlyList<T> items)
    {
        int half = items.Count / 2;
        return (items.Take(half).ToList(), items.Skip(half).ToList());
    }

    /// <summary>
    /// Runs <paramref name="first"/> on this thread and <paramref name="second"/> on the second thread at once, each
    /// on one LibTorch thread, in this thread's grad mode, and returns both results. If either throws, the other's
    /// result is disposed and the exception is rethrown (this thread's first).
    /// </summary>
    /// <remarks>Tensors that <paramref name="second"/> makes outside a dispose scope of its own belong to no scope:
    /// its result is the caller's to dispose.</remarks>
    public static (T First, T Second) Run<T>(Func<T> first, Func<T> second) where T : class, IDisposable
    {
        using var threads = IntraOpThreads.Use(1);
        T? mine = null, theirs = null;
        try
        {
            SecondThread.Run(() => theirs = second(), () => mine = first());
            splits++;
            return (mine!, theirs!);
        }
        catch
        {
            mine?.Dispose();
            theirs?.Dispose();
            throw;
        }
    }
}
