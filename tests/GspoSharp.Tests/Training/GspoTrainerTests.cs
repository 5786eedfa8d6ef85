using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Objectives;
using GspoSharp.Rewards;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>Tiny model directories created once for the trainer tests.</summary>
public sealed class TinyModelFixture : IDisposable
{
    readonly TempDirectory directory = new();

    public TinyModelFixture()
    {
        Dense = Path.Combine(directory.Path, "qwen3");
        Moe = Path.Combine(directory.Path, "qwen3_moe");
        TinyModels.Create(Dense, ModelType.Qwen3, ModelSize.Tiny, seed: 1);
        TinyModels.Create(Moe, ModelType.Qwen3Moe, ModelSize.Tiny, seed: 1);
    }

    public string Dense { get; }
    public string Moe { get; }

    public void Dispose() => directory.Dispose();
}

/// <summary>The RL loop on tiny models, a few steps at a time.</summary>
public class GspoTrainerTests(TinyModelFixture models) : IClassFixture<TinyModelFixture>
{
    static readonly TrainConfig Small = new()
    {
        PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 24, LearningRate = 1e-3,
        MaxSteps = 3, Seed = 5,
    };

    static readonly string[] ExpectedKeys =
    {
        "step", "reward", "reward_std", "rewards/accuracy/mean", "rewards/format/mean", "frac_reward_zero_std", "reward_failures",
        "completions/mean_length", "completions/min_length", "completions/max_length", "completions/clipped_ratio",
        "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "clip_fraction/tokens/region",
        "clip_fraction/sequences/region", "ratio/mean", "ratio/min", "ratio/max", "approx_kl", "entropy", "loss",
        "grad_norm", "learning_rate", "skipped_updates", "clamped_log_ratios", "time/generation", "time/old_logprobs",
        "time/update", "time/step", "tokens_per_second/generation", "tokens_per_second/update",
    };

    /// <summary>Accuracy and format, plus a reward an untrained model already varies on (the share of
    /// digits in its text), so that advantages are non-zero from the first step.</summary>
    static RewardModel Rewards() => new(new[]
    {
        new WeightedReward(new AccuracyReward(), 1), new WeightedReward(new FormatReward(), 0.1), new WeightedReward(new DigitShare(), 1),
    });

    sealed class DigitShare : IRewardFunction
    {
        public string Name => "digits";
        public RewardScore Score(RewardInput input) =>
            new(input.Completion.Length == 0 ? 0 : input.Completion.Count(char.IsAsciiDigit) / (double)input.Completion.Length);
    }

