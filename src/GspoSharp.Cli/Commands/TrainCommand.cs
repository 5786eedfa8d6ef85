using System.CommandLine;
using System.Globalization;
using System.Reflection;
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
        var command = new Command("train", "Train a policy with GSPO (or GSPO-token, GRPO) on verifiable rewards.") { config, runDir, set, printConfig };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var resolved = Resolve(parse.GetValue(config)?.FullName, parse.GetValue(set) ?? Array.Empty<string>());
            if (parse.GetValue(printConfig))
            {
                Console.Write(ConfigFile.ToYaml(resolved));
                return 0;
            }
            resolved.Validate();
            string directory = parse.GetValue(runDir) ?? Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            RunSummary? summary = null;
            Run(progress => summary = TrainingRun.Execute(resolved, directory, progress), Math.Max(1, resolved.MaxSteps / 30));
            PrintSummary(summary!);
            return 0;
        }));
        return command;
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

    /// <summary>Runs <paramref name="work"/> with a live display in a terminal, plain lines otherwise.</summary>
    internal static void Run(Action<ITrainingProgress> work, int lineEvery)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive || Console.IsOutputRedirected)
        {
            work(new TrainingProgressDisplay(null, lineEvery));
            return;
        }
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context => work(new TrainingProgressDisplay(context, lineEvery)));
    }

    static void PrintSummary(RunSummary s)
    {
        var table = new Table().AddColumns("", "value");
        table.AddRow("held-out accuracy before", s.AccuracyBefore?.ToString("F3", CultureInfo.InvariantCulture) ?? "—");
        table.AddRow("held-out accuracy after", s.AccuracyAfter?.ToString("F3", CultureInfo.InvariantCulture) ?? "—");
        table.AddRow("RL steps", s.Steps.ToString(CultureInfo.InvariantCulture));
        table.AddRow("wall time", TimeSpan.FromSeconds(s.WallSeconds).ToString(@"m\:ss", CultureInfo.InvariantCulture));
        table.AddRow("run directory", Markup.Escape(s.RunDirectory));
        table.AddRow("trained model", Markup.Escape(s.FinalModel));
        AnsiConsole.Write(table);
    }
}
