using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GspoSharp.Reliability;

/// <summary>Options of <c>crash</c>.</summary>
internal sealed record CrashOptions(int Kills, int Seed, int Steps, int SaveSteps, IReadOnlyList<string> Configs, int KillsPerTrial, string Out);

/// <summary>One SIGKILL and what followed.</summary>
internal sealed record Kill(int Trial, string Config, string How, int? NewestCheckpoint, bool ResumedFromNewest);

/// <summary>
/// <c>crash</c>: kills <c>gspo train</c> with SIGKILL again and again — at chosen writes
/// (GSPO_TEST_CRASH_AT: checkpoint staging and rename, old-checkpoint removal, metrics appends,
/// config, summary, report and model files) and at random moments — and resumes it each time
/// with <c>gspo train --resume</c>. After every kill every visible file must be complete; every
/// resume must start from the newest complete checkpoint; every run must end with weights and
/// metrics identical to an uninterrupted run's, bit for bit, and leave no temporaries behind.
/// </summary>
internal static partial class CrashCommand
{
    const string Config = """
        task: arithmetic
        init_size: tiny
        sft_steps: 2
        sft_batch_size: 4
        prompts_per_step: 4
        num_generations: 4
        steps_per_generation: 2
        max_completion_length: 32
        learning_rate: 1.0e-4
        eval_prompts: 4
        eval_num_samples: 1
        eval_steps: 5
        save_total_limit: 2
        logging_steps: 1
        """;

    /// <summary>The configurations a campaign alternates between.</summary>
    static readonly IReadOnlyDictionary<string, string> Archs = new Dictionary<string, string>
    {
        ["dense"] = "init_arch: qwen3",
        ["moe-replay"] = "init_arch: qwen3_moe\nrouting_replay: true",
    };

    sealed record Reference(string Config, string ConfigPath, byte[] Weights, List<JsonObject?> Metrics, double? AccuracyAfter,
        TimeSpan Duration, Dictionary<string, int> FreshCensus, Dictionary<string, int> ResumeCensus);

    public static int Run(CrashOptions options)
    {
        string outDir = Path.GetFullPath(options.Out);
        if (Directory.Exists(outDir)) Directory.Delete(outDir, recursive: true);
        Directory.CreateDirectory(outDir);
        var clock = Stopwatch.StartNew();
        var references = options.Configs.ToDictionary(c => c, c => MakeReference(c, options, outDir));
        foreach (var r in references.Values)
            Console.WriteLine($"reference {r.Config}: {r.Duration.TotalSeconds:F1} s; writes of a fresh run: " +
                              string.Join(" ", r.FreshCensus.Select(c => $"{c.Key}={c.Value}")));

        var random = new Random(options.Seed);
        var kills = new List<Kill>();
        var violations = new List<string>();
        int trials = 0, identical = 0;
        while (kills.Count < options.Kills)
        {
            int trial = ++trials;
            var reference = references[options.Configs[(trial - 1) % options.Configs.Count]];
            var (trialKills, trialViolations, same) = Trial(trial, reference, options, outDir, random);
            kills.AddRange(trialKills);
            violations.AddRange(trialViolations.Select(v => $"trial {trial} ({reference.Config}): {v}"));
            if (same) identical++;
            Console.WriteLine($"trial {trial} ({reference.Config}): {trialKills.Count} kill(s): {string.Join("; ", trialKills.Select(k => k.How))}; " +
                              $"{(same ? "final weights and metrics identical" : "DIFFERENT")}{(trialViolations.Count > 0 ? $"; {trialViolations.Count} violation(s)" : "")}");
        }

        Console.WriteLine();
        Console.WriteLine("| where the SIGKILL landed | kills | resumed from the newest complete checkpoint |");
        Console.WriteLine("|---|---|---|");
        foreach (var group in kills.GroupBy(k => Kind(k.How)).OrderBy(g => g.Key, StringComparer.Ordinal))
            Console.WriteLine($"| {group.Key} | {group.Count()} | {group.Count(k => k.ResumedFromNewest)} |");
        Console.WriteLine($"kills: {kills.Count} in {trials} runs; runs ending identical to the uninterrupted run (final weights bit for bit, " +
                          $"metrics): {identical}/{trials}; violations: {violations.Count}; wall time {clock.Elapsed:h\\:mm\\:ss}");
        foreach (var v in violations) Console.WriteLine($"violation: {v}");
        File.WriteAllText(Path.Combine(outDir, "crash.json"), JsonSerializer.Serialize(new { options, trials, identical, kills, violations },
            new JsonSerializerOptions { WriteIndented = true }));
        bool ok = violations.Count == 0 && identical == trials;
        Console.WriteLine(ok ? "crash: passed" : "crash: FAILED");
        return ok ? 0 : 1;
    }

