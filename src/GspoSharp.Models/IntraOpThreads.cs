using GspoSharp.Models.Architecture;
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

    /// <summary>Models smaller than this run on one thread unless a count is asked for (<see cref="For"/>).</summary>
    public const long SingleThreadParameters = 1_000_000;

    /// <summary>The thread count to run <paramref name="config"/>'s model with (sampling, scoring, training):
    /// <paramref name="requested"/> when given, else one for models below <see cref="SingleThreadParameters"/>
    /// parameters, else null (the process's count).</summary>
    /// <remarks>Every operation of such a model works on a few kilobytes, too little to split: waking a second
    /// thread for each costs more than it saves. The demo's 0.1 M-parameter model generated ~20% faster on one
    /// thread than on two, and on the AVX-512 host its whole run took 2:37 on one thread against 3:03 on two,
    /// the update 76 s against 95 s (docs/performance.md). From a few million parameters up the two were even
    /// on a 2-core machine (<c>bench -- threads</c>), and on more cores larger models' products split further,
    /// so they keep the process's count.</remarks>
    public static int? For(ModelConfig config, int? requested) =>
        requested ?? (config.ParameterCount() < SingleThreadParameters ? 1 : null);

    /// <summary>Runs the work until disposal on <see cref="For"/>'s count for <paramref name="config"/>'s model.</summary>
    public static IntraOpThreads UseFor(ModelConfig config, int? requested) => Use(For(config, requested));

    /// <summary>Restores the count the work started with.</summary>
    public void Dispose()
    {
        if (previous > 0) set_num_threads(previous);
    }
}
