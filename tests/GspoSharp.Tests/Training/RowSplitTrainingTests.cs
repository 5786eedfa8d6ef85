using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rewards;
using GspoSharp.Rollout;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>
/// A small model's passes split by rows across two threads (<see cref="RowSplit"/>) are the passes: a split
/// update equals, bit for bit, the update whose micro-batches are those halves run one after the other on one
/// thread, and split sampling equals sampling half the prompts per engine call. The test process runs on one
/// thread (TestSetup); each test gives it two, as a 2-core machine has.
/// </summary>
public class RowSplitTrainingTests(TinyModelFixture models) : IClassFixture<TinyModelFixture>
{
    /// <summary>Mini-batches of 8 completions, micro-batches of 4 (halves of 2) with one accumulation step.</summary>
    static readonly TrainConfig Config = new()
    {
        PromptsPerStep = 4, NumGenerations = 4, StepsPerGeneration = 2, GradientAccumulationSteps = 2, MaxCompletionLength = 16,
        LearningRate = 1e-3, MaxSteps = 2, Seed = 11, RolloutThreads = 1,
    };

    static RewardModel Rewards() => new(new[]
    {
        new WeightedReward(new AccuracyReward(), 1), new WeightedReward(new FormatReward(), 0.1), new WeightedReward(new LengthShare(), 1),
    });

    /// <summary>A reward an untrained model already varies on, so that advantages are non-zero.</summary>
    sealed class LengthShare : IRewardFunction
    {
        public string Name => "length";
        public RewardScore Score(RewardInput input) => new(input.Completion.Length / 64.0);
    }

