using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Rewards;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>A program's own reward, rows and model drive the whole run (RunInputs), stopped and resumed exactly.</summary>
public class LibraryRunTests
{
    /// <summary>A reward the library does not know: shorter completions score more.</summary>
    sealed class ShortReward : IRewardFunction
    {
        public string Name => "short";
        public RewardScore Score(RewardInput input) => new(1.0 / (1 + input.Completion.Length));
    }

    static readonly TrainConfig Quick = new()
    {
        InitSize = "tiny", PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 12, LearningRate = 1e-3,
        MaxSteps = 4, SaveSteps = 2, EvalPrompts = 3, EvalNumSamples = 2, Seed = 5, Report = false,
    };

    static List<JsonObject> Rows(TaskSplit split, int count)
    {
        var task = SyntheticTask.Get("arithmetic");
        return Enumerable.Range(0, count).Select(i => task.Example(5, split, i)).ToList();
    }

    static RunInputs Inputs(ITrainingProgress? progress = null, Func<bool>? stop = null, double weight = 0.5)
    {
        var rewards = new List<WeightedReward> { new(new AccuracyReward(), 1.0), new(new ShortReward(), weight) };
        var functions = rewards.Select(r => r.Function).ToList();
        return new RunInputs
        {
            Rewards = rewards, Train = Dataset.FromRows("my-train", Rows(TaskSplit.Train, 10), functions),
            Eval = Dataset.FromRows("my-eval", Rows(TaskSplit.Eval, 3), functions), Progress = progress ?? TrainingProgress.None, StopRequested = stop,
        };
    }

    [Fact]
    public void A_run_of_the_programs_pieces_stopped_and_resumed_equals_an_uninterrupted_one()
    {
        using var dir = new TempDirectory();
        string straight = Path.Combine(dir.Path, "straight"), stopped = Path.Combine(dir.Path, "stopped");
        var done = TrainingRun.Execute(Quick, straight, Inputs());
        Assert.Null(done.Stopped);
        Assert.True(RunComparison.Metrics(straight)[0].ContainsKey("rewards/short/mean"));

        var progress = new QuietProgress(stopAfterStep: 2);
        var first = TrainingRun.Execute(Quick, stopped, Inputs(progress, progress.StopRequested));
        Assert.Equal(("interrupted", 2), (first.Stopped, first.Steps));
        Assert.Contains(progress.Stages, s => s.Contains("TrainingRun.Resume", StringComparison.Ordinal));
        var resumed = TrainingRun.Resume(stopped, Inputs());
        Assert.Equal((null, 4), (resumed.Stopped, resumed.Steps));

        RunComparison.AssertSameMetrics(straight, stopped);
        RunComparison.AssertSameWeights(Path.Combine(straight, "final-model"), Path.Combine(stopped, "final-model"));

        // config.yaml says what the run used.
        var recorded = ConfigFile.Load(new TrainConfig(), Path.Combine(stopped, "config.yaml"), []);
        Assert.Equal(new[] { "accuracy", "short" }, recorded.RewardFuncs);
        Assert.Equal(new[] { 1.0, 0.5 }, recorded.RewardWeights!);
        Assert.Equal((null, "my-train", "my-eval"), (recorded.Task, recorded.Dataset, recorded.EvalDataset));
    }

    [Fact]
    public void A_resume_with_other_rewards_or_data_or_a_model_is_refused_naming_what_differs()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var progress = new QuietProgress(stopAfterStep: 2);
        TrainingRun.Execute(Quick, run, Inputs(progress, progress.StopRequested));

