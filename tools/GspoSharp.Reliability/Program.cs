using System.CommandLine;
using GspoSharp.Models;
using GspoSharp.Reliability;

OpenMpSettings.PreferPassiveWaiting();   // as gspo does; this process only reads files, its children train

// Reliability harnesses, run by hand and not in CI (README.md):
//   dotnet run -c Release --project tools/GspoSharp.Reliability -- soak  [--steps 1000] [--parallel 2] …
//   dotnet run -c Release --project tools/GspoSharp.Reliability -- crash [--kills 60] [--seed 1] …
static Option<T> Opt<T>(string name, string description, T value) => new(name) { Description = description, DefaultValueFactory = _ => value };

var configs = Opt("--configs", $"Comma-separated configurations: {string.Join(", ", SoakConfigs.All.Keys)}.", string.Join(",", SoakConfigs.All.Keys));
var steps = Opt("--steps", "RL steps per configuration.", 1000);
var saveSteps = Opt("--save-steps", "Checkpoint every n steps.", 50);
var parallel = Opt("--parallel", "Configurations trained side by side (each with one LibTorch thread).", 1);
var gen0 = Opt("--gen0size", "DOTNET_GCgen0size of the trainer: the gen0 budget in bytes, hexadecimal as the runtime reads it.", "0x10000");
var interval = Opt("--gc-interval-ms", "Milliseconds between the forced compacting collections of the trainer (GSPO_TEST_GC_STRESS).", 2);
var warmup = Opt("--warmup", "Steps excluded from the resident-memory slope (allocator pools, JIT).", 100);
var maxCrashes = Opt("--max-crashes", "Give a configuration up after this many crashes (each is resumed).", 3);
var threads = Opt("--threads", "LibTorch threads of each trainer (OMP_NUM_THREADS); 2 runs a model under 1 M parameters as two halves of each batch at once (RowSplit), as gspo does on two cores.", 1);
var soakOut = Opt("--out", "Directory for the runs and soak.json (replaced).", Path.Combine("runs", "soak"));
var soak = new Command("soak", "Train each configuration for --steps steps under GC stress; report steps, crashes, RSS slope and wall time.")
{
    configs, steps, saveSteps, parallel, gen0, interval, warmup, maxCrashes, threads, soakOut,
};
soak.SetAction(p => SoakCommand.Run(new SoakOptions(
    p.GetValue(configs)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Known).ToList(),
    p.GetValue(steps), p.GetValue(saveSteps), p.GetValue(parallel), p.GetValue(gen0)!, p.GetValue(interval), p.GetValue(warmup),
    p.GetValue(maxCrashes), p.GetValue(soakOut)!, p.GetValue(threads))));

var kills = Opt("--kills", "SIGKILLs to deliver in all (N).", 60);
var seed = Opt("--seed", "Seed of the kill plan.", 1);
var crashSteps = Opt("--steps", "RL steps of each run.", 12);
var crashSave = Opt("--save-steps", "Checkpoint every n steps.", 3);
var crashConfigs = Opt("--configs", "Comma-separated configurations, alternated between runs: dense, moe-replay.", "dense,moe-replay");
var perTrial = Opt("--kills-per-run", "Kills before a run is let finish.", 3);
var crashOut = Opt("--out", "Directory for the runs and crash.json (replaced).", Path.Combine("runs", "crash"));
var crash = new Command("crash", "SIGKILL gspo train at chosen writes and random moments, resume each time, and compare with an uninterrupted run.")
{
    kills, seed, crashSteps, crashSave, crashConfigs, perTrial, crashOut,
};
crash.SetAction(p => CrashCommand.Run(new CrashOptions(p.GetValue(kills), p.GetValue(seed), p.GetValue(crashSteps), p.GetValue(crashSave),
    p.GetValue(crashConfigs)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList(),
    p.GetValue(perTrial), p.GetValue(crashOut)!)));

return new RootCommand("GspoSharp reliability harnesses (not part of CI): soak under GC stress, crash recovery under SIGKILL.") { soak, crash }
    .Parse(args).Invoke();

static string Known(string name) => SoakConfigs.All.ContainsKey(name) ? name
    : throw new ArgumentException($"--configs: unknown configuration '{name}'; known: {string.Join(", ", SoakConfigs.All.Keys)}.");
