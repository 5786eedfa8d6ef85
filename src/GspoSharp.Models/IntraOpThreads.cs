using static TorchSharp.torch;

namespace GspoSharp.Models;

/// <summary>
/// LibTorch's intra-op thread count for a stretch of work, restored afterwards. The count is a
/// process-wide setting, so only the thread that owns the models (the one that runs all their
/// work) should change it.
/// </summary>
public readonly struct IntraOpThreads : IDisposable
{
    readonly int previous;

    IntraOpThreads(int previous) => this.previous = previous;

    /// <summary>Runs the work until disposal on <paramref name="threads"/> threads (null or the current count: no change).</summary>
    public static IntraOpThreads Use(int? threads)
    {
        int current = get_num_threads();
        if (threads is not { } wanted || wanted == current) return default;
        if (wanted < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "a thread count must be ≥ 1.");
        set_num_threads(wanted);
        return new IntraOpThreads(current);
    }

    /// <summary>Restores the count the work started with.</summary>
    public void Dispose()
    {
        if (previous > 0) set_num_threads(previous);
    }
}