    static Dataset Arithmetic() => Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 5);

    static Dictionary<string, Tensor> Snapshot(LanguageModel policy) =>
        policy.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    [Theory]
    [InlineData(ImportanceSamplingLevel.Sequence)]
    [InlineData(ImportanceSamplingLevel.SequenceToken)]
    [InlineData(ImportanceSamplingLevel.Token)]
    public void Each_objective_trains_with_finite_losses_and_every_metric(ImportanceSamplingLevel level)
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var before = Snapshot(policy);
        using var trainer = new GspoTrainer(Small with { ImportanceSamplingLevel = level }, policy, Arithmetic(), Rewards());
        for (int step = 1; step <= 2; step++)
        {
            var m = trainer.Step();
            foreach (var key in ExpectedKeys) Assert.True(m.ContainsKey(key), $"metric {key} missing");
            Assert.True(double.IsFinite(m["loss"]) && double.IsFinite(m["grad_norm"]), $"step {step}: loss {m["loss"]}, grad norm {m["grad_norm"]}");
            Assert.Equal(0, m["skipped_updates"]);
        }
        Assert.Contains(policy.Model.named_parameters(), p => !p.parameter.eq(before[p.name]).all().item<bool>());
    }

    [Fact]
    public void A_model_under_a_million_parameters_updates_and_warms_up_on_one_thread_unless_told_and_the_count_is_restored()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        Assert.True(policy.Model.Config.ParameterCount() < IntraOpThreads.SingleThreadParameters);
        using (IntraOpThreads.Use(2))   // the test process runs on one thread (TestSetup); the rule matters with more
        {
            foreach (var (threads, expected) in new (int?, int)[] { (null, 1), (2, 2), (3, 3) })
            {
                var seen = new List<int>();
                using (var trainer = new GspoTrainer(Small with { UpdateThreads = threads, MaxSteps = 1 }, policy, Arithmetic(), Rewards())
                       { OnMiniBatch = (_, _, _) => seen.Add(get_num_threads()) })
                    trainer.Step();
                Assert.Equal(Small.StepsPerGeneration, seen.Count);
                Assert.All(seen, n => Assert.Equal(expected, n));
                Assert.Equal(2, get_num_threads());

                var warm = new List<int>();
                SupervisedFineTuning.Run(policy, Arithmetic(), new SftOptions { Steps = 2, BatchSize = 2, Threads = threads },
                    (_, _, _) => warm.Add(get_num_threads()));
                Assert.Equal(new[] { expected, expected }, warm);
                Assert.Equal(2, get_num_threads());
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_first_mini_batch_is_on_policy_and_the_later_ones_are_not(bool moe)
    {
        using var policy = LanguageModel.Load(moe ? models.Moe : models.Dense, chatTemplate: false);
        var seen = new List<(int Mini, PolicyLossStats Stats)>();
        using var trainer = new GspoTrainer(Small with { StepsPerGeneration = 4, GradientAccumulationSteps = 2, RoutingReplay = moe },
            policy, Arithmetic(), Rewards())
        {
            OnMiniBatch = (_, mini, stats) => seen.AddRange(stats.Select(s => (mini, s))),
        };
        trainer.Step();
        // Old log-probs were recomputed with the same weights, rows and shapes: ratios of exactly 1.
        foreach (var (_, s) in seen.Where(x => x.Mini == 0))
        {
            Assert.Equal(1.0, s.RatioMin);
            Assert.Equal(1.0, s.RatioMax);
            Assert.Equal(0.0, s.ApproxKl);
            Assert.Equal(0.0, s.ClipRegionTokens);
        }
        // After the first optimizer step the policy has moved: later mini-batches are off-policy.
        Assert.Contains(seen.Where(x => x.Mini > 0), x => x.Stats.RatioMin != 1.0 || x.Stats.RatioMax != 1.0);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Moe_policies_log_volatility_with_and_without_routing_replay(bool replay)
    {
        using var policy = LanguageModel.Load(models.Moe, chatTemplate: false);
        using var trainer = new GspoTrainer(Small with { RoutingReplay = replay, ImportanceSamplingLevel = ImportanceSamplingLevel.Token },
            policy, Arithmetic(), Rewards());
        var m = trainer.Step();
        Assert.InRange(m["routing/volatility"], 0, 1);
        Assert.True(double.IsFinite(m["loss"]));
    }

    [Fact]
    public void Sampler_log_probs_kl_penalty_and_filters_run()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var reference = LanguageModel.Load(models.Dense, chatTemplate: false);
        var config = Small with { UseSamplerLogprobs = true, Beta = 0.05, FilterZeroStdGroups = true };
        var first = new List<PolicyLossStats>();
        using var trainer = new GspoTrainer(config, policy, Arithmetic(), Rewards(), reference)
        {
            OnMiniBatch = (_, mini, stats) => { if (mini == 0) first.AddRange(stats); },
        };
        var m = trainer.Step();
        Assert.True(m.ContainsKey("kl"), "the reference KL is logged when beta > 0");
        // The sampler's log-probs equal recomputed ones up to float rounding.
        foreach (var s in first.Where(s => s.Tokens > 0))
            Assert.InRange(s.RatioMin, 0.9999, 1.0001);
    }

    [Fact]
    public void Truncated_completions_can_be_excluded_from_the_loss()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var tokens = new List<long>();
        // Two tokens never finish an arithmetic answer: every completion is truncated and masked.
        using var trainer = new GspoTrainer(Small with { MaxCompletionLength = 2, MaskTruncatedCompletions = true }, policy, Arithmetic(), Rewards())
        {
            OnMiniBatch = (_, _, stats) => tokens.AddRange(stats.Select(s => s.Tokens)),
        };
        var m = trainer.Step();
        Assert.Equal(1.0, m["completions/clipped_ratio"]);
        Assert.All(tokens, t => Assert.Equal(0, t));
        Assert.Equal(0.0, m["loss"]);
    }

    [Fact]
    public void A_throwing_reward_is_counted_and_the_run_goes_on()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var rewards = new RewardModel(new[] { new WeightedReward(new DigitShare(), 1), new WeightedReward(new Throwing(), 1) });
        using var trainer = new GspoTrainer(Small, policy, Arithmetic(), rewards);
        var m = trainer.Step();
        Assert.Equal(8, m["reward_failures"]);
        Assert.Equal(m["rewards/digits/mean"], m["reward"], 12);
        Assert.Equal(8, trainer.RewardFailures.Count);
        Assert.All(trainer.RewardFailures, f => Assert.Equal(("broken", "verifier crashed"), (f.Function, f.Message)));
    }

    sealed class Throwing : IRewardFunction
    {
        public string Name => "broken";
        public RewardScore Score(RewardInput input) => throw new InvalidOperationException("verifier crashed");
    }
}
