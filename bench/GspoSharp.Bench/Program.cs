using GspoSharp.Bench;
using GspoSharp.Models;

OpenMpSettings.PreferPassiveWaiting();   // as the gspo tool does (docs/performance.md)

// Benchmarks print figures measured side by side in one run; docs/performance.md records them.
//   dotnet run -c Release --project bench/GspoSharp.Bench -- [matmul|objective|model|rollout|step|reward|all] [--quick]
string which = args.Length > 0 ? args[0] : "all";
string[] known = { "matmul", "objective", "model", "rollout", "step", "reward", "all" };
if (!known.Contains(which))
{
    Console.Error.WriteLine($"error: unknown benchmark '{which}'; use {string.Join(", ", known)}.");
    return 1;
}
Console.WriteLine($"threads: {TorchSharp.torch.get_num_threads()}, {Environment.ProcessorCount} logical cores");
if (which == "reward")   // plain C# on strings: no tensors, no matmul ceiling to compare with
{
    RewardBench.Run();
    return 0;
}
double ceiling = MatmulBench.GflopsPerSecond(print: true);
if (which is "objective" or "all") ObjectiveBench.Run();
if (which is "model" or "all") ModelBench.Run(ceiling);
if (which is "rollout" or "all") RolloutBench.Run(ceiling, quick: args.Contains("--quick"));
if (which is "step" or "all") StepBench.Run();
if (which is "all") RewardBench.Run();
return 0;
