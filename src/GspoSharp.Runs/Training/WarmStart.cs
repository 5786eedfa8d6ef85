using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Tasks;

namespace GspoSharp.Training;

/// <summary>
/// Where RL starts from: the config's model directory or a model created from its init_* keys,
/// then the supervised warm start of sft_steps on the training data. Shared by a run and by the
/// per-model warm start of an experiment.
/// </summary>
internal static class WarmStart
{
    /// <summary>init_arch and init_size as model type and size (Validate has checked the names).</summary>
    public static (ModelType Type, ModelSize Size) InitModel(TrainConfig config) =>
        (ModelConfig.ParseType(config.InitArch)!.Value, TinyConfigs.ParseSize(config.InitSize)!.Value);

    /// <summary>The directory of <c>model</c>, or, when it is unset, <paramref name="created"/>, where a model is
    /// created from init_arch / init_size / init_seed (reported as <paramref name="description"/>).</summary>
    public static string ModelDirectory(TrainConfig config, string created, ITrainingProgress progress, string description)
    {
        if (config.Model is { } model) return model;
        progress.Stage("model", description);
        var (type, size) = InitModel(config);
        TinyModels.Create(created, type, size, config.InitSeed, shape: config.InitShape);
        return created;
    }

    /// <summary>The supervised warm start of the sft_* keys (reported as <paramref name="description"/>); trains
    /// <paramref name="policy"/> in place, stopping after a step when <paramref name="stopRequested"/> is true.</summary>
    public static void Sft(LanguageModel policy, Dataset train, TrainConfig config, ITrainingProgress progress, string description, Func<bool>? stopRequested = null)
    {
        progress.Stage("sft", description);
        SupervisedFineTuning.Run(policy, train, new SftOptions
        {
            Steps = config.SftSteps, BatchSize = config.SftBatchSize, LearningRate = config.SftLearningRate, Seed = config.Seed,
            Threads = config.UpdateThreads,
        }, (step, loss, _) => progress.SftStep(step, config.SftSteps, loss), stopRequested);
    }
}
