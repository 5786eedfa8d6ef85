using GspoSharp.Objectives;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

public class TrainConfigValidationTests
{
    static readonly TrainConfig Defaults = new();

    /// <summary>Invalid configs by name, each breaking one rule of the defaults (8 prompts × 8 responses,
    /// 4 mini-batches of 16, task arithmetic, rewards accuracy + format).</summary>
    static readonly Dictionary<string, TrainConfig> Invalid = new()
    {
        ["num_generations 1"] = Defaults with { NumGenerations = 1 },
        ["init_num_experts on a dense model"] = Defaults with { InitNumExperts = 16 },
        ["top-9 of 8 experts"] = Defaults with { InitArch = "qwen3_moe", InitSize = "tiny", InitNumExpertsPerTok = 9 },
        ["top-8 of 4 experts"] = Defaults with { InitArch = "qwen3_moe", InitSize = "tiny", InitNumExperts = 4, InitNumExpertsPerTok = 8 },
        ["init_num_hidden_layers 0"] = Defaults with { InitNumHiddenLayers = 0 },
        ["num_generations 0"] = Defaults with { NumGenerations = 0 },
        ["steps_per_generation 0"] = Defaults with { StepsPerGeneration = 0 },
        ["steps_per_generation -1"] = Defaults with { StepsPerGeneration = -1 },
        ["3 x 2 completions into 4 mini-batches"] = Defaults with { PromptsPerStep = 3, NumGenerations = 2, StepsPerGeneration = 4 },
        ["64 completions into 3 mini-batches"] = Defaults with { StepsPerGeneration = 3 },
        ["mini-batch 16 into 3 micro-batches"] = Defaults with { GradientAccumulationSteps = 3 },
        ["mini-batch 16 into 32 micro-batches"] = Defaults with { GradientAccumulationSteps = 32 },
        ["gradient_accumulation_steps 0"] = Defaults with { GradientAccumulationSteps = 0 },
        ["epsilon -0.1"] = Defaults with { Epsilon = -0.1 },
        ["epsilon_high -0.1"] = Defaults with { EpsilonHigh = -0.1 },
        ["beta -0.01"] = Defaults with { Beta = -0.01 },
        ["temperature 0"] = Defaults with { Temperature = 0 },
        ["temperature NaN"] = Defaults with { Temperature = double.NaN },
        ["top_p 0"] = Defaults with { TopP = 0 },
        ["top_p 1.01"] = Defaults with { TopP = 1.01 },
        ["learning_rate 0"] = Defaults with { LearningRate = 0 },
        ["learning_rate -1e-5"] = Defaults with { LearningRate = -1e-5 },
        ["max_steps 0"] = Defaults with { MaxSteps = 0 },
        ["task and dataset"] = Defaults with { Dataset = "train.jsonl" },
        ["neither task nor dataset"] = Defaults with { Task = null },
        ["one weight for two rewards"] = Defaults with { RewardWeights = new[] { 1.0 } },
        ["three weights for two rewards"] = Defaults with { RewardWeights = new[] { 1.0, 0.5, 0.1 } },
        ["init_arch gpt2"] = Defaults with { InitArch = "gpt2" },
        ["init_size huge"] = Defaults with { InitSize = "huge" },
    };

