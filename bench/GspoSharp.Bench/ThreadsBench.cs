using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// Sampling on one LibTorch thread against the process's count, across model sizes: the evidence for
/// the one-thread rule of <see cref="IntraOpThreads.For"/>. Each size samples 64 prompts of 16
/// tokens × 128 new tokens (temperature 1, the sampled token's log-prob kept) in a child process of its
/// own (the peer benchmark's rollout child), one thread and all threads alternating, best of three.
/// Sizes: the tiny and small models, and Qwen3 of the 50M-class width (hidden 512, MLP 1536) with
/// 1, 2, 4 and 10 layers (the 10-layer one is the 50M-class model itself, 31.7 M parameters).
/// </summary>
internal static class ThreadsBench
{
    public static void Run(bool quick)
    {
        int all = get_num_threads();
        if (all < 2)
        {
            Console.WriteLine("threads: the process runs on one thread, so there is nothing to compare (unset OMP_NUM_THREADS).");
            return;
        }
        int rounds = quick ? 1 : 3;
        Console.WriteLine($"sampling threads, 1 against {all}: 64 prompts of 16 tokens × 128 new tokens, best of {rounds}, alternating");
        var sizes = new List<(string Name, ModelSize Size, ModelShape? Shape)> { ("tiny", ModelSize.Tiny, null), ("small", ModelSize.Small, null) };
        foreach (int layers in quick ? new[] { 1 } : new[] { 1, 2, 4, 10 })
            sizes.Add(($"50M-class width, {layers} layer{(layers == 1 ? "" : "s")}", ModelSize.Bench50M, new ModelShape(layers)));
        foreach (var (name, size, shape) in sizes)
        {
            string dir = Path.Combine(Path.GetTempPath(), $"gspo-threads-bench-{Guid.NewGuid():N}");
            try
            {
                TinyModels.Create(dir, ModelType.Qwen3, size, seed: 1, shape: shape);
                var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
                long parameters = config.ParameterCount();
                double one = double.PositiveInfinity, many = double.PositiveInfinity;
                for (int round = 0; round < rounds; round++)
                {
                    if (PeerBench.Ours(1, "rollout", dir, 64, 16, 128) is { } a) one = Math.Min(one, a);
                    if (PeerBench.Ours(all, "rollout", dir, 64, 16, 128) is { } b) many = Math.Min(many, b);
                }
                string rule = IntraOpThreads.For(config, null) is 1 ? "1 thread" : $"{all} threads";
                Console.WriteLine($"  {name,-28} {parameters / 1e6,6:F2} M params | 1 thread {one,7:F3} s | {all} threads {many,7:F3} s | " +
                                  $"1 thread {many / one,5:F2}× as fast | the rule samples on {rule}");
            }
            finally
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
        }
    }
}
