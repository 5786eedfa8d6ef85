using GspoSharp.Models;
using GspoSharp.Objectives;
using GspoSharp.Rewards;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>The study's options in the RL loop: the adaptive clip range and per-step advantages.</summary>
public class StudyOptionsTrainerTests(TinyModelFixture models) : IClassFixture<TinyModelFixture>
{
    static readonly TrainConfig Small = new()
    {
        PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 24, LearningRate = 1e-3,
        MaxSteps = 3, Seed = 5,
    };

    static RewardModel Rewards() => new(new[] { new WeightedReward(new AccuracyReward(), 1), new WeightedReward(new FormatReward(), 0.1) });

    static Dataset Arithmetic() => Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 5);

    [Fact]
    public void The_controller_sets_each_steps_clip_range_from_the_previous_steps_clipped_fraction()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var config = Small with { EpsilonTargetClipFraction = 0.5, EpsilonControllerRate = 2 };
        using var trainer = new GspoTrainer(config, policy, Arithmetic(), Rewards());
        var first = trainer.Step();
        Assert.Equal(3e-4, first["clip/epsilon_low"]);
        Assert.Equal(4e-4, first["clip/epsilon_high"]);
        double scale = Math.Clamp(Math.Exp(2 * (first["clip_fraction/sequences/region"] - 0.5)), 0.01, 100);
        Assert.Equal(scale, trainer.ClipScale, 12);
        var second = trainer.Step();
        Assert.Equal(3e-4 * scale, second["clip/epsilon_low"], 15);
        Assert.Equal(4e-4 * scale, second["clip/epsilon_high"], 15);
    }

    [Fact]
    public void Without_the_controller_no_clip_range_is_logged()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var trainer = new GspoTrainer(Small, policy, Arithmetic(), Rewards());
        var m = trainer.Step();
        Assert.False(m.ContainsKey("clip/epsilon_low"));
        Assert.Equal(1.0, trainer.ClipScale);
    }

    [Fact]
    public void Gspo_token_trains_with_step_advantages_and_step_credit_is_logged()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var config = Small with { ImportanceSamplingLevel = ImportanceSamplingLevel.SequenceToken, StepAdvantageCoef = 0.5 };
        using var trainer = new GspoTrainer(config, policy, Arithmetic(), Rewards());
        var m = trainer.Step();
        Assert.InRange(m["steps/correct_fraction"], 0, 1);
        Assert.InRange(m["steps/first_error_position"], 0, 1);
        Assert.True(double.IsFinite(m["loss"]));
    }

    [Fact]
    public void A_resumed_run_continues_with_the_controllers_clip_range()
    {
        using var dir = new TempDirectory();
        var config = new TrainConfig
        {
            Task = "arithmetic", InitArch = "qwen3", InitSize = "tiny", SftSteps = 2, SftBatchSize = 4, PromptsPerStep = 2, NumGenerations = 4,
            StepsPerGeneration = 2, MaxCompletionLength = 16, LearningRate = 1e-3, MaxSteps = 4, SaveSteps = 2, EvalPrompts = 4,
            EvalNumSamples = 1, Seed = 9, EpsilonTargetClipFraction = 0.05, EpsilonControllerRate = 5, Report = false,
        };
        string straight = Path.Combine(dir.Path, "straight"), stopped = Path.Combine(dir.Path, "stopped");
        TrainingRun.Execute(config, straight, new QuietProgress());
        var progress = new QuietProgress(stopAfterStep: 2);
        Assert.Equal("interrupted", TrainingRun.Execute(config, stopped, progress, progress.StopRequested).Stopped);
        Assert.Null(TrainingRun.Resume(stopped, new QuietProgress()).Stopped);

        static List<double> Epsilons(string run) => File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => System.Text.Json.Nodes.JsonNode.Parse(l)!["clip/epsilon_low"]).Where(v => v is not null).Select(v => v!.GetValue<double>()).ToList();
        var expected = Epsilons(straight);
        Assert.Equal(4, expected.Count);
        Assert.NotEqual(expected[0], expected[3]);   // the controller moved ε
        Assert.Equal(expected, Epsilons(stopped));
    }

    [Theory]
    [InlineData("sequence", "arithmetic", "importance_sampling_level sequence (GSPO) takes one per response")]
    [InlineData("sequence_token", "reverse", "needs a task with per-step credit (arithmetic, long-sum); got task reverse")]
    public void Step_advantages_are_refused_where_they_cannot_apply(string level, string task, string message)
    {
        var config = Small with { ImportanceSamplingLevel = PolicyObjectiveOptions.Names.ParseLevel(level), Task = task, StepAdvantageCoef = 0.5 };
        var e = Assert.Throws<ArgumentException>(() => config.Validate());
        Assert.StartsWith("step_advantage_coef: ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_controller_is_refused_with_the_soft_gate()
    {
        var e = Assert.Throws<ArgumentException>(() => (Small with { EpsilonTargetClipFraction = 0.2, LossType = LossType.Sapo }).Validate());
        Assert.StartsWith("epsilon_target_clip_fraction: ", e.Message);
    }
}