    [Theory]
    [InlineData("num_generations 1", "num_generations")]
    [InlineData("num_generations 0", "num_generations")]
    [InlineData("steps_per_generation 0", "steps_per_generation")]
    [InlineData("steps_per_generation -1", "steps_per_generation")]
    [InlineData("3 x 2 completions into 4 mini-batches", "steps_per_generation")]
    [InlineData("64 completions into 3 mini-batches", "steps_per_generation")]
    [InlineData("mini-batch 16 into 3 micro-batches", "gradient_accumulation_steps")]
    [InlineData("mini-batch 16 into 32 micro-batches", "gradient_accumulation_steps")]
    [InlineData("gradient_accumulation_steps 0", "gradient_accumulation_steps")]
    [InlineData("epsilon -0.1", "epsilon")]
    [InlineData("epsilon_high -0.1", "epsilon_high")]
    [InlineData("beta -0.01", "beta")]
    [InlineData("temperature 0", "temperature")]
    [InlineData("temperature NaN", "temperature")]
    [InlineData("top_p 0", "top_p")]
    [InlineData("top_p 1.01", "top_p")]
    [InlineData("learning_rate 0", "learning_rate")]
    [InlineData("learning_rate -1e-5", "learning_rate")]
    [InlineData("max_steps 0", "max_steps")]
    [InlineData("task and dataset", "task")]
    [InlineData("neither task nor dataset", "dataset")]
    [InlineData("one weight for two rewards", "reward_weights")]
    [InlineData("three weights for two rewards", "reward_weights")]
    [InlineData("init_arch gpt2", "init_arch")]
    [InlineData("init_size huge", "init_size")]
    [InlineData("init_num_experts on a dense model", "init_num_experts")]
    [InlineData("top-9 of 8 experts", "init_num_experts_per_tok")]
    [InlineData("top-8 of 4 experts", "init_num_experts_per_tok")]
    [InlineData("init_num_hidden_layers 0", "init_num_hidden_layers")]
    public void An_invalid_value_is_refused_with_its_key_first(string name, string key)
    {
        var message = Assert.Throws<ArgumentException>(() => Invalid[name].Validate()).Message;
        Assert.StartsWith(key + ": ", message);
    }

    [Fact]
    public void Every_invalid_case_is_tested()
    {
        var tested = typeof(TrainConfigValidationTests).GetMethod(nameof(An_invalid_value_is_refused_with_its_key_first))!
            .GetCustomAttributes(typeof(InlineDataAttribute), false).Cast<InlineDataAttribute>()
            .Select(a => (string)a.GetData(null!).Single()[0]).ToHashSet();
        Assert.Equal(Invalid.Keys.ToHashSet(), tested);
    }

    [Fact]
    public void Messages_say_what_is_wrong_with_the_numbers_involved()
    {
        Assert.Equal("num_generations: is 1; group advantages need at least 2 responses per prompt.",
            Assert.Throws<ArgumentException>(() => Invalid["num_generations 1"].Validate()).Message);
        Assert.Equal("steps_per_generation: 6 completions per step (prompts_per_step × num_generations) do not split into 4 equal mini-batches.",
            Assert.Throws<ArgumentException>(() => Invalid["3 x 2 completions into 4 mini-batches"].Validate()).Message);
        Assert.Equal("gradient_accumulation_steps: mini-batches of 16 completions do not split into 3 equal micro-batches.",
            Assert.Throws<ArgumentException>(() => Invalid["mini-batch 16 into 3 micro-batches"].Validate()).Message);
        Assert.Equal("reward_weights: has 1 weights for 2 reward functions.",
            Assert.Throws<ArgumentException>(() => Invalid["one weight for two rewards"].Validate()).Message);
        Assert.Contains("exactly one of task and dataset", Assert.Throws<ArgumentException>(() => Invalid["task and dataset"].Validate()).Message);
        Assert.Contains("exactly one of task and dataset", Assert.Throws<ArgumentException>(() => Invalid["neither task nor dataset"].Validate()).Message);
        Assert.Contains("'gpt2'", Assert.Throws<ArgumentException>(() => Invalid["init_arch gpt2"].Validate()).Message);
    }

    [Theory]
    [InlineData(8, 8, 4, 1)]     // the defaults: 64 completions, 4 mini-batches of 16
    [InlineData(8, 8, 4, 16)]    // one completion per micro-batch
    [InlineData(3, 2, 6, 1)]     // 6 completions, 6 mini-batches of 1
    [InlineData(5, 3, 5, 3)]     // 15 completions, 5 mini-batches of 3, 3 micro-batches of 1
    [InlineData(1, 2, 1, 2)]
    public void Batches_that_split_evenly_are_accepted(int prompts, int generations, int steps, int accumulation)
    {
        var config = Defaults with { PromptsPerStep = prompts, NumGenerations = generations, StepsPerGeneration = steps, GradientAccumulationSteps = accumulation };
        Assert.Empty(config.Validate());
    }

