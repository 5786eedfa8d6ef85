using GspoSharp.Models;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// The machine's float32 matmul ceiling, which every "share of matmul" and "arithmetic limit" of
/// the other benchmarks is measured against: the best sustained rate of a square product (2·n³
/// FLOPs) over a few sizes, after warming up until the rate stops rising
/// (<see cref="Measure.Sustained"/>). Measured with 1 thread, 2 threads and the thread count the
/// benchmarks run with; the last is the ceiling. A peer figure — PyTorch doing the same product
/// (bench/peer/matmul.py) — is printed beside it when python3 with torch is available.
/// </summary>
internal static class MatmulBench
{
    static readonly int[] Sizes = { 512, 1024, 2048 };

    /// <summary>The ceiling: best GFLOP/s over <see cref="Sizes"/> at the benchmarks' thread count.</summary>
    public static double Ceiling(bool peer)
    {
        int threads = get_num_threads();
        var counts = new[] { 1, 2, threads }.Where(t => t <= Math.Max(threads, Environment.ProcessorCount)).Distinct().Order().ToArray();
        Console.WriteLine("matmul float32, n×n · n×n = 2·n³ FLOPs: best sustained rate after warming up until the rate stops rising");
        var best = new Dictionary<int, double>();
        foreach (int t in counts)
        {
            using var scoped = IntraOpThreads.Use(t);
            foreach (int n in Sizes)
            {
                var (gflops, first, rate) = Rate(n);
                best[t] = Math.Max(best.GetValueOrDefault(t), gflops);
                Console.WriteLine($"  {t} thread{(t == 1 ? " " : "s")}, {n,4}×{n,-4}: {gflops,6:F1} GFLOP/s " +
                                  $"(first call {first,5:F1}; warm-up {rate.WarmupCalls,4} calls, {rate.WarmupSeconds:F1} s)");
            }
        }
        double ceiling = best[threads];
        Console.WriteLine($"matmul ceiling: {string.Join(", ", counts.Select(t => $"{best[t]:F1} GFLOP/s with {t} thread{(t == 1 ? "" : "s")}"))}; " +
                          $"the benchmarks run with {threads}, so {ceiling:F1} GFLOP/s is the ceiling below");
        if (peer) PeerMatmul.Print(counts, best);
        return ceiling;
    }

    static (double Gflops, double FirstGflops, Measure.SustainedRate Rate) Rate(int n)
    {
        using var scope = NewDisposeScope();
        var a = randn(n, n);
        var b = randn(n, n);
        var rate = Measure.Sustained(() => { using var _ = NewDisposeScope(); a.matmul(b); });
        double flops = 2.0 * n * n * n;
        return (flops * rate.CallsPerSecond / 1e9, flops * rate.FirstCallPerSecond / 1e9, rate);
    }
}
