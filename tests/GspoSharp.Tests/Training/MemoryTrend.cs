using System.Diagnostics;
using System.Runtime.InteropServices;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>One reading of a process's memory after a step.</summary>
/// <param name="Step">The RL step just finished.</param>
/// <param name="LiveMb">Bytes in use on the C heap (every glibc arena plus its mmapped blocks: LibTorch's
/// CPU tensors live there) plus the managed heap after a full collection, in MB. Unlike the resident
/// set, this does not include what the allocators keep cached, so it moves only when memory is
/// really held.</param>
/// <param name="ResidentMb">The resident set after the collection and a malloc_trim, in MB.</param>
/// <param name="LiveTensors">TorchSharp tensor objects alive in the process.</param>
internal readonly record struct MemoryReading(int Step, double LiveMb, double ResidentMb, long LiveTensors);

/// <summary>
/// Reads a run's memory after every RL step the way a leak hunt does: garbage collected and
/// finalizers run first, so only what is still referenced counts. <paramref name="leakBytesPerStep"/>
/// &gt; 0 keeps one tensor of that size per step: the injected leak the memory test must catch.
/// </summary>
internal sealed class MemorySampler(int leakBytesPerStep = 0) : ITrainingProgress
{
    readonly List<Tensor> kept = new();

    public List<MemoryReading> Readings { get; } = new();

    public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed)
    {
        if (leakBytesPerStep > 0) kept.Add(torch.ones(leakBytesPerStep / sizeof(float)));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        long managed = GC.GetTotalMemory(forceFullCollection: false);
        var heap = MallInfo2();
        MallocTrim(0);
        using var self = Process.GetCurrentProcess();
        Readings.Add(new MemoryReading(step, (managed + (double)(heap.uordblks + heap.hblkhd)) / 1048576.0, self.WorkingSet64 / 1048576.0,
            torch.Tensor.TotalCount));
    }

    public void Stage(string stage, string description) { }
    public void SftStep(int step, int total, double loss) { }
    public void Evaluated(string label, EvaluationResult result) { }
    public void Warning(string message) { }

    /// <summary>Frees the tensors the injected leak kept.</summary>
    public void Release()
    {
        foreach (var tensor in kept) tensor.Dispose();
        kept.Clear();
    }

    /// <summary>glibc's struct mallinfo2 (glibc ≥ 2.33), summed over every arena.</summary>
    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    static extern MallInfo MallInfo2();

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}

/// <summary>Least-squares trend of a series against its step number.</summary>
internal static class Trend
{
    /// <summary>The slope of the least-squares line through the points.</summary>
    public static double Slope(IReadOnlyList<(double X, double Y)> points)
    {
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxy = points.Sum(p => (p.X - mx) * (p.Y - my)), sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxy / sxx;
    }
}