    static Dataset Arithmetic() => Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 5);

    [Theory]
    [InlineData(0.0, 1, false)]
    [InlineData(0.04, 1, false)]   // with a reference model, whose log-probs are split too
    [InlineData(0.0, 2, false)]    // a second pass over the batch reads the old log-probs the first mini-batch's halves wrote
    [InlineData(0.0, 1, true)]     // the sampler's log-probs: the first forward's, for the mismatch metrics, come from the halves
    public void A_split_update_equals_its_halves_run_as_micro_batches_on_one_thread_bit_for_bit(double beta, int iterations, bool samplerLogprobs)
    {
        using var split = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var sequential = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var splitReference = beta > 0 ? LanguageModel.Load(models.Dense, chatTemplate: false) : null;
        using var sequentialReference = beta > 0 ? LanguageModel.Load(models.Dense, chatTemplate: false) : null;
        using var threads = IntraOpThreads.Use(2);
        long before = RowSplit.Splits;

        // Split: 2 accumulation steps of 4 rows, each run as halves of 2 at once. Sequential: 4 accumulation steps of 2
        // rows on one thread (update_threads given: no split).
        var splitMetrics = new List<IReadOnlyDictionary<string, double>>();
        var sequentialMetrics = new List<IReadOnlyDictionary<string, double>>();
        var config = Config with { Beta = beta, NumIterations = iterations, UseSamplerLogprobs = samplerLogprobs };
        using (var trainer = new GspoTrainer(config, split, Arithmetic(), Rewards(), splitReference))
            for (int i = 0; i < Config.MaxSteps; i++) splitMetrics.Add(trainer.Step());
        Assert.True(RowSplit.Splits > before, "the update did not split");
        long afterSplit = RowSplit.Splits;
        using (var trainer = new GspoTrainer(config with { GradientAccumulationSteps = 4, UpdateThreads = 1 }, sequential,
                   Arithmetic(), Rewards(), sequentialReference))
            for (int i = 0; i < Config.MaxSteps; i++) sequentialMetrics.Add(trainer.Step());
        Assert.Equal(afterSplit, RowSplit.Splits);
        Assert.Equal(2, get_num_threads());

        var expected = sequential.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in split.Model.named_parameters())
            Assert.True(parameter.eq(expected[name]).all().item<bool>(), $"{name} differs");
        for (int step = 0; step < Config.MaxSteps; step++)
            foreach (var (key, value) in sequentialMetrics[step].Where(m => !m.Key.StartsWith("time/") && !m.Key.StartsWith("tokens_per_second/")))
                Assert.True(value.Equals(splitMetrics[step][key]), $"step {step + 1}: {key} is {splitMetrics[step][key]}, expected {value}");
        Assert.True(sequentialMetrics[^1]["grad_norm"] > 0);
    }

    [Fact]
    public void A_split_warm_start_learns_what_the_whole_batch_does_up_to_float_rounding()
    {
        using var split = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var whole = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var threads = IntraOpThreads.Use(2);
        var options = new SftOptions { Steps = 3, BatchSize = 6 };
        var splitLosses = new List<double>();
        var wholeLosses = new List<double>();
        long before = RowSplit.Splits;
        SupervisedFineTuning.Run(split, Arithmetic(), options, (_, loss, _) => splitLosses.Add(loss));
        Assert.Equal(before + options.Steps, RowSplit.Splits);
        SupervisedFineTuning.Run(whole, Arithmetic(), options with { Threads = 1 }, (_, loss, _) => wholeLosses.Add(loss));
        Assert.Equal(before + options.Steps, RowSplit.Splits);

        // The gradient is one sum taken in two parts: it differs in float32 rounding only. AdamW's first steps move each
        // weight by about the learning rate (3e-4 in warm-up), and a rounding difference changes that by far less.
        for (int i = 0; i < options.Steps; i++) Assert.Equal(wholeLosses[i], splitLosses[i], 1e-5);
        var expected = whole.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        double moved = 0, differs = 0;
        using var original = LanguageModel.Load(models.Dense, chatTemplate: false);
        var start = original.Model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in split.Model.named_parameters())
        {
            differs = Math.Max(differs, (parameter - expected[name]).abs().max().item<float>());
            moved = Math.Max(moved, (expected[name] - start[name]).abs().max().item<float>());
        }
        Assert.True(moved > 1e-4, $"the warm start moved the weights by at most {moved}");
        Assert.True(differs < 1e-3 * moved, $"split and whole differ by {differs}, against a move of {moved}");
    }

    [Fact]
    public async Task Split_sampling_equals_sampling_half_the_prompts_per_engine_call_and_restores_the_thread_count()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var prompts = Enumerable.Range(0, 6).Select(i => Arithmetic().Row(i)).Select(policy.EncodePrompt).ToList();
        var options = new SamplingOptions { MaxNewTokens = 20, SamplesPerPrompt = 3, Seed = 9, EosTokenIds = policy.EosTokenIds };
        using var threads = IntraOpThreads.Use(2);
        long before = RowSplit.Splits;
        using var splitBackend = new LocalRolloutBackend(policy.Model, policy.Decode);
        using var split = await splitBackend.GenerateAsync(prompts, options);
        Assert.Equal(before + 1, RowSplit.Splits);
        Assert.Equal(2, get_num_threads());
        using var halvesBackend = new LocalRolloutBackend(policy.Model, policy.Decode) { Threads = 1, BatchPrompts = 3 };
        using var halves = await halvesBackend.GenerateAsync(prompts, options);
        Assert.Equal(before + 1, RowSplit.Splits);

        Assert.Equal(halves.Completions.Count, split.Completions.Count);
        for (int i = 0; i < halves.Completions.Count; i++)
        {
            var (a, b) = (halves.Completions[i], split.Completions[i]);
            Assert.Equal((a.PromptIndex, a.SampleIndex, a.FinishReason, a.Text), (b.PromptIndex, b.SampleIndex, b.FinishReason, b.Text));
            Assert.Equal(a.CompletionIds, b.CompletionIds);
            Assert.Equal(a.LogProbs, b.LogProbs);
        }
        Assert.Contains(split.Completions, c => c.PromptIndex == 5);
    }

    [Fact]
    public async Task Sampling_does_not_split_when_a_thread_count_is_given_or_tokens_are_streamed()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var prompts = Enumerable.Range(0, 4).Select(i => Arithmetic().Row(i)).Select(policy.EncodePrompt).ToList();
        var options = new SamplingOptions { MaxNewTokens = 4, SamplesPerPrompt = 2, Seed = 9 };
        using var threads = IntraOpThreads.Use(2);
        long before = RowSplit.Splits;
        using (var given = new LocalRolloutBackend(policy.Model, policy.Decode) { Threads = 1 })
            (await given.GenerateAsync(prompts, options)).Dispose();
        int streamed = 0;
        using (var streaming = new LocalRolloutBackend(policy.Model, policy.Decode) { OnToken = (_, _, _) => streamed++ })
            (await streaming.GenerateAsync(prompts, options)).Dispose();
        Assert.Equal(before, RowSplit.Splits);
        Assert.Equal(4 * 2 * 4, streamed);
    }
}
