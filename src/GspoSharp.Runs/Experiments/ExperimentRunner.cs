using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Experiments;

/// <summary>
/// Runs an <see cref="ExperimentMatrix"/> one run after another in an output directory, resumably:
/// a finished run is not redone, an interrupted one continues from its checkpoint, and the warm
/// start of each model is computed once and shared by all of its arms and seeds.
/// </summary>
public static class ExperimentRunner
{
    /// <summary>What the runner reports between runs.</summary>
    public interface IProgress
    {
        /// <summary>A run starts, resumes or is skipped (done).</summary>
        void Run(PlannedRun run, int index, int total, string action);
        /// <summary>The progress sink for the run itself.</summary>
        ITrainingProgress Training { get; }
    }

    /// <summary>Runs every planned run not finished yet (those whose path contains <paramref name="only"/>, when given).</summary>
    public static void Execute(ExperimentMatrix matrix, string outputDirectory, IProgress progress, Func<bool>? stopRequested = null, string? only = null)
    {
        Directory.CreateDirectory(outputDirectory);
        var runs = matrix.Runs.Where(r => only is null || r.RelativeDirectory.Replace('\\', '/').Contains(only, StringComparison.Ordinal)).ToList();
        for (int i = 0; i < runs.Count; i++)
        {
            if (stopRequested?.Invoke() == true) return;
            var run = runs[i];
            string directory = Path.Combine(outputDirectory, run.RelativeDirectory);
            if (IsFinished(directory))
            {
                progress.Run(run, i + 1, runs.Count, "done");
                continue;
            }
            if (new Checkpoints(directory).Latest is not null)
            {
                progress.Run(run, i + 1, runs.Count, "resuming");
                TrainingRun.Resume(directory, progress.Training, stopRequested);
                continue;
            }
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);   // started, never checkpointed
            string? warm = WarmStart(matrix, run.Model, outputDirectory, progress.Training, stopRequested);
            if (warm is null) return;   // stopped during the warm start: nothing of it is kept, a rerun starts it again
            progress.Run(run, i + 1, runs.Count, "starting");
            TrainingRun.Execute(run.Config with { Model = warm, SftSteps = 0 }, directory, progress.Training, stopRequested);
        }
    }

    /// <summary>True when the run directory holds a run that ended: completed, or diverged (stopped on
    /// NaN/∞, which a rerun would repeat deterministically; the report marks it). An interrupted run is not.</summary>
    public static bool IsFinished(string directory)
    {
        string summary = Path.Combine(directory, "summary.json");
        return File.Exists(summary) && JsonNode.Parse(File.ReadAllText(summary))?["stopped"]?.GetValue<string>() is null or "diverged";
    }

    /// <summary>
    /// The warm-started model of <paramref name="model"/>: created from the model's init_* options
    /// and fine-tuned for its sft_steps on its task or dataset with the warm-start seed (the base
    /// seed), once; every arm and seed of the model starts from it. Null when <paramref name="stopRequested"/>
    /// stopped the fine-tuning (Ctrl-C, SIGTERM): its warm-start directory is then not written.
    /// </summary>
    static string? WarmStart(ExperimentMatrix matrix, string model, string outputDirectory, ITrainingProgress progress, Func<bool>? stopRequested)
    {
        string directory = Path.Combine(outputDirectory, "warm-start", model);
        if (File.Exists(Path.Combine(directory, "config.json"))) return directory;
        var config = matrix.Models[model];
        string created = Path.Combine(outputDirectory, "warm-start", $".{model}-initial");
        if (config.Model is null && Directory.Exists(created)) Directory.Delete(created, recursive: true);
        string initial = Training.WarmStart.ModelDirectory(config, created, progress, $"creating the {config.InitSize} {config.InitArch} model of '{model}'");
        var storageDtype = SaveDtypes.Resolve(config.SaveDtype, initial);
        using var policy = LanguageModel.Load(initial, config.ChatTemplate, config.Device);
        if (config.SftSteps > 0)
            Training.WarmStart.Sft(policy, Dataset.Open(config.Task, config.Dataset, TaskSplit.Train, config.Seed, Array.Empty<Rewards.IRewardFunction>()),
                config, progress, $"warm start of '{model}': {config.SftSteps} steps", stopRequested);
        if (stopRequested?.Invoke() == true)
        {
            progress.Stage("stop", $"stopped during the warm start of '{model}'; running the experiment again starts it again");
            return null;
        }
        ModelDirectory.Save(policy.Model, directory, companionsFrom: initial, storageDtype: storageDtype, overwrite: true);
        if (config.Model is null) Directory.Delete(initial, recursive: true);
        return directory;
    }
}
