using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GspoSharp.Reliability;

/// <summary>Options of <c>soak</c>.</summary>
internal sealed record SoakOptions(IReadOnlyList<string> Configs, int Steps, int SaveSteps, int Parallel, string Gen0Size,
    int GcIntervalMs, int Warmup, int MaxCrashes, string Out, int Threads = 1);

/// <summary>What one configuration's soak measured.</summary>
internal sealed record SoakResult(string Config, int Steps, int Crashes, IReadOnlyList<string> CrashNotes, double RssSlopeMbPer100Steps,
    double RssAfterWarmupMb, double RssLastMb, double WallSeconds, double MeanStepSeconds, long ForcedCollections, long AllocationCollections,
    IReadOnlyList<string> Violations);

/// <summary>
/// <c>soak</c>: trains each configuration for many steps under GC stress — a tiny gen0 budget
/// (DOTNET_GCgen0size) and a thread forcing compacting collections (GSPO_TEST_GC_STRESS) — with
/// checkpoints every save_steps. A crash is counted and the run resumed from its checkpoint. Reports
/// steps, crashes, the resident-memory slope after warm-up and wall time.
/// </summary>
internal static partial class SoakCommand
{
    public static int Run(SoakOptions options)
    {
        Directory.CreateDirectory(options.Out);
        Console.WriteLine($"soak: {string.Join(", ", options.Configs)}; {options.Steps} steps each, checkpoint every {options.SaveSteps}; " +
                          $"DOTNET_GCgen0size={options.Gen0Size}, forced compacting collection every {options.GcIntervalMs} ms; " +
                          $"{options.Parallel} at a time; {options.Threads} LibTorch thread(s) per trainer; runs in {Path.GetFullPath(options.Out)}");
        var clock = Stopwatch.StartNew();
        var results = new SoakResult[options.Configs.Count];
        System.Threading.Tasks.Parallel.For(0, options.Configs.Count, new ParallelOptions { MaxDegreeOfParallelism = options.Parallel },
            i => results[i] = Soak(options.Configs[i], options));
        Console.WriteLine();
        Console.WriteLine("| config | steps | crashes | RSS slope after warm-up (MB / 100 steps) | RSS at warm-up → end (MB) | wall time | mean step | forced GCs | allocation-triggered GCs / step |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var r in results)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Config} | {r.Steps} | {r.Crashes} | {r.RssSlopeMbPer100Steps:+0.00;-0.00} | {r.RssAfterWarmupMb:F0} → {r.RssLastMb:F0} | " +
                $"{TimeSpan.FromSeconds(r.WallSeconds):h\\:mm\\:ss} | {r.MeanStepSeconds:F3} s | {r.ForcedCollections} | {(double)r.AllocationCollections / Math.Max(1, r.Steps):F1} |"));
        foreach (var r in results)
        {
            foreach (var note in r.CrashNotes) Console.WriteLine($"{r.Config}: crash: {note}");
            foreach (var v in r.Violations) Console.WriteLine($"{r.Config}: violation: {v}");
        }
        Console.WriteLine($"total wall time {clock.Elapsed:h\\:mm\\:ss}");
        File.WriteAllText(Path.Combine(options.Out, "soak.json"), JsonSerializer.Serialize(new { options, results, totalSeconds = clock.Elapsed.TotalSeconds },
            new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        bool ok = results.All(r => r.Crashes == 0 && r.Steps == options.Steps && r.Violations.Count == 0);
        Console.WriteLine(ok ? "soak: passed" : "soak: FAILED");
        return ok ? 0 : 1;
    }

    static SoakResult Soak(string name, SoakOptions options)
    {
        string run = Path.Combine(Path.GetFullPath(options.Out), name);
        if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
        string configPath = Path.Combine(Path.GetFullPath(options.Out), name + ".yaml");
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_GCgen0size"] = options.Gen0Size,
            ["GSPO_TEST_GC_STRESS"] = options.GcIntervalMs.ToString(CultureInfo.InvariantCulture),
        };
        var trainer = new Dictionary<string, string>(environment)   // the servers keep one thread
        {
            ["OMP_NUM_THREADS"] = options.Threads.ToString(CultureInfo.InvariantCulture),
        };
        var clock = Stopwatch.StartNew();
        int crashes = 0;
        long forced = 0, allocation = 0;
        var notes = new List<string>();
        var violations = new List<string>();
        using var servers = SoakServers.Start(name, SoakConfigs.Servers(name), environment, options.Out);
        File.WriteAllText(configPath, SoakConfigs.Yaml(name, options.Steps, options.SaveSteps, servers.ConfigKeys));
        for (bool first = true; ; first = false)
        {
            string[] args = first ? ["train", "--config", configPath, "--run-dir", run] : ["train", "--resume", run];
            using var child = GspoChild.Start(options.Out, trainer, args);
            var outcome = child.Wait(TimeSpan.FromHours(6));
            if (GcLine().Match(outcome.Stderr) is { Success: true } m)
            {
                forced += long.Parse(m.Groups["forced"].Value, CultureInfo.InvariantCulture);
                // Forced collections are gen2 ones; every gen0 count beyond gen2's was triggered by allocation.
                allocation += long.Parse(m.Groups["gen0"].Value, CultureInfo.InvariantCulture) - long.Parse(m.Groups["gen2"].Value, CultureInfo.InvariantCulture);
            }
            Console.WriteLine($"{name}: {(first ? "run" : "resume")} ended with exit code {outcome.ExitCode} after {outcome.Elapsed:h\\:mm\\:ss}");
            if (outcome.ExitCode == 0 && RunFiles.Finished(run, options.Steps)) break;
            crashes++;
            string signal = outcome.ExitCode switch { 134 => " (SIGABRT)", 137 => " (SIGKILL)", 139 => " (SIGSEGV: see dmesg for the library and offset)", _ => "" };
            notes.Add($"exit code {outcome.ExitCode}{signal}{(outcome.TimedOut ? " (timed out)" : "")} at step {LastStep(run)}: {Cause(outcome.Stderr)}");
            if (crashes > options.MaxCrashes) break;
        }
        clock.Stop();
        violations.AddRange(RunFiles.Violations(run));
        violations.AddRange(servers.Stop());
        violations.AddRange(RunFiles.Metrics(run).OfType<System.Text.Json.Nodes.JsonObject>()
            .Where(m => m["rollout/server_failures"]?.GetValue<double>() > 0)
            .Select(m => $"step {m["step"]}: rollout/server_failures {m["rollout/server_failures"]}"));

        var rss = RunFiles.Metrics(run).OfType<System.Text.Json.Nodes.JsonObject>()
            .Where(m => m.ContainsKey("memory/rss_mb"))
            .Select(m => (Step: m["step"]!.GetValue<double>(), Mb: m["memory/rss_mb"]!.GetValue<double>(),
                Seconds: m["time/step"]?.GetValue<double>() ?? double.NaN))
            .ToList();
        var settled = rss.Where(r => r.Step > options.Warmup).ToList();
        double slope = settled.Count >= 2 ? LeastSquaresSlope(settled.Select(r => (r.Step, r.Mb)).ToList()) * 100 : double.NaN;
        return new SoakResult(name, LastStep(run), crashes, notes, slope, settled.FirstOrDefault().Mb, settled.LastOrDefault().Mb,
            clock.Elapsed.TotalSeconds, rss.Count > 0 ? rss.Average(r => r.Seconds) : double.NaN, forced, allocation, violations);
    }

