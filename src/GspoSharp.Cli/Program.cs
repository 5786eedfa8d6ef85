using System.CommandLine;
using GspoSharp.Cli.Commands;
using GspoSharp.Models;

OpenMpSettings.PreferPassiveWaiting();   // before LibTorch starts its threads
NativeAllocatorSettings.ReuseFreedMemory();   // freed tensors' memory is reused, not page-faulted in again (docs/performance.md)
NativeAllocatorSettings.ForLargeModels();   // at model load: freed tensors go back to the system for models of ≥ 100 M parameters (docs/performance.md, Memory)
if (GspoSharp.Cli.TestHooks.Start() is { } hookError)   // test-only variables; nothing happens when they are unset
{
    Console.Error.WriteLine($"error: {hookError}");
    return CommandErrors.BadInput;
}

var root = new RootCommand("gspo: post-train language models with GSPO (Group Sequence Policy Optimization), GSPO-token and GRPO.")
{
    TrainCommand.Create(),
    SftCommand.Create(),
    EvalCommand.Create(),
    ReportCommand.Create(),
    ExperimentCommand.Create(),
    ObjectiveCommand.Create(),
    AdvantagesCommand.Create(),
    ScoreCommand.Create(),
    TokenizeCommand.Create(),
    InitModelCommand.Create(),
    GenerateCommand.Create(),
    MergeCommand.Create(),
    ServeCommand.Create(),
};
return root.Parse(args).Invoke();
