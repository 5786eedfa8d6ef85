using GspoSharp.Bench;

// Benchmarks print figures measured side by side in one run; docs/performance.md records them.
//   dotnet run -c Release --project bench/GspoSharp.Bench -- [matmul|objective|all]
string which = args.Length > 0 ? args[0] : "all";
Console.WriteLine($"threads: {TorchSharp.torch.get_num_threads()}, {Environment.ProcessorCount} logical cores");
if (which is "matmul" or "all") MatmulBench.GflopsPerSecond(print: true);
if (which is "objective" or "all") ObjectiveBench.Run();
if (which is not ("matmul" or "objective" or "all"))
{
    Console.Error.WriteLine($"error: unknown benchmark '{which}'; use matmul, objective or all.");
    return 1;
}
return 0;