    /// <summary>"checkpoint-rename:2" → "checkpoint-rename"; "file-write@summary.json:1" → "file-write@summary.json"; "random …" → "random moment".</summary>
    static string Kind(string how) => how.StartsWith("random", StringComparison.Ordinal) ? "random moment" : how[..how.LastIndexOf(':')];

    static Reference MakeReference(string config, CrashOptions options, string outDir)
    {
        string configPath = Path.Combine(outDir, config + ".yaml");
        File.WriteAllText(configPath, Config + "\n" + Archs[config] + $"\nmax_steps: {options.Steps}\nsave_steps: {options.SaveSteps}\n");
        string run = Path.Combine(outDir, "reference-" + config);
        var census = new Dictionary<string, string> { ["GSPO_TEST_CRASH_AT"] = "census" };
        var clock = Stopwatch.StartNew();
        var outcome = Invoke(outDir, census, ["train", "--config", configPath, "--run-dir", run]);
        var duration = clock.Elapsed;
        if (outcome.ExitCode != 0 || !RunFiles.Finished(run, options.Steps))
            throw new InvalidOperationException($"the uninterrupted {config} run failed (exit code {outcome.ExitCode}): {outcome.StderrTail()}");

        // The writes of a resumed invocation: stop a second run before its second checkpoint, then count the resume's.
        string resumed = Path.Combine(outDir, "census-resume-" + config);
        Invoke(outDir, new Dictionary<string, string> { ["GSPO_TEST_CRASH_AT"] = "checkpoint-rename:2" }, ["train", "--config", configPath, "--run-dir", resumed]);
        var resumeOutcome = Invoke(outDir, census, ["train", "--resume", resumed]);
        if (resumeOutcome.ExitCode != 0) throw new InvalidOperationException($"the census resume of {config} failed: {resumeOutcome.StderrTail()}");
        Directory.Delete(resumed, recursive: true);
        return new Reference(config, configPath, File.ReadAllBytes(Path.Combine(run, "final-model", "model.safetensors")), RunFiles.Metrics(run),
            RunFiles.Summary(run)!["accuracy_after"]?.GetValue<double>(), duration, Census(outcome.Stderr), Census(resumeOutcome.Stderr));
    }

    /// <summary>The counts a census printed. Checkpoint points are counted per kind, not per checkpoint name,
    /// so that "the Nth checkpoint from here" is a target in a resumed invocation too.</summary>
    static Dictionary<string, int> Census(string stderr)
    {
        var line = stderr.Split('\n').LastOrDefault(l => l.StartsWith("crash-points:", StringComparison.Ordinal))
                   ?? throw new InvalidOperationException("the census printed no crash-points line.");
        return line["crash-points:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('='))
            .Select(p => (Key: p[0].StartsWith("checkpoint-", StringComparison.Ordinal) ? p[0].Split('@')[0] : p[0], Count: int.Parse(p[1], CultureInfo.InvariantCulture)))
            .GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Sum(p => p.Count));
    }

    static GspoChild.Outcome Invoke(string workingDirectory, Dictionary<string, string> environment, string[] args)
    {
        using var child = GspoChild.Start(workingDirectory, environment, args);
        return child.Wait(TimeSpan.FromMinutes(30));
    }