    [Fact]
    public void Boundary_values_are_accepted()
    {
        Assert.Empty((Defaults with { TopP = 1.0, Temperature = 1e-3, Beta = 0, EpsilonHigh = 0, MaxSteps = 1, NumGenerations = 2, StepsPerGeneration = 1 }).Validate());
        Assert.Empty((Defaults with { Task = null, Dataset = "train.jsonl", EvalDataset = "eval.jsonl" }).Validate());
        Assert.Empty((Defaults with { RewardWeights = null }).Validate());
        Assert.Empty((Defaults with { RewardFuncs = new[] { "accuracy" }, RewardWeights = new[] { 2.0 } }).Validate());
        foreach (var arch in new[] { "qwen3", "qwen3_moe", "qwen2", "llama" })
            foreach (var size in new[] { "tiny", "small", "50m" })
                (Defaults with { InitArch = arch, InitSize = size }).Validate();
    }

    [Fact]
    public void The_defaults_are_valid_and_raise_no_warning() => Assert.Empty(new TrainConfig().Validate());

    [Fact]
    public void The_demo_recipe_is_valid_and_means_what_it_says()
    {
        string path = Path.Combine(Repository.Root, "recipes", "demo.yaml");
        var demo = ConfigFile.Apply(new TrainConfig(), File.ReadAllText(path), path);

        Assert.Empty(demo.Validate());
        Assert.Equal(("arithmetic", (string?)null, "qwen3", "tiny", 42L), (demo.Task, demo.Dataset, demo.InitArch, demo.InitSize, demo.Seed));
        Assert.Equal((800, 32, 0.01), (demo.SftSteps, demo.SftBatchSize, demo.SftLearningRate));
        Assert.Equal((16, 8, 64, 128), (demo.PromptsPerStep, demo.NumGenerations, demo.MaxCompletionLength, demo.CompletionsPerStep));
        Assert.Equal((ImportanceSamplingLevel.Sequence, 4, LossType.Grpo, 0.0), (demo.ImportanceSamplingLevel, demo.StepsPerGeneration, demo.LossType, demo.Beta));
        Assert.Equal((1e-4, 1.0, 500), (demo.LearningRate, demo.MaxGradNorm, demo.MaxSteps));
        Assert.Equal((200, 4), (demo.EvalPrompts, demo.EvalNumSamples));
        // GSPO's clip range, since the recipe leaves epsilon unset.
        Assert.Equal((3e-4, 4e-4), (demo.Objective.ClipLow, demo.Objective.ClipHigh));
    }

    [Theory]
    [InlineData(LossType.Dapo)]
    [InlineData(LossType.DrGrpo)]
    public void Gspo_with_a_token_mean_loss_warns_about_length_weighting(LossType lossType)
    {
        var warning = Assert.Single((Defaults with { LossType = lossType }).Validate());
        Assert.Contains($"loss_type {(lossType == LossType.Dapo ? "dapo" : "dr_grpo")}", warning);
        Assert.Contains("length", warning);
    }

    [Fact]
    public void Grpo_with_dapo_and_gspo_with_grpo_do_not_warn()
    {
        Assert.Empty((Defaults with { ImportanceSamplingLevel = ImportanceSamplingLevel.Token, LossType = LossType.Dapo }).Validate());
        Assert.Empty((Defaults with { ImportanceSamplingLevel = ImportanceSamplingLevel.Sequence, LossType = LossType.Grpo }).Validate());
    }

    [Fact]
    public void A_token_level_clip_range_on_sequence_ratios_warns()
    {
        Assert.Contains("token-level clip range", Assert.Single((Defaults with { Epsilon = 0.2 }).Validate()));
        Assert.Empty((Defaults with { ImportanceSamplingLevel = ImportanceSamplingLevel.Token, Epsilon = 0.2 }).Validate());
    }

    [Fact]
    public void Routing_replay_on_a_dense_created_model_warns()
    {
        Assert.Contains("routing_replay", Assert.Single((Defaults with { RoutingReplay = true }).Validate()));
        Assert.Empty((Defaults with { RoutingReplay = true, InitArch = "qwen3_moe" }).Validate());
        Assert.Empty((Defaults with { RoutingReplay = true, Model = "models/any" }).Validate());
    }
}
