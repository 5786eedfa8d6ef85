using GspoSharp.Bench;
using GspoSharp.Models;

OpenMpSettings.PreferPassiveWaiting();   // as the gspo tool does (docs/performance.md)
NativeAllocatorSettings.ForLargeModels();   // as the gspo tool does (docs/performance.md, Memory)

// Benchmarks print figures measured side by side in one run; docs/performance.md records them.
//   dotnet run -c Release --project bench/GspoSharp.Bench -- [matmul|objective|model|rollout|step|reward|serve|servers|ops|peer|threads|split|rows|all] [--quick] [--no-peer]
//   ... -- memory        peak memory of one update of Qwen3-0.6B / 1.7B shapes (minutes, up to ~10 GB; not part of all)
//   ... -- memory --only=qwen3-0.6b:lora+ckpt,qwen3-1.7b:lora+ckpt+bf16   just those rows (no dtype comparison)
//   ... -- dtype         the projection with a bfloat16 weight, three ways (the first part of memory)
// The memory children build their models without ModelDirectory.Load: they pin the thresholds and advise huge pages as gspo does for such models.
if (args is ["memory-child", _, _])
{
    MemoryBench.AllocatorPinned = NativeAllocatorSettings.ReturnFreedTensorMemory();
    NativeAllocatorSettings.AdviseHugePages();
}
if (args is ["memory-child", var childModel, var childVariant]) return GspoSharp.Bench.MemoryBench.RunChild(childModel, childVariant);
// The memory benchmark's children above measure peaks with glibc's defaults; everything else runs as gspo does.
if (Environment.GetEnvironmentVariable("GSPO_BENCH_MALLOC_DEFAULTS") is null) NativeAllocatorSettings.ReuseFreedMemory();
if (args is ["peer-child", _, _, _, _, _, _]) return GspoSharp.Bench.PeerBench.RunChild(args);   // one row of peer, in a process of its own
string which = args.Length > 0 ? args[0] : "all";
string[] known = { "matmul", "objective", "model", "rollout", "step", "reward", "serve", "servers", "ops", "peer", "threads", "split", "rows", "memory", "dtype", "all" };
string[] options = { "--quick", "--no-peer" };
if (!known.Contains(which))
{
    Console.Error.WriteLine($"error: unknown benchmark '{which}'; use {string.Join(", ", known)}.");
    return 1;
}
if (args.Skip(1).FirstOrDefault(a => !options.Contains(a) && !(which is "memory" && a.StartsWith("--only=", StringComparison.Ordinal))) is { } unknown)
{
    Console.Error.WriteLine($"error: unknown option '{unknown}'; use {string.Join(", ", options)}.");
    return 1;
}
Console.WriteLine($"threads: {TorchSharp.torch.get_num_threads()}, {Environment.ProcessorCount} logical cores");
// One measurement of the matmul ceiling serves every figure compared with it.
double ceiling = which is "matmul" or "model" or "rollout" or "all"
    ? MatmulBench.Ceiling(peer: which is "matmul" or "all" && !args.Contains("--no-peer"))
    : double.NaN;
if (which is "objective" or "all") ObjectiveBench.Run();
if (which is "model" or "all") ModelBench.Run(ceiling);
if (which is "rollout" or "all") RolloutBench.Run(ceiling, quick: args.Contains("--quick"));
if (which is "step" or "all") StepBench.Run();
if (which is "reward" or "all") RewardBench.Run();   // plain C# on strings: no tensors
if (which is "serve" or "all") ServeBench.Run(quick: args.Contains("--quick"));   // gspo serve over loopback HTTP
if (which is "servers" or "all") RolloutServerBench.Run(quick: args.Contains("--quick"));   // gspo serve child processes on loopback
if (which is "ops") OpsBench.Run();
if (which is "peer") PeerBench.Run(quick: args.Contains("--quick"));
if (which is "threads") ThreadsBench.Run(quick: args.Contains("--quick"));   // one sampling thread against all, across sizes
if (which is "split") SplitBench.Run();   // the decoding step's products split across two .NET threads
if (which is "rows") RowsBench.Run();     // a small model's passes split by rows across two .NET threads
if (which is "memory") MemoryBench.Run(args.FirstOrDefault(a => a.StartsWith("--only=", StringComparison.Ordinal))?["--only=".Length..]);
if (which is "dtype") MemoryBench.DtypeMatmul();
return 0;
