using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rewards;
using GspoSharp.Tasks;

namespace GspoSharp.Training;

/// <summary>What a run reports as it goes; the CLI draws it (live in a terminal, plain lines otherwise).</summary>
public interface ITrainingProgress
{
    /// <summary>A stage begins: "model", "sft", "eval", "train", "save".</summary>
    void Stage(string stage, string description);
    /// <summary>An SFT step finished.</summary>
    void SftStep(int step, int total, double loss);
    /// <summary>An RL step finished.</summary>
    void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed);
    /// <summary>A held-out evaluation finished.</summary>
    void Evaluated(string label, EvaluationResult result);
    /// <summary>Something the user should know (a questionable option, a reward that threw).</summary>
    void Warning(string message);
}

/// <summary>The result of a run, as written to summary.json.</summary>
public sealed record RunSummary(double? AccuracyBefore, double? AccuracyAfter, int Steps, double WallSeconds, string RunDirectory,
    string FinalModel, IReadOnlyDictionary<string, double> LastMetrics);

/// <summary>
/// A whole <c>gspo train</c> run in its run directory: resolve and record the config, create or
/// load the model, optionally warm it up with SFT, evaluate, train with GSPO, evaluate again, save.
/// Everything the run writes is under the run directory: config.yaml, metrics.jsonl,
/// summary.json, the models.
/// </summary>
public static class TrainingRun
{
    /// <summary>Reward functions by config name.</summary>
    public static IRewardFunction Reward(string name) => name switch
    {
        "accuracy" => new AccuracyReward(),
        "format" => new FormatReward(),
        _ => throw new ArgumentException($"reward_funcs: unknown reward '{name}'; built-in: accuracy, format."),
    };

    /// <summary>Runs <paramref name="config"/> in <paramref name="runDirectory"/>.</summary>
    public static RunSummary Execute(TrainConfig config, string runDirectory, ITrainingProgress progress)
    {
        foreach (var warning in config.Validate()) progress.Warning(warning);
        var rewardModel = new RewardModel(config.RewardFuncs.Select((name, i) => new WeightedReward(Reward(name), config.RewardWeights?[i] ?? 1.0)).ToList());
        var (train, eval) = Datasets(config, rewardModel);
        PrepareDirectory(runDirectory);
        var clock = Stopwatch.StartNew();
        File.WriteAllText(Path.Combine(runDirectory, "config.yaml"), ConfigFile.ToYaml(config));

        string modelDirectory = config.Model ?? Path.Combine(runDirectory, "initial-model");
        if (config.Model is null)
        {
            progress.Stage("model", $"creating a {config.InitSize} {config.InitArch} model");
            TinyModels.Create(modelDirectory, ArchOf(config.InitArch), SizeOf(config.InitSize), config.InitSeed);
        }
        progress.Stage("model", $"loading {modelDirectory}");
        using var policy = Policy.Load(modelDirectory, config.ChatTemplate);

        if (config.SftSteps > 0)
        {
            progress.Stage("sft", $"supervised warm start: {config.SftSteps} steps of {config.SftBatchSize} demonstrations");
            SupervisedFineTuning.Run(policy, train, new SftOptions
            {
                Steps = config.SftSteps, BatchSize = config.SftBatchSize, LearningRate = config.SftLearningRate, Seed = config.Seed,
            }, (step, loss, _) => progress.SftStep(step, config.SftSteps, loss));
            modelDirectory = Path.Combine(runDirectory, "sft-model");
            ModelDirectory.Save(policy.Model, modelDirectory, companionsFrom: config.Model ?? Path.Combine(runDirectory, "initial-model"));
        }

        double evalTemperature = config.EvalTemperature ?? config.Temperature;
        EvaluationResult Evaluate(string label)
        {
            progress.Stage("eval", $"{label}: {config.EvalPrompts} held-out prompts × {config.EvalNumSamples} samples");
            var result = Evaluation.Run(policy, eval, config.EvalPrompts, config.EvalNumSamples, config.MaxCompletionLength, evalTemperature, config.Seed + 1);
            progress.Evaluated(label, result);
            return result;
        }
        var before = Evaluate("before");

        using var reference = config.Beta > 0 ? Policy.Load(modelDirectory, config.ChatTemplate) : null;
        using var trainer = new GspoTrainer(config, policy, train, rewardModel, reference);
        using var log = new MetricsLog(Path.Combine(runDirectory, "metrics.jsonl"));
        progress.Stage("train", $"{config.MaxSteps} steps × {config.PromptsPerStep} prompts × {config.NumGenerations} samples, " +
                                $"{config.StepsPerGeneration} mini-batches each ({Describe(config)})");
        IReadOnlyDictionary<string, double> last = new Dictionary<string, double>();
        var trainClock = Stopwatch.StartNew();
        for (int step = 1; step <= config.MaxSteps; step++)
        {
            var metrics = new Dictionary<string, double>(trainer.Step());
            if (config.EvalSteps > 0 && step % config.EvalSteps == 0 && step < config.MaxSteps)
                metrics["eval/accuracy"] = Evaluate($"step {step}").Accuracy;
            if (step % config.LoggingSteps == 0 || step == config.MaxSteps) log.Write(metrics);
            progress.RlStep(step, config.MaxSteps, metrics, trainClock.Elapsed);
            last = metrics;
        }
        var after = Evaluate("after");
        log.Write(new Dictionary<string, double> { ["step"] = config.MaxSteps, ["eval/accuracy"] = after.Accuracy });

        progress.Stage("save", "saving the trained model");
        string final = Path.Combine(runDirectory, "final-model");
        ModelDirectory.Save(policy.Model, final, companionsFrom: modelDirectory);
        var summary = new RunSummary(before.Accuracy, after.Accuracy, config.MaxSteps, clock.Elapsed.TotalSeconds, runDirectory, final, last);
        WriteSummary(runDirectory, summary, before, after);
        return summary;
    }

