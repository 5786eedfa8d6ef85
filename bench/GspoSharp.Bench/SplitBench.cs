using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// <c>bench -- split</c>: whether the decoding step's products would run faster split by output
/// features across two .NET threads, each with one LibTorch thread, than on LibTorch's own two
/// threads. The question behind it: oneMKL gains little from a second thread on the 30M-class
/// model's 64-row products (docs/performance.md, fifth round), where the peer's OpenBLAS gains 1.7×.
/// Each product of a 30M-class decoding step (64 rows, <c>linear</c>) and of a Qwen3-0.6B-shaped one
/// (8 rows, the transposed product of FewRowsLinear) is timed three ways in one run: one LibTorch
/// thread; two; and the weight's rows split in halves, one half on this thread and one on a waiting
/// worker thread, LibTorch on one thread, the halves joined with <c>cat</c> (<see cref="ProductSplit"/>, as gspo
/// samples models of 1 M parameters and more). Prints the median per call and the speed-ups.
/// </summary>
internal static class SplitBench
{
    public static void Run()
    {
        Console.WriteLine();
        Console.WriteLine("== split: one decoding step's products, split across two .NET threads vs LibTorch's threads ==");
        int before = get_num_threads();
        using var noGrad = no_grad();
        var shapes = new (string Name, long Out, long In, long Rows)[]
        {
            ("30M-class gate/up", 3072, 512, 64), ("30M-class q/k/v", 1024, 512, 64), ("30M-class down", 512, 1536, 64),
            ("30M-class o", 512, 512, 64), ("30M-class head", 512, 512, 64),
            ("0.6B gate/up", 6144, 1024, 8), ("0.6B q/k/v", 4096, 1024, 8), ("0.6B down", 1024, 3072, 8),
            ("0.6B o", 1024, 2048, 8), ("0.6B head", 151936, 1024, 8),
        };
        Console.WriteLine("| product | weight | rows | 1 thread | 2 threads | split, 2 × 1 thread | split ÷ 1 thread | split ÷ 2 threads |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        foreach (var (name, outF, inF, rows) in shapes)
        {
            using var scope = NewDisposeScope();
            var w = randn(outF, inF);
            var x = randn(rows, inF);
            bool transposed = rows <= 32;   // as FewRowsLinear: (W xᵀ)ᵀ for a few rows
            var xt = x.t();
            Tensor Product(Tensor weight) => transposed ? weight.matmul(xt) : nn.functional.linear(x, weight);
            int repeats = outF * inF > 50_000_000 ? 15 : 301;
            set_num_threads(1);
            double one = Measure.Seconds(() => { using var y = Product(w); }, warmup: 5, repeats: repeats);
            set_num_threads(2);
            double two = Measure.Seconds(() => { using var y = Product(w); }, warmup: 5, repeats: repeats);
            set_num_threads(1);
            Tensor Split() => (transposed ? ProductSplit.Matmul(w, xt) : ProductSplit.Linear(x, w, null))!;
            double split;
            using (ProductSplit.Begin())
            {
                split = Measure.Seconds(() => { using var y = Split(); }, warmup: 5, repeats: repeats);
                // The split result is the product, to float rounding.
                using var whole = Product(w);
                using var joined = Split();
                if (!joined.allclose(whole, rtol: 1e-5, atol: 1e-4)) throw new InvalidOperationException($"{name}: the split product differs from the whole one");
            }
            Console.WriteLine($"| {name} | [{outF}, {inF}] | {rows} | {one * 1e6:F0} µs | {two * 1e6:F0} µs | {split * 1e6:F0} µs | {one / split:F2}× | {two / split:F2}× |");
        }
        set_num_threads(before);
    }
}
