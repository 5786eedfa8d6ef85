using System.CommandLine;
using GspoSharp.Experiments;
using GspoSharp.Reports;
using GspoSharp.Training;

namespace GspoSharp.Cli.Commands;

/// <summary><c>gspo experiment --matrix FILE</c>: a grid of runs, one after another, resumable, then an aggregate report.</summary>
internal static class ExperimentCommand
{
    public static Command Create()
    {
        var matrix = new Option<FileInfo>("--matrix") { Description = "Experiment matrix (docs/experiments.md), e.g. experiments/study.yaml.", Required = true };
        var output = new Option<string?>("--out", "-o") { Description = "Output directory. Default: runs/experiments/<name>." };
        var only = new Option<string?>("--only") { Description = "Run only the runs whose path contains this text, e.g. moe/grpo or seed-1." };
        var reportOnly = new Option<bool>("--report-only") { Description = "Do not train: write the report of the runs finished so far." };
        var command = new Command("experiment", "Run a grid of training runs (objectives × models × seeds), resumably, and write results.md with plots.")
        {
            matrix, output, only, reportOnly,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var plan = ExperimentMatrix.Load(parse.GetValue(matrix)!.FullName);
            string directory = parse.GetValue(output) ?? Path.Combine("runs", "experiments", plan.Name);
            if (!parse.GetValue(reportOnly))
                TrainCommand.WithStopSignals(stop =>
                {
                    TrainCommand.Run(progress =>
                    {
                        ExperimentRunner.Execute(plan, directory, new Progress(progress), stop, parse.GetValue(only));
                        return 0;
                    }, Math.Max(1, plan.Base.MaxSteps / 10));
                    return new RunSummary(null, null, 0, 0, directory, null, stop() ? "interrupted" : null, null);
                });
            var arms = ExperimentReport.Collect(plan, directory);
            if (arms.Count == 0) throw new InvalidDataException($"{directory}: no finished run to report on yet.");
            Console.WriteLine(ExperimentReport.Write(plan, arms, directory));
            return 0;
        }));
        return command;
    }

    sealed class Progress(ITrainingProgress training) : ExperimentRunner.IProgress
    {
        public ITrainingProgress Training => training;

        public void Run(PlannedRun run, int index, int total, string action) =>
            training.Stage("experiment", $"[{index}/{total}] {run.Model} / {run.Arm} / seed {run.Seed}: {action}");
    }
}