    /// <summary>One run killed up to KillsPerTrial times, resumed after each kill, then compared with the reference.</summary>
    static (List<Kill> Kills, List<string> Violations, bool Identical) Trial(int trial, Reference reference, CrashOptions options, string outDir, Random random)
    {
        string run = Path.Combine(outDir, $"trial-{trial:D3}");
        var kills = new List<Kill>();
        var violations = new List<string>();
        for (int invocation = 0; invocation < options.KillsPerTrial + 3; invocation++)
        {
            bool resume = File.Exists(Path.Combine(run, "config.yaml"));
            int? newest = NewestCheckpoint(run);
            int remaining = options.Steps - (newest ?? 0);
            // Two kills of three at a chosen write, one at a random moment; the last invocation runs to the end.
            string? plan = invocation >= options.KillsPerTrial ? null
                : (trial + invocation) % 3 == 2 ? "random"
                : ChooseCrashPoint(resume ? reference.ResumeCensus : reference.FreshCensus, resume ? (double)remaining / (options.Steps - options.SaveSteps) : 1, random);
            var environment = plan is null or "random" ? new Dictionary<string, string>() : new Dictionary<string, string> { ["GSPO_TEST_CRASH_AT"] = plan };
            string[] args = resume ? ["train", "--resume", run] : ["train", "--config", reference.ConfigPath, "--run-dir", run];
            GspoChild.Outcome outcome;
            string how = plan ?? "none";
            using (var child = GspoChild.Start(outDir, environment, args))
            {
                if (plan == "random")
                {
                    double delay = random.NextDouble() * reference.Duration.TotalSeconds;
                    Thread.Sleep(TimeSpan.FromSeconds(delay));
                    how = string.Create(CultureInfo.InvariantCulture, $"random moment ({delay:F2} s)");
                    child.Kill();
                }
                outcome = child.Wait(TimeSpan.FromTicks(reference.Duration.Ticks * 20));
            }
            if (outcome.TimedOut)
            {
                violations.Add($"invocation {invocation + 1} hung ({how}): {outcome.StderrTail()}");
                break;
            }
            bool resumedFromNewest = true;
            if (resume && ResumeLine().Match(outcome.Stdout) is { Success: true } line)
            {
                string expected = newest is { } n ? $"checkpoint-{n:D6}" : "no complete checkpoint";
                resumedFromNewest = line.Value.Contains(expected, StringComparison.Ordinal);
                if (!resumedFromNewest) violations.Add($"invocation {invocation + 1}: expected to resume from {expected}, printed: {line.Value}");
            }
            else if (resume && !outcome.Sigkilled)
                violations.Add($"invocation {invocation + 1}: the resume printed no checkpoint line: {outcome.StderrTail()}");
            if (outcome.Sigkilled)
            {
                kills.Add(new Kill(trial, reference.Config, how, newest, resumedFromNewest));
                violations.AddRange(RunFiles.Violations(run).Select(v => $"after the kill at {how}: {v}"));
                // Killed after it wrote summary.json (a random moment at the very end): the run is
                // finished, and a resume would rightly refuse it.
                if (RunFiles.Finished(run, options.Steps)) break;
                continue;
            }
            if (outcome.ExitCode != 0)
            {
                violations.Add($"invocation {invocation + 1} ({(resume ? "resume" : "run")}, plan {how}) failed with exit code {outcome.ExitCode}: {outcome.StderrTail()}");
                break;
            }
            if (RunFiles.Finished(run, options.Steps)) break;
            violations.Add($"invocation {invocation + 1} exited 0 without finishing the run");
            break;
        }
        bool identical = Compare(run, reference, options, violations);
        if (violations.Count == 0) Directory.Delete(run, recursive: true);   // failed trials stay for inspection
        return (kills, violations, identical);
    }

    /// <summary>Uniform over the kinds of point, then over the files of that kind, then over its hits — scaled to the steps left.</summary>
    static string ChooseCrashPoint(Dictionary<string, int> census, double fractionLeft, Random random)
    {
        var kinds = census.Keys.Select(k => k.Split('@')[0]).Distinct().Order(StringComparer.Ordinal).ToList();
        string kind = kinds[random.Next(kinds.Count)];
        var keys = census.Keys.Where(k => k.Split('@')[0] == kind).Order(StringComparer.Ordinal).ToList();
        string key = keys[random.Next(keys.Count)];
        int hits = Math.Max(1, (int)Math.Ceiling(census[key] * Math.Clamp(fractionLeft, 0, 1)));
        return $"{key}:{1 + random.Next(hits)}";
    }

    static int? NewestCheckpoint(string run) => Directory.Exists(run) && new Training.Checkpoints(run).Latest is { } latest ? latest.Step : null;

    /// <summary>The finished run against the uninterrupted one: weights byte for byte, every deterministic metric, no temporaries.</summary>
    static bool Compare(string run, Reference reference, CrashOptions options, List<string> violations)
    {
        int before = violations.Count;
        if (!RunFiles.Finished(run, options.Steps))
        {
            violations.Add("the run did not finish");
            return false;
        }
        if (!File.ReadAllBytes(Path.Combine(run, "final-model", "model.safetensors")).AsSpan().SequenceEqual(reference.Weights))
            violations.Add("final-model/model.safetensors differs from the uninterrupted run's");
        var metrics = RunFiles.Metrics(run);
        if (metrics.Count != reference.Metrics.Count) violations.Add($"metrics.jsonl has {metrics.Count} lines, the uninterrupted run {reference.Metrics.Count}");
        for (int i = 0; i < Math.Min(metrics.Count, reference.Metrics.Count); i++)
        {
            var (a, b) = (reference.Metrics[i]!, metrics[i]);
            if (b is null || a.Where(p => RunFiles.Deterministic(p.Key)).Any(p => !JsonNode.DeepEquals(p.Value, b[p.Key])))
            {
                violations.Add($"metrics.jsonl line {i + 1} differs: {b?.ToJsonString() ?? "torn"}");
                break;
            }
        }
        if (RunFiles.Summary(run)!["accuracy_after"]?.GetValue<double>() != reference.AccuracyAfter) violations.Add("accuracy_after differs");
        if (!File.Exists(Path.Combine(run, "report.md"))) violations.Add("report.md missing");
        if (RunFiles.Leftovers(run) is { Count: > 0 } left) violations.Add($"temporaries left behind: {string.Join(", ", left)}");
        violations.AddRange(RunFiles.Violations(run));
        return violations.Count == before;
    }

    [GeneratedRegex(@"^(\[model\] resuming from .*|warning: .*no complete checkpoint.*)$", RegexOptions.Multiline)]
    private static partial Regex ResumeLine();
}