    /// <summary>The error line and the first managed frames of a crash's standard error (LibTorch's native frames left out).</summary>
    static string Cause(string stderr)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var error = lines.FirstOrDefault(l => l.Contains("exception", StringComparison.OrdinalIgnoreCase) || l.StartsWith("error:", StringComparison.Ordinal))
                    ?? lines.LastOrDefault() ?? "(nothing on standard error)";
        return string.Join(" | ", new[] { error }.Concat(lines.Where(l => l.StartsWith("at ", StringComparison.Ordinal)).Take(4)));
    }

    static int LastStep(string run) =>
        (int)(RunFiles.Metrics(run).OfType<System.Text.Json.Nodes.JsonObject>().Select(m => m["step"]?.GetValue<double>() ?? 0).DefaultIfEmpty(0).Max());

    /// <summary>Ordinary least-squares slope of y on x.</summary>
    internal static double LeastSquaresSlope(IReadOnlyList<(double X, double Y)> points)
    {
        double mx = points.Average(p => p.X), my = points.Average(p => p.Y);
        double sxy = points.Sum(p => (p.X - mx) * (p.Y - my)), sxx = points.Sum(p => (p.X - mx) * (p.X - mx));
        return sxy / sxx;
    }

    [GeneratedRegex(@"gc-stress: forced=(?<forced>\d+) gen0=(?<gen0>\d+) gen1=(?<gen1>\d+) gen2=(?<gen2>\d+)")]
    private static partial Regex GcLine();
}