        var weight = Assert.Throws<ArgumentException>(() => TrainingRun.Resume(run, Inputs(weight: 0.25))).Message;
        Assert.Equal($"{run}: the run was trained with rewards [accuracy, short] weighted [1, 0.5] (config.yaml), " +
                     "but the program supplies [accuracy, short] weighted [1, 0.25]; resume it with the same rewards.", weight);
        var other = Inputs() with { Rewards = [new(new FormatReward(), 1.0)] };
        Assert.Contains("but the program supplies [format] weighted [1]", Assert.Throws<ArgumentException>(() => TrainingRun.Resume(run, other)).Message);
        var data = Inputs() with { Eval = null };
        Assert.Contains("the run was trained on 'my-train' (held out: 'my-eval'), but the program supplies 'my-train' (held out: '—')",
            Assert.Throws<ArgumentException>(() => TrainingRun.Resume(run, data)).Message);
        using var policy = LanguageModel.Load(Path.Combine(run, "initial-model"), chatTemplate: false);
        Assert.Contains("a resumed run loads its model from its checkpoint",
            Assert.Throws<ArgumentException>(() => TrainingRun.Resume(run, Inputs() with { Model = policy })).Message);
        // Nothing was changed: the right pieces still resume it.
        Assert.Equal(4, TrainingRun.Resume(run, Inputs()).Steps);
    }

    [Fact]
    public void Two_rewards_of_one_name_are_refused()
    {
        using var dir = new TempDirectory();
        var twice = Inputs() with { Rewards = [new(new ShortReward(), 1), new(new ShortReward(), 2)] };
        Assert.Equal("reward_funcs: two rewards are named 'short'; names must be distinct (they name the metrics).",
            Assert.Throws<ArgumentException>(() => TrainingRun.Execute(Quick, Path.Combine(dir.Path, "run"), twice)).Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "run")));
    }

    [Fact]
    public void A_given_model_is_trained_in_place_and_saved_first_as_the_runs_start()
    {
        using var dir = new TempDirectory();
        string source = Path.Combine(dir.Path, "model"), run = Path.Combine(dir.Path, "run");
        TinyModels.Create(source, GspoSharp.Models.Architecture.ModelType.Qwen3, ModelSize.Tiny, seed: 3);
        using var policy = LanguageModel.Load(source, chatTemplate: false);
        var before = policy.Model.named_parameters().First().parameter.clone();
        var summary = TrainingRun.Execute(Quick with { MaxSteps = 1, SaveSteps = 0 }, run, Inputs() with { Model = policy });
        Assert.Null(summary.Stopped);
        using var start = ModelDirectory.Load(Path.Combine(run, "initial-model"));
        Assert.True(start.named_parameters().First().parameter.eq(before).all().item<bool>(), "initial-model holds the given weights");
        Assert.False(policy.Model.named_parameters().First().parameter.eq(before).all().item<bool>(), "the given model was trained");
        Assert.Equal(Path.GetFullPath(Path.Combine(run, "initial-model")),
            ConfigFile.Load(new TrainConfig(), Path.Combine(run, "config.yaml"), []).Model);
        policy.Model.named_parameters().First().parameter.sum().item<float>();   // still usable: the run did not dispose it
    }

    [Fact]
    public void Program_rows_are_checked_as_a_files_are_naming_the_row()
    {
        var reward = new[] { new AccuracyReward() };
        Assert.Equal("mine: row 2: needs a \"prompt\" string or a \"messages\" list of {\"role\", \"content\"} strings.",
            Assert.Throws<InvalidDataException>(() => Dataset.FromRows("mine", [new() { ["prompt"] = "a", ["answer"] = "1" }, new() { ["text"] = "b" }], reward)).Message);
        Assert.Equal("mine: row 1: missing field \"answer\", which the rewards need.",
            Assert.Throws<InvalidDataException>(() => Dataset.FromRows("mine", [new() { ["prompt"] = "a" }], reward)).Message);
        Assert.Equal("mine: no rows.", Assert.Throws<InvalidDataException>(() => Dataset.FromRows("mine", [], reward)).Message);
        var row = new JsonObject { ["prompt"] = "a", ["answer"] = "1" };
        var data = Dataset.FromRows("mine", [row], reward);
        row["prompt"] = "changed";
        Assert.Equal(("mine", 1L, "a"), (data.Name, data.Count, data.Row(0)["prompt"]!.GetValue<string>()));
    }
}