    static string Describe(TrainConfig c) =>
        $"{Objectives.PolicyObjectiveOptions.Names.Of(c.ImportanceSamplingLevel)}, ε {c.Objective.ClipLow:G3}/{c.Objective.ClipHigh:G3}";

    static (Dataset Train, Dataset Eval) Datasets(TrainConfig config, RewardModel rewards)
    {
        var functions = rewards.Rewards.Select(r => r.Function).ToList();
        if (config.Task is { } name)
        {
            var task = SyntheticTask.Get(name);
            var eval = config.EvalDataset is { } path ? Dataset.FromJsonLines(path, functions) : Dataset.FromTask(task, TaskSplit.Eval, config.Seed);
            return (Dataset.FromTask(task, TaskSplit.Train, config.Seed), eval.Take(config.EvalPrompts));
        }
        var train = Dataset.FromJsonLines(config.Dataset!, functions);
        return (train, (config.EvalDataset is { } e ? Dataset.FromJsonLines(e, functions) : train).Take(config.EvalPrompts));
    }

    /// <summary>Creates the run directory, refusing one that already holds a run.</summary>
    static void PrepareDirectory(string runDirectory)
    {
        foreach (var marker in new[] { "config.yaml", "metrics.jsonl", "summary.json" })
            if (File.Exists(Path.Combine(runDirectory, marker)))
                throw new IOException($"{runDirectory}: already holds a run ({marker}); choose another --run-dir.");
        Directory.CreateDirectory(runDirectory);
    }

    static void WriteSummary(string runDirectory, RunSummary summary, EvaluationResult before, EvaluationResult after)
    {
        var json = new JsonObject
        {
            ["accuracy_before"] = summary.AccuracyBefore,
            ["accuracy_after"] = summary.AccuracyAfter,
            ["steps"] = summary.Steps,
            ["wall_seconds"] = summary.WallSeconds,
            ["eval_prompts"] = after.Prompts,
            ["eval_samples_per_prompt"] = after.SamplesPerPrompt,
            ["mean_length_before"] = before.MeanLength,
            ["mean_length_after"] = after.MeanLength,
            ["final_model"] = Path.GetFileName(summary.FinalModel),
            ["last_step"] = new JsonObject(summary.LastMetrics.Where(p => double.IsFinite(p.Value))
                .Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value))),
        };
        string path = Path.Combine(runDirectory, "summary.json");
        File.WriteAllText(path + ".tmp", json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        File.Move(path + ".tmp", path, overwrite: true);
    }

    internal static ModelType ArchOf(string name) => name switch
    {
        "qwen3" => ModelType.Qwen3, "qwen3_moe" => ModelType.Qwen3Moe, "qwen2" => ModelType.Qwen2, _ => ModelType.Llama,
    };

    internal static ModelSize SizeOf(string name) => name switch
    {
        "tiny" => ModelSize.Tiny, "small" => ModelSize.Small, _ => ModelSize.Bench50M,
    };
}
