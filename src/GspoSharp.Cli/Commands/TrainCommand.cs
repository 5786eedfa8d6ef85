using System.CommandLine;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using GspoSharp.Training;
using Spectre.Console;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo train</c>: the main job. With no arguments, the built-in demo (recipes/demo.yaml): a tiny
/// model learns a verifiable task with GSPO in minutes. With <c>--config</c>, any run.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config", "-c") { Description = "Run config (YAML or JSON, keys as in docs/config.md). Default: the built-in demo." };
        var runDir = new Option<string?>("--run-dir") { Description = "Where the run writes everything. Default: runs/<timestamp>." };
        var set = new Option<string[]>("--set") { Description = "Override a key: --set learning_rate=1e-5 (repeatable).", AllowMultipleArgumentsPerToken = true };
        var printConfig = new Option<bool>("--print-config") { Description = "Print the resolved config (every key with its value) and exit." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this directory from its newest checkpoint (--set max_steps=N to extend it)." };
        var command = new Command("train", "Train a policy with GSPO (or GSPO-token, GRPO) on verifiable rewards. Ctrl-C or SIGTERM: finish the step, checkpoint, exit.")
        {
            config, runDir, set, printConfig, resume,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var overrides = parse.GetValue(set) ?? Array.Empty<string>();
            if (parse.GetValue(resume) is { } resumeDirectory)
            {
                if (parse.GetValue(config) is not null || parse.GetValue(runDir) is not null)
                    throw new ArgumentException("--resume takes the run's own config and directory; drop --config and --run-dir.");
                return Finish(WithStopSignals(stop => Run(progress => TrainingRun.Resume(resumeDirectory, progress, stop, overrides), 10)));
            }
            var resolved = Resolve(parse.GetValue(config)?.FullName, overrides);
            if (parse.GetValue(printConfig))
            {
                Console.Write(ConfigFile.ToYaml(resolved));
                return 0;
            }
            resolved.Validate();
            string directory = parse.GetValue(runDir) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            return Finish(WithStopSignals(stop => Run(progress => TrainingRun.Execute(resolved, directory, progress, stop), Math.Max(1, resolved.MaxSteps / 30))));
        }));
        return command;
    }

    /// <summary>
    /// Runs <paramref name="work"/> with Ctrl-C and SIGTERM turned into a stop request: the run
    /// finishes its step, checkpoints and returns. A second Ctrl-C ends the process at once; the
    /// checkpoints already written stay intact (they are renamed into place only when complete).
    /// </summary>
    internal static RunSummary WithStopSignals(Func<Func<bool>, RunSummary> work)
    {
        int requests = 0;
        void Request(string signal)
        {
            if (Interlocked.Increment(ref requests) == 1)
                Notice($"{signal}: stopping after this step and writing a checkpoint (Ctrl-C again to quit at once).");
        }
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            if (Volatile.Read(ref requests) == 0) e.Cancel = true;   // the second Ctrl-C is not cancelled: the process ends
            else if (liveDisplay) AnsiConsole.Cursor.Show();   // the live display hid it and will not end to show it again
            Request("Ctrl-C");
        };
        Console.CancelKeyPress += onCancel;
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            Request("SIGTERM");
        });
        // TEST ONLY (TestHooks): once a stop is asked for, wait while this file exists.
        string? hold = Environment.GetEnvironmentVariable(TestHooks.StopHoldVariable) is { Length: > 0 } file ? file : null;
        bool Stopping()
        {
            if (Volatile.Read(ref requests) == 0) return false;
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); hold is not null && File.Exists(hold) && clock.Elapsed < TimeSpan.FromMinutes(2);)
                Thread.Sleep(20);
            return true;
        }
        try
        {
            return work(Stopping);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }

    static int Finish(RunSummary summary)
    {
        PrintSummary(summary);
        if (summary.Stopped == "diverged")
        {
            Console.Error.WriteLine("error: the run diverged (NaN or infinite loss or gradients); see metrics.jsonl and the last checkpoint.");
            return CommandErrors.BadInput;
        }
        if (summary.Stopped == "rollout_failed")
        {
            Console.Error.WriteLine("error: the rollout servers could not sample the next step (see the message above); the last checkpoint is intact, resume with gspo train --resume.");
            return CommandErrors.BadInput;
        }
        return 0;
    }

    /// <summary>The demo recipe, or defaults + the config file; then the --set overrides.</summary>
    internal static TrainConfig Resolve(string? configPath, IEnumerable<string> overrides)
    {
        var baseConfig = configPath is null ? ConfigFile.Apply(new TrainConfig(), DemoRecipe(), "built-in demo recipe") : new TrainConfig();
        return ConfigFile.Load(baseConfig, configPath, overrides);
    }

    internal static string DemoRecipe()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("demo.yaml")!;
        return new StreamReader(stream).ReadToEnd();
    }

    static volatile bool liveDisplay;

    /// <summary>Runs <paramref name="work"/> with a live display in a terminal, plain lines otherwise.</summary>
    internal static T Run<T>(Func<ITrainingProgress, T> work, int lineEvery)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
            return work(new TrainingProgressDisplay(null, lineEvery));
        liveDisplay = true;
        try
        {
            return AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                    new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(context => work(new TrainingProgressDisplay(context, lineEvery)));
        }
        finally
        {
            liveDisplay = false;
        }
    }

    /// <summary>
    /// A message from outside the run (a signal handler). During the live display it goes through
    /// Spectre.Console, above the bars: written straight to the terminal it would land beside the
    /// display, which redraws itself one line off from then on. The display runs only when
    /// standard output and error are both the terminal, so it reaches the same screen.
    /// </summary>
    static void Notice(string text)
    {
        if (liveDisplay) AnsiConsole.MarkupLine(Markup.Escape(text));
        else Console.Error.WriteLine(text);
    }

    static void PrintSummary(RunSummary s)
    {
        var table = new Table().AddColumns("", "value");
        table.AddRow("held-out accuracy before", s.AccuracyBefore?.ToString("F3", CultureInfo.InvariantCulture) ?? "—");
        table.AddRow("held-out accuracy after", s.AccuracyAfter?.ToString("F3", CultureInfo.InvariantCulture) ?? "—");
        table.AddRow("RL steps", s.Steps.ToString(CultureInfo.InvariantCulture));
        table.AddRow("wall time", TimeSpan.FromSeconds(s.WallSeconds).ToString(@"m\:ss", CultureInfo.InvariantCulture));
        table.AddRow("run directory", Markup.Escape(s.RunDirectory));
        if (s.Stopped is not null) table.AddRow("stopped", s.Stopped);
        table.AddRow("trained model", Markup.Escape(s.FinalModel ?? "—"));
        table.AddRow("last checkpoint", Markup.Escape(s.LastCheckpoint ?? "—"));
        if (File.Exists(Path.Combine(s.RunDirectory, "report.md"))) table.AddRow("report", Markup.Escape(Path.Combine(s.RunDirectory, "report.md")));
        AnsiConsole.Write(table);
    }
}
