using System.CommandLine;
using GspoSharp.Reports;

namespace GspoSharp.Cli.Commands;

/// <summary><c>gspo report RUN_DIR [RUN_DIR …]</c>: Markdown + PNG report of one run, or several overlaid.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("runs") { Description = "Run directories (several: curves overlaid).", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string?>("--out", "-o") { Description = "Directory for report.md and the plots. Default: the run directory (one run) or ./report." };
        var command = new Command("report", "Write report.md with PNG plots (reward, accuracy, clipping, length, KL, MoE volatility) for runs.") { runs, output };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var directories = parse.GetValue(runs)!;
            var data = directories.Select(RunData.Load).ToList();
            string target = parse.GetValue(output) ?? (directories.Length == 1 ? directories[0] : "report");
            Console.WriteLine(RunReport.Write(data, target));
            return 0;
        }));
        return command;
    }
}
