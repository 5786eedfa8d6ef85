using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>The machine's float32 matmul throughput: the ceiling every other figure is compared with.</summary>
internal static class MatmulBench
{
    /// <summary>Best GFLOP/s over a few square sizes (2·n³ FLOPs per product).</summary>
    public static double GflopsPerSecond(bool print)
    {
        double best = 0;
        foreach (int n in new[] { 512, 1024, 2048 })
        {
            using var scope = NewDisposeScope();
            var a = randn(n, n);
            var b = randn(n, n);
            double seconds = Measure.Seconds(() => { using var _ = NewDisposeScope(); a.matmul(b); }, repeats: 5);
            double gflops = 2.0 * n * n * n / seconds / 1e9;
            if (print) Console.WriteLine($"matmul {n}×{n} float32: {gflops,8:F1} GFLOP/s");
            best = Math.Max(best, gflops);
        }
        return best;
    }
}
