using System.CommandLine;
using System.Globalization;
using GspoSharp.Fuzz;
using GspoSharp.Fuzz.Mutations;

// gspo-fuzz: mutation fuzzing of every file GspoSharp reads (docs/reliability.md).
//   dotnet run -c Release --project tests/GspoSharp.Fuzz -- --minutes 15 --seed 7
//   dotnet run -c Release --project tests/GspoSharp.Fuzz -- --target config.json --iterations 20000
//   dotnet run -c Release --project tests/GspoSharp.Fuzz -- --target config.json --case "3/12:5:9:1"
var targets = new Option<string[]>("--target", "-t") { Description = "Targets to run (default: all; --list names them).", AllowMultipleArgumentsPerToken = true };
var iterations = new Option<long?>("--iterations", "-n") { Description = "Inputs per target." };
var minutes = new Option<double?>("--minutes") { Description = "Total time, shared equally by the targets (default: 1 minute, unless --iterations is given)." };
var seed = new Option<ulong>("--seed") { Description = "Run seed: with a target and an input number it fixes the input.", DefaultValueFactory = _ => 1 };
var first = new Option<long>("--first") { Description = "Number of the first input (to continue an earlier run with the same seed).", DefaultValueFactory = _ => 0 };
var findingsDir = new Option<string>("--findings") { Description = "Directory for the inputs that broke the contract.", DefaultValueFactory = _ => "fuzz-findings" };
var replay = new Option<string?>("--case") { Description = "Run one case (as printed in a finding) on one --target and print what happens." };
var hangSeconds = new Option<int>("--hang-seconds") { Description = "An input still being parsed after this long is reported as a hang and the run stops.", DefaultValueFactory = _ => 60 };
var list = new Option<bool>("--list") { Description = "List the targets and exit." };
var root = new RootCommand("Mutation-fuzz the parsers of GspoSharp: only documented errors naming the file, no other exception, crash, hang or runaway allocation.")
{
    targets, iterations, minutes, seed, first, findingsDir, replay, hangSeconds, list,
};
root.SetAction(parse =>
{
    TorchSharp.torch.set_num_threads(1);
    if (parse.GetValue(list))
    {
        foreach (var t in Targets.All) Console.WriteLine($"{t.Name,-24} {t.Description}");
        return 0;
    }
    var chosen = (parse.GetValue(targets) is { Length: > 0 } names ? names.Select(Targets.Named) : Targets.All).ToList();
    using var fixtures = new Fixtures();
    if (parse.GetValue(replay) is { } text)
    {
        if (chosen.Count != 1) throw new ArgumentException("--case needs exactly one --target.");
        var target = chosen[0];
        var setup = target.Setup(fixtures);
        var finding = FuzzRunner.RunOne(target, setup, FuzzCase.Parse(text), 0, new TargetStats(target.Name));
        Console.WriteLine(finding?.ToString() ?? $"{target.Name}: the contract holds for case {text}.");
        return finding is null ? 0 : 1;
    }

    long? perTarget = parse.GetValue(iterations);
    double total = parse.GetValue(minutes) ?? (perTarget is null ? 1 : double.PositiveInfinity);
    string findings = Path.GetFullPath(parse.GetValue(findingsDir)!);
    Directory.CreateDirectory(findings);
    ulong runSeed = parse.GetValue(seed);
    var watchdog = new Watchdog(TimeSpan.FromSeconds(parse.GetValue(hangSeconds)), findings);
    Console.WriteLine($"seed {runSeed}; findings go to {findings}; the input being parsed is always in last-input.bin there.");
    Console.WriteLine($"{"target",-24} {"inputs",9} {"accepted",9} {"refused",9} {"findings",8} {"distinct",8} {"max MiB",8} {"inputs/s",9}");
    int totalFindings = 0;
    var start = DateTime.UtcNow;
    for (int i = 0; i < chosen.Count; i++)
    {
        var target = chosen[i];
        uint stream = (uint)Targets.All.ToList().IndexOf(target);
        var setup = target.Setup(fixtures);
        FuzzRunner.VerifySeeds(target, setup);
        // Each target gets an equal share of what is left of the time.
        DateTime? deadline = double.IsInfinity(total) ? null
            : DateTime.UtcNow + (start + TimeSpan.FromMinutes(total) - DateTime.UtcNow) / (chosen.Count - i);
        var seen = new HashSet<string>();
        var stats = FuzzRunner.Run(target, setup, stream, runSeed, perTarget ?? long.MaxValue, deadline, parse.GetValue(first),
            onInput: (index, input) => watchdog.Watch(target.Name, index, input),
            onFinding: f =>
            {
                if (!seen.Add(f.Signature)) return;
                string name = $"{target.Name}-{seen.Count}";
                File.WriteAllBytes(Path.Combine(findings, name + ".bin"), f.Input);
                File.WriteAllText(Path.Combine(findings, name + ".txt"), $"--seed {runSeed} --target {target.Name} --case \"{f.Case}\"\n{f}\n");
                Console.WriteLine($"  finding {name}: {f.Problem.Split('\n')[0]}");
            });
        watchdog.Idle();
        totalFindings += stats.Findings.Count;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{target.Name,-24} {stats.Tried,9} {stats.Accepted,9} {stats.Refused,9} {stats.Findings.Count,8} {seen.Count,8} " +
            $"{stats.MaxAllocatedBytes / 1048576.0,8:F1} {stats.Tried / Math.Max(1e-9, stats.Elapsed.TotalSeconds),9:F0}"));
    }
    Console.WriteLine(totalFindings == 0 ? "no findings." : $"{totalFindings} inputs broke the contract; see {findings}.");
    return totalFindings == 0 ? 0 : 1;
});
return root.Parse(args).Invoke();

/// <summary>Reports an input that is still being parsed after the time limit, then stops the process (a hung parse cannot be aborted).</summary>
sealed class Watchdog
{
    readonly TimeSpan _limit;
    readonly string _directory;
    readonly object _gate = new();
    string? _target;
    long _index;
    DateTime _since;

    public Watchdog(TimeSpan limit, string directory)
    {
        _limit = limit;
        _directory = directory;
        new Thread(Loop) { IsBackground = true, Name = "fuzz watchdog" }.Start();
    }

    public void Watch(string target, long index, byte[] input)
    {
        // Written before the parse: after a crash (a stack overflow cannot be caught) the input is on disk.
        File.WriteAllBytes(Path.Combine(_directory, "last-input.bin"), input);
        File.WriteAllText(Path.Combine(_directory, "last-input.txt"), $"{target} input {index}\n");
        lock (_gate) (_target, _index, _since) = (target, index, DateTime.UtcNow);
    }

    public void Idle()
    {
        lock (_gate) _target = null;
    }

    void Loop()
    {
        while (true)
        {
            Thread.Sleep(1000);
            lock (_gate)
            {
                if (_target is null || DateTime.UtcNow - _since < _limit) continue;
                Console.WriteLine($"HANG: {_target} input {_index} is still being parsed after {_limit.TotalSeconds:F0} s; its bytes are in {Path.Combine(_directory, "last-input.bin")}.");
                Console.Out.Flush();
                Environment.Exit(2);
            }
        }
    }
}
