using GspoSharp.Models;
using GspoSharp.Rewards;
using GspoSharp.Tasks;

namespace GspoSharp.Training;

/// <summary>
/// The pieces a <see cref="TrainingRun"/> is made of, as objects: the rewards, the training and held-out
/// data, optionally the model, where progress is reported and when to stop. <c>gspo train</c> builds
/// them from the config (<see cref="FromConfig"/>); a program passes its own — any
/// <see cref="IRewardFunction"/>, any rows (<see cref="Dataset.FromRows"/>) — and gets the whole run:
/// run directory, checkpoints, exact resume, NaN guard, evaluation, TensorBoard, report (docs/library.md).
/// </summary>
public sealed record RunInputs
{
    /// <summary>The reward functions with their weights; names must be distinct (they name the metrics and are recorded in config.yaml).</summary>
    public required IReadOnlyList<WeightedReward> Rewards { get; init; }

    /// <summary>Training prompts: a task stream, a JSON Lines file or the program's rows.</summary>
    public required Dataset Train { get; init; }

    /// <summary>Held-out prompts for accuracy (its first eval_prompts rows); null: the first rows of <see cref="Train"/>, which are not held out.</summary>
    public Dataset? Eval { get; init; }

    /// <summary>The model to train, in place; null: the config's <c>model</c> directory, or a model created from init_*.
    /// A given model is saved as the run's initial-model (float32) first, so the run can be resumed and
    /// the KL reference loaded without it. The run does not dispose it. Only for a new run: a resumed run
    /// loads its model from its checkpoint.</summary>
    public LanguageModel? Model { get; init; }

    /// <summary>Where the run reports stages, steps, evaluations and warnings.</summary>
    public ITrainingProgress Progress { get; init; } = TrainingProgress.None;

    /// <summary>Polled after each step: when it returns true, the run writes a checkpoint and stops (resume it later).</summary>
    public Func<bool>? StopRequested { get; init; }

    /// <summary>True when the pieces are those the config's keys name (recorded as they are).</summary>
    internal bool FromConfigKeys { get; init; }

    /// <summary>
    /// The pieces the config names: reward_funcs (built-in, or from reward_assembly) with reward_weights,
    /// task or dataset, eval_dataset (else the task's held-out stream, else the training file's first rows).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown reward, an unloadable reward_assembly, an unknown task.</exception>
    public static RunInputs FromConfig(TrainConfig config, ITrainingProgress? progress = null, Func<bool>? stopRequested = null)
    {
        var registry = RewardRegistry.BuiltIn();
        if (config.RewardAssembly is { } assembly) registry.AddAssembly(assembly);
        var rewards = config.RewardFuncs.Select((name, i) => new WeightedReward(registry.Create(name), config.RewardWeights?[i] ?? 1.0)).ToList();
        var functions = rewards.Select(r => r.Function).ToList();
        var train = Dataset.Open(config.Task, config.Dataset, TaskSplit.Train, config.Seed, functions);
        var eval = config.EvalDataset is { } heldOut ? Dataset.FromJsonLines(heldOut, functions)
            : config.Task is { } task ? Dataset.FromTask(SyntheticTask.Get(task), TaskSplit.Eval, config.Seed)
            : null;
        return new RunInputs
        {
            Rewards = rewards, Train = train, Eval = eval, Progress = progress ?? TrainingProgress.None, StopRequested = stopRequested,
            FromConfigKeys = true,
        };
    }

    /// <summary>Refuses no rewards, two rewards of one name, and weights that are not finite.</summary>
    internal void Validate()
    {
        if (Rewards.Count == 0) throw new ArgumentException("reward_funcs: needs at least one reward function.");
        if (Rewards.GroupBy(r => r.Function.Name).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"reward_funcs: two rewards are named '{twice.Key}'; names must be distinct (they name the metrics).");
        if (Rewards.FirstOrDefault(r => !double.IsFinite(r.Weight)) is { } bad)
            throw new ArgumentException($"reward_weights: the weight of '{bad.Function.Name}' is {bad.Weight}; must be finite.");
    }

    /// <summary>
    /// The config a run of these pieces records in config.yaml: for pieces a program supplied, the reward
    /// names and weights and the data's names replace the keys, so the file says what the run used and a
    /// resume can check that the program supplies the same.
    /// </summary>
    internal TrainConfig Describe(TrainConfig config) => FromConfigKeys ? config : config with
    {
        RewardFuncs = Rewards.Select(r => r.Function.Name).ToList(), RewardWeights = Rewards.Select(r => r.Weight).ToList(), RewardAssembly = null,
        Task = null, Dataset = Train.Name, EvalDataset = Eval?.Name,
    };

    /// <summary>Refuses to resume a run with other rewards or data than it recorded (<see cref="Describe"/>).</summary>
    internal void CheckResumes(TrainConfig recorded, string runDirectory)
    {
        if (FromConfigKeys) return;
        if (Model is not null)
            throw new ArgumentException($"{runDirectory}: a resumed run loads its model from its checkpoint; leave RunInputs.Model unset.");
        var expected = Describe(recorded);
        static string List<T>(IEnumerable<T>? items) => "[" + string.Join(", ", items ?? []) + "]";
        if (!expected.RewardFuncs.SequenceEqual(recorded.RewardFuncs) || !expected.RewardWeights!.SequenceEqual(recorded.RewardWeights ?? recorded.RewardFuncs.Select(_ => 1.0)))
            throw new ArgumentException($"{runDirectory}: the run was trained with rewards {List(recorded.RewardFuncs)} weighted {List(recorded.RewardWeights)} " +
                                        $"(config.yaml), but the program supplies {List(expected.RewardFuncs)} weighted {List(expected.RewardWeights)}; " +
                                        "resume it with the same rewards.");
        if (expected.Dataset != recorded.Dataset || expected.EvalDataset != recorded.EvalDataset)
            throw new ArgumentException($"{runDirectory}: the run was trained on '{recorded.Dataset ?? recorded.Task}' (held out: '{recorded.EvalDataset ?? "—"}'), " +
                                        $"but the program supplies '{expected.Dataset}' (held out: '{expected.EvalDataset ?? "—"}'); resume it with the same data.");
    }
}

/// <summary>Progress sinks of the library.</summary>
public static class TrainingProgress
{
    /// <summary>Reports nothing.</summary>
    public static ITrainingProgress None { get; } = new Silent();

    sealed class Silent : ITrainingProgress
    {
        public void Stage(string stage, string description) { }
        public void SftStep(int step, int total, double loss) { }
        public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed) { }
        public void Evaluated(string label, EvaluationResult result) { }
        public void Warning(string message) { }
    }
}
