using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using CsCheck;
using GspoSharp.Objectives;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

public class ConfigFileTests
{
    /// <summary>Every key of <c>gspo train</c>, spelled by hand from TrainConfig's options (TRL names).</summary>
    static readonly string[] AllKeys =
    {
        "model", "init_arch", "init_size", "init_num_hidden_layers", "init_num_experts", "init_num_experts_per_tok", "init_moe_intermediate_size",
        "init_seed", "device", "chat_template",
        "task", "dataset", "eval_dataset", "reward_funcs", "reward_weights", "reward_assembly",
        "prompts_per_step", "num_generations", "max_completion_length", "max_prompt_length", "rollout_batch_prompts", "rollout_threads", "update_threads", "temperature", "top_p", "top_k",
        "steps_per_generation", "num_iterations", "gradient_accumulation_steps", "learning_rate", "lr_scheduler_type",
        "warmup_steps", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm",
        "importance_sampling_level", "epsilon", "epsilon_high", "beta", "loss_type", "sapo_temperature_pos", "sapo_temperature_neg",
        "epsilon_target_clip_fraction", "epsilon_controller_rate", "scale_rewards", "step_advantage_coef",
        "mask_truncated_completions", "filter_zero_std_groups", "use_sampler_logprobs", "routing_replay",
        "max_steps", "logging_steps", "eval_steps", "eval_prompts", "eval_num_samples", "eval_temperature", "seed",
        "save_steps", "save_dtype", "save_total_limit", "max_consecutive_bad_steps", "report",
        "sft_steps", "sft_batch_size", "sft_learning_rate",
        "use_peft", "lora_r", "lora_alpha", "lora_dropout", "lora_target_modules", "use_rslora", "gradient_checkpointing", "base_dtype", "adapter",
        "rollout_backend", "rollout_servers", "rollout_api", "weight_sync", "weight_sync_dir", "rollout_timeout", "rollout_retries",
        "rollout_dtype", "vllm_importance_sampling_correction", "vllm_importance_sampling_mode", "vllm_importance_sampling_clip_max", "vllm_importance_sampling_clip_min",
    };

    static string Write(TempDirectory dir, string name, string text)
    {
        string path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    static TrainConfig LoadText(TempDirectory dir, string name, string text, params string[] overrides) =>
        ConfigFile.Load(new TrainConfig(), Write(dir, name, text), overrides);

    static string Refused(TempDirectory dir, string name, string text) =>
        Assert.Throws<ArgumentException>(() => LoadText(dir, name, text)).Message;

    // ---- Reading values of every type -------------------------------------------------------------

    [Fact]
    public void A_yaml_file_sets_values_of_every_type()
    {
        using var dir = new TempDirectory();
        var config = LoadText(dir, "run.yaml", """
            # comment lines and blank lines are ignored

            num_generations: 16          # int
            init_seed: 12345678901       # long, beyond int
            learning_rate: 5.0e-5        # double in exponent notation
            temperature: 0.7
            adam_beta2: 1
            chat_template: true          # bool
            filter_zero_std_groups: False
            model: models/qwen3-0.6b     # string
            dataset: data/train.jsonl
            task: ~                      # nullable string, unset
            top_k: 20                    # nullable int
            epsilon: null                # nullable double
            epsilon_high: 4.0e-4
            eval_temperature:            # empty value is null too
            reward_funcs: [accuracy, format]
            reward_weights: [1.0, 0.25]
            """);

        Assert.Equal(16, config.NumGenerations);
        Assert.Equal(12345678901L, config.InitSeed);
        Assert.Equal(5.0e-5, config.LearningRate);
        Assert.Equal(0.7, config.Temperature);
        Assert.Equal(1.0, config.AdamBeta2);
        Assert.True(config.ChatTemplate);
        Assert.False(config.FilterZeroStdGroups);
        Assert.Equal("models/qwen3-0.6b", config.Model);
        Assert.Equal("data/train.jsonl", config.Dataset);
        Assert.Null(config.Task);
        Assert.Equal(20, config.TopK);
        Assert.Null(config.Epsilon);
        Assert.Equal(4.0e-4, config.EpsilonHigh);
        Assert.Null(config.EvalTemperature);
        Assert.Equal(new[] { "accuracy", "format" }, config.RewardFuncs);
        Assert.Equal(new[] { 1.0, 0.25 }, config.RewardWeights!);
        // Keys not in the file keep their defaults.
        Assert.Equal(8, config.PromptsPerStep);
        Assert.Equal(4, config.StepsPerGeneration);
        Assert.Equal(42L, config.Seed);
    }

    [Fact]
    public void A_json_file_is_read_like_yaml()
    {
        using var dir = new TempDirectory();
        var config = LoadText(dir, "run.json", """
            {
              "num_generations": 4,
              "learning_rate": 1e-5,
              "mask_truncated_completions": true,
              "task": null,
              "dataset": "train.jsonl",
              "top_k": 50,
              "loss_type": "dr_grpo",
              "reward_funcs": ["accuracy"],
              "reward_weights": [2.5]
            }
            """);

        Assert.Equal(4, config.NumGenerations);
        Assert.Equal(1e-5, config.LearningRate);
        Assert.True(config.MaskTruncatedCompletions);
        Assert.Null(config.Task);
        Assert.Equal("train.jsonl", config.Dataset);
        Assert.Equal(50, config.TopK);
        Assert.Equal(LossType.DrGrpo, config.LossType);
        Assert.Equal(new[] { "accuracy" }, config.RewardFuncs);
        Assert.Equal(new[] { 2.5 }, config.RewardWeights!);
    }

    [Fact]
    public void A_nullable_value_can_be_set_and_then_unset_again()
    {
        var set = ConfigFile.Apply(new TrainConfig(), "top_k: 5\nepsilon: 0.2\nmodel: m", "a.yaml");
        Assert.Equal((5, 0.2, "m"), (set.TopK, set.Epsilon, set.Model));
        var unset = ConfigFile.Apply(set, "top_k: ~\nepsilon: null\nmodel:", "b.yaml");
        Assert.Equal((null, null, null), (unset.TopK, unset.Epsilon, unset.Model));
    }

    [Fact]
    public void A_quoted_null_is_a_string_not_a_missing_value()
    {
        var config = ConfigFile.Apply(new TrainConfig(), "model: \"null\"\ntask: '~'", "a.yaml");
        Assert.Equal("null", config.Model);
        Assert.Equal("~", config.Task);
    }

    [Theory]
    [InlineData("token", ImportanceSamplingLevel.Token)]
    [InlineData("sequence", ImportanceSamplingLevel.Sequence)]
    [InlineData("sequence_token", ImportanceSamplingLevel.SequenceToken)]
    public void Importance_sampling_level_takes_trl_spellings(string text, ImportanceSamplingLevel expected) =>
        Assert.Equal(expected, ConfigFile.Apply(new TrainConfig(), $"importance_sampling_level: {text}", "a.yaml").ImportanceSamplingLevel);

    [Theory]
    [InlineData("grpo", LossType.Grpo)]
    [InlineData("dapo", LossType.Dapo)]
    [InlineData("bnpo", LossType.Dapo)]   // TRL's bnpo equals dapo in a single process
    [InlineData("dr_grpo", LossType.DrGrpo)]
    public void Loss_type_takes_trl_spellings(string text, LossType expected) =>
        Assert.Equal(expected, ConfigFile.Apply(new TrainConfig(), $"loss_type: {text}", "a.yaml").LossType);

    [Theory]
    [InlineData("group", ScaleRewards.Group)]
    [InlineData("batch", ScaleRewards.Batch)]
    [InlineData("none", ScaleRewards.None)]
    [InlineData("true", ScaleRewards.Group)]    // TRL's older boolean form
    [InlineData("false", ScaleRewards.None)]
    public void Scale_rewards_takes_trl_spellings(string text, ScaleRewards expected) =>
        Assert.Equal(expected, ConfigFile.Apply(new TrainConfig { ScaleRewards = ScaleRewards.Batch == expected ? ScaleRewards.Group : ScaleRewards.Batch },
            $"scale_rewards: {text}", "a.yaml").ScaleRewards);

    [Theory]
    [InlineData("constant", LearningRateSchedule.Constant)]
    [InlineData("cosine", LearningRateSchedule.Cosine)]
    [InlineData("linear", LearningRateSchedule.Linear)]
    public void Lr_scheduler_type_takes_trl_spellings(string text, LearningRateSchedule expected) =>
        Assert.Equal(expected, ConfigFile.Apply(new TrainConfig { LrSchedulerType = expected == LearningRateSchedule.Cosine ? LearningRateSchedule.Linear : LearningRateSchedule.Cosine },
            $"lr_scheduler_type: {text}", "a.yaml").LrSchedulerType);

    [Fact]
    public void An_empty_file_or_one_of_comments_changes_nothing()
    {
        var base_ = new TrainConfig { NumGenerations = 3 };
        Assert.Same(base_, ConfigFile.Apply(base_, "", "a.yaml"));
        Assert.Same(base_, ConfigFile.Apply(base_, "# nothing here\n\n", "a.yaml"));
    }

    [Fact]
    public void Apply_does_not_modify_the_config_it_starts_from()
    {
        var start = new TrainConfig();
        var changed = ConfigFile.Apply(start, "num_generations: 3\nreward_funcs: [format]", "a.yaml");
        Assert.Equal(3, changed.NumGenerations);
        Assert.Equal(8, start.NumGenerations);
        Assert.Equal(new[] { "accuracy", "format" }, start.RewardFuncs);
    }

    // ---- --set overrides ---------------------------------------------------------------------------

    [Fact]
    public void Set_overrides_apply_after_the_file_in_order()
    {
        using var dir = new TempDirectory();
        var config = LoadText(dir, "run.yaml", "num_generations: 16\nlearning_rate: 1.0e-3\nseed: 7\n",
            "num_generations=4", "learning_rate=2e-5", "loss_type=dapo", "reward_funcs=[accuracy]", "reward_weights=[1.0]",
            "seed=1", "seed=2", "top_k=~");
        Assert.Equal(4, config.NumGenerations);
        Assert.Equal(2e-5, config.LearningRate);
        Assert.Equal(LossType.Dapo, config.LossType);
        Assert.Equal(new[] { "accuracy" }, config.RewardFuncs);
        Assert.Equal(new[] { 1.0 }, config.RewardWeights!);
        Assert.Equal(2L, config.Seed);   // the last of repeated overrides wins
        Assert.Null(config.TopK);
    }

    [Fact]
    public void Set_overrides_work_without_a_file_and_keep_everything_after_the_first_equals_sign()
    {
        var config = ConfigFile.Load(new TrainConfig(), null, new[] { " max_steps = 3", "model=runs/a=b" });
        Assert.Equal(3, config.MaxSteps);
        Assert.Equal("runs/a=b", config.Model);
    }

    [Theory]
    [InlineData("num_generations")]
    [InlineData("=4")]
    public void A_set_override_without_key_and_value_is_refused(string item)
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Load(new TrainConfig(), null, new[] { item })).Message;
        Assert.Equal($"--set {item}: expected key=value.", message);
    }

    [Fact]
    public void A_bad_set_override_is_named_in_the_error()
    {
        var unknown = Assert.Throws<ArgumentException>(() => ConfigFile.Load(new TrainConfig(), null, new[] { "num_generation=4" })).Message;
        Assert.StartsWith("--set num_generation=4: unknown key 'num_generation'", unknown);
        Assert.Contains("did you mean 'num_generations'?", unknown);
        var wrongType = Assert.Throws<ArgumentException>(() => ConfigFile.Load(new TrainConfig(), null, new[] { "max_steps=many" })).Message;
        Assert.StartsWith("--set max_steps=many", wrongType);
        Assert.Contains("max_steps", wrongType[("--set max_steps=many".Length)..]);
        Assert.Contains("'many'", wrongType);
    }

    [Fact]
    public void A_missing_file_is_refused_with_its_path()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "absent.yaml");
        var e = Assert.Throws<FileNotFoundException>(() => ConfigFile.Load(new TrainConfig(), path, Array.Empty<string>()));
        Assert.Contains(path, e.Message);
    }

    // ---- Refusals name file, line and key ------------------------------------------------------------

    [Fact]
    public void An_unknown_key_names_file_line_and_key_and_suggests_the_near_miss()
    {
        using var dir = new TempDirectory();
        var message = Refused(dir, "typo.yaml", "task: arithmetic\n\n# the group size\nnum_generation: 4\n");
        Assert.Contains("typo.yaml:4:", message);
        Assert.Contains("unknown key 'num_generation'", message);
        Assert.Contains("(did you mean 'num_generations'?)", message);
    }

    [Theory]
    [InlineData("learning_rat", "learning_rate")]
    [InlineData("lr_sheduler_type", "lr_scheduler_type")]
    [InlineData("importance_sampling", "importance_sampling_level")]
    [InlineData("epsilon_hi", "epsilon_high")]
    [InlineData("rewards_funcs", "reward_funcs")]
    public void Near_misses_suggest_the_intended_key(string typo, string intended)
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), $"{typo}: 1", "a.yaml")).Message;
        Assert.Equal($"a.yaml:1: unknown key '{typo}' (did you mean '{intended}'?).", message);
    }

    [Fact]
    public void A_key_like_no_other_gets_no_suggestion()
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "num_generations: 2\nfoo: 1", "a.yaml")).Message;
        Assert.Equal("a.yaml:2: unknown key 'foo'.", message);
    }

    [Fact]
    public void Keys_are_case_sensitive_snake_case()
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "NumGenerations: 4", "a.yaml")).Message;
        Assert.StartsWith("a.yaml:1: unknown key 'NumGenerations'", message);
    }

    [Theory]
    [InlineData("max_steps: many", "max_steps", "'many' is not an integer")]
    [InlineData("max_steps: 2.5", "max_steps", "'2.5' is not an integer")]
    [InlineData("max_steps: 3000000000", "max_steps", "'3000000000' is not an integer")]
    [InlineData("init_seed: 1e3", "init_seed", "'1e3' is not an integer")]
    [InlineData("learning_rate: fast", "learning_rate", "'fast' is not a number")]
    [InlineData("chat_template: yes", "chat_template", "'yes' is not true or false")]
    [InlineData("top_k: all", "top_k", "'all' is not an integer")]
    [InlineData("epsilon: wide", "epsilon", "'wide' is not a number")]
    [InlineData("reward_weights: [1.0, heavy]", "reward_weights[1]", "'heavy' is not a number")]
    [InlineData("max_steps: ~", "max_steps", "cannot be null")]
    [InlineData("temperature:", "temperature", "cannot be null")]
    [InlineData("loss_type: sum", "loss_type", "loss_type must be grpo, dapo (bnpo), dr_grpo or sapo; got 'sum'")]
    [InlineData("importance_sampling_level: sentence", "importance_sampling_level", "must be token, sequence or sequence_token")]
    [InlineData("scale_rewards: maybe", "scale_rewards", "must be group, batch or none")]
    [InlineData("lr_scheduler_type: exponential", "lr_scheduler_type", "must be constant, cosine or linear")]
    public void A_value_of_the_wrong_type_names_file_line_and_key(string line, string key, string problem)
    {
        using var dir = new TempDirectory();
        var message = Refused(dir, "bad.yaml", $"task: arithmetic\nseed: 3\n{line}\n");
        Assert.StartsWith($"{Path.Combine(dir.Path, "bad.yaml")}:3: {key}", message);
        Assert.Contains(problem, message);
    }

    [Fact]
    public void A_wrong_type_in_json_names_the_line_of_the_key()
    {
        using var dir = new TempDirectory();
        var message = Refused(dir, "run.json", "{\n  \"seed\": 1,\n  \"num_generations\": \"eight\"\n}\n");
        Assert.Contains("run.json:3: num_generations", message);
        Assert.Contains("'eight' is not an integer", message);
    }

    [Theory]
    [InlineData("num_generations:\n  value: 4", "num_generations", "must be a single value, not a mapping")]
    [InlineData("num_generations: {value: 4}", "num_generations", "must be a single value, not a mapping")]
    [InlineData("max_steps: [1, 2]", "max_steps", "must be a single value, not a list")]
    [InlineData("model:\n  - a\n  - b", "model", "must be a single value, not a list")]
    [InlineData("reward_funcs: accuracy", "reward_funcs", "must be a list")]
    [InlineData("reward_funcs: {name: accuracy}", "reward_funcs", "must be a list")]
    [InlineData("reward_funcs: [[accuracy]]", "reward_funcs[0]", "must be a single value, not a list")]
    public void Nested_values_and_lists_where_a_scalar_belongs_are_refused(string text, string key, string problem)
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "seed: 1\n" + text, "nested.yaml")).Message;
        Assert.StartsWith($"nested.yaml:2: {key}", message);
        Assert.Contains(problem, message);
    }

    [Theory]
    [InlineData("reward_funcs: ~", "reward_funcs")]
    [InlineData("reward_funcs:", "reward_funcs")]
    [InlineData("init_arch: null", "init_arch")]
    [InlineData("init_size: ~", "init_size")]
    [InlineData("reward_funcs: [accuracy, ~]", "reward_funcs[1]")]
    [InlineData("reward_weights: [1.0, null]", "reward_weights[1]")]
    public void Null_is_refused_for_a_key_that_cannot_be_unset(string text, string key)
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "seed: 1\n" + text, "a.yaml")).Message;
        Assert.Equal($"a.yaml:2: {key} cannot be null.", message);
    }

    [Theory]
    [InlineData("- num_generations\n- 4")]
    [InlineData("just some words")]
    public void A_document_that_is_not_key_value_lines_is_refused(string text)
    {
        var message = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), text, "odd.yaml")).Message;
        Assert.Equal("odd.yaml: expected key: value lines.", message);
    }

    [Fact]
    public void Malformed_yaml_and_duplicate_keys_name_the_source_and_line()
    {
        var malformed = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "seed: 1\nreward_funcs: [accuracy, format\n", "broken.yaml")).Message;
        Assert.StartsWith("broken.yaml:", malformed);
        var duplicate = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "seed: 1\nnum_generations: 4\nnum_generations: 8\n", "twice.yaml")).Message;
        Assert.StartsWith("twice.yaml:3:", duplicate);
    }

    // ---- Writing back: ToYaml, Describe, SnakeCase ---------------------------------------------------

    /// <summary>A config in which every key differs from its default.</summary>
    static readonly TrainConfig Unusual = new()
    {
        Model = @"C:\models\Qwen3 0.6B: base", InitArch = "qwen3_moe", InitSize = "50m",
        InitNumHiddenLayers = 16, InitNumExperts = 64, InitNumExpertsPerTok = 8, InitMoeIntermediateSize = 16, InitSeed = 9_000_000_000L, Device = "cuda:1", ChatTemplate = true,
        Task = null, Dataset = "data/train #1.jsonl", EvalDataset = "data/\"held out\".jsonl",
        RewardFuncs = new[] { "format", "accuracy", "null" }, RewardWeights = new[] { 0.1, 1e-7, 3.0 }, RewardAssembly = "rewards/My Rewards.dll",
        PromptsPerStep = 3, NumGenerations = 6, MaxCompletionLength = 77, MaxPromptLength = 99, RolloutBatchPrompts = 2, RolloutThreads = 3, UpdateThreads = 4, Temperature = 0.1 + 0.2,
        TopP = 0.95, TopK = 40, StepsPerGeneration = 2, NumIterations = 3, GradientAccumulationSteps = 3,
        LearningRate = 1.0 / 3e5, LrSchedulerType = LearningRateSchedule.Cosine, WarmupSteps = 11, WeightDecay = 0.01,
        AdamBeta1 = 0.8, AdamBeta2 = 0.95, AdamEpsilon = 1e-12, MaxGradNorm = 0.0,
        ImportanceSamplingLevel = ImportanceSamplingLevel.SequenceToken, Epsilon = 3e-4, EpsilonHigh = 4e-4, Beta = 0.04,
        LossType = LossType.DrGrpo, SapoTemperaturePos = 2.5, SapoTemperatureNeg = 3.5, EpsilonTargetClipFraction = 0.15, EpsilonControllerRate = 0.5,
        ScaleRewards = ScaleRewards.None, StepAdvantageCoef = 0.25, MaskTruncatedCompletions = true, FilterZeroStdGroups = true,
        UseSamplerLogprobs = true, RoutingReplay = true, MaxSteps = 5, LoggingSteps = 2, EvalSteps = 10, EvalPrompts = 7,
        EvalNumSamples = 2, EvalTemperature = 0.0, Seed = -1, SaveSteps = 7, SaveDtype = SaveDtype.BFloat16, SaveTotalLimit = 4, MaxConsecutiveBadSteps = 3, Report = false,
        SftSteps = 12, SftBatchSize = 5, SftLearningRate = 2.5e-3,
        UsePeft = true, LoraR = 8, LoraAlpha = 0.5, LoraDropout = 0.0, LoraTargetModules = new[] { "all-linear" }, UseRslora = true, GradientCheckpointing = true, BaseDtype = "bfloat16",
        Adapter = "adapters/step 100",
        RolloutBackend = GspoSharp.Rollout.RolloutBackendKind.Http, RolloutServers = new[] { "http://127.0.0.1:8000", "https://gpu-2:30000/v1 x" },
        RolloutApi = GspoSharp.Rollout.RolloutApi.Sglang, WeightSync = GspoSharp.Rollout.WeightSyncMode.Lora, WeightSyncDir = "/shared/weight sync",
        RolloutTimeout = 12.5, RolloutRetries = 0,
        RolloutDtype = GspoSharp.Rollout.RolloutDtype.Bfloat16, VllmImportanceSamplingCorrection = true, VllmImportanceSamplingMode = RolloutCorrectionMode.TokenTruncate,
        VllmImportanceSamplingClipMax = null, VllmImportanceSamplingClipMin = 0.25,
    };

    static IEnumerable<PropertyInfo> Options => typeof(TrainConfig).GetProperties()
        .Where(p => p.GetCustomAttribute<DescriptionAttribute>() is not null);

    static void AssertSameOptions(TrainConfig expected, TrainConfig actual)
    {
        foreach (var p in Options)
        {
            object? e = p.GetValue(expected), a = p.GetValue(actual);
            if (e is System.Collections.IEnumerable el && e is not string)
                Assert.True(a is System.Collections.IEnumerable al && el.Cast<object>().SequenceEqual(al.Cast<object>()), $"{p.Name} differs");
            else
                Assert.True(Equals(e, a), $"{p.Name}: expected {e ?? "null"}, got {a ?? "null"}");
        }
    }

    [Fact]
    public void The_unusual_config_differs_from_the_defaults_in_every_key()
    {
        // Guards the round-trip test below: a key left at its default would round-trip trivially.
        var defaults = new TrainConfig();
        foreach (var p in Options)
        {
            object? d = p.GetValue(defaults), u = p.GetValue(Unusual);
            bool same = d is System.Collections.IEnumerable dl && d is not string && u is System.Collections.IEnumerable ul
                ? dl.Cast<object>().SequenceEqual(ul.Cast<object>())
                : Equals(d, u);
            Assert.False(same, $"{p.Name} is at its default");
        }
        Assert.Equal(AllKeys.Length, Options.Count());
    }

    [Fact]
    public void ToYaml_then_Apply_gives_back_an_equal_config()
    {
        var yaml = ConfigFile.ToYaml(Unusual);
        AssertSameOptions(Unusual, ConfigFile.Apply(new TrainConfig(), yaml, "resolved.yaml"));
        AssertSameOptions(new TrainConfig(), ConfigFile.Apply(Unusual, ConfigFile.ToYaml(new TrainConfig()), "resolved.yaml"));
    }

    [Fact]
    public void ToYaml_writes_one_line_per_key_in_declaration_order_with_trl_spellings()
    {
        var lines = ConfigFile.ToYaml(new TrainConfig()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal(AllKeys, lines.Select(l => l[..l.IndexOf(':')]));
        Assert.Contains("num_generations: 8", lines);
        Assert.Contains("learning_rate: 1E-06", lines);
        Assert.Contains("task: arithmetic", lines);
        Assert.Contains("model: null", lines);
        Assert.Contains("top_k: null", lines);
        Assert.Contains("chat_template: false", lines);
        Assert.Contains("reward_funcs: [accuracy, format]", lines);
        Assert.Contains("reward_weights: [1, 0.1]", lines);
        Assert.Contains("importance_sampling_level: sequence", lines);
        Assert.Contains("loss_type: grpo", lines);
        Assert.Contains("scale_rewards: group", lines);
        Assert.Contains("lr_scheduler_type: constant", lines);
        Assert.Contains("save_dtype: auto", lines);
        var unusual = ConfigFile.ToYaml(Unusual);
        Assert.Contains("importance_sampling_level: sequence_token", unusual);
        Assert.Contains("loss_type: dr_grpo", unusual);
        Assert.Contains("scale_rewards: none", unusual);
        Assert.Contains("lr_scheduler_type: cosine", unusual);
        Assert.Contains("save_dtype: bfloat16", unusual);
    }

    [Fact]
    public void Numbers_and_strings_round_trip_exactly()
    {
        var numbers = Gen.Select(Gen.Double.Where(double.IsFinite), Gen.Long, Gen.Int, Gen.Int.Nullable());
        numbers.Sample((d, l, i, k) =>
        {
            var config = new TrainConfig { LearningRate = d, Epsilon = d, InitSeed = l, MaxSteps = i, TopK = k, RewardWeights = new[] { d, -d } };
            AssertSameOptions(config, ConfigFile.Apply(new TrainConfig(), ConfigFile.ToYaml(config), "r.yaml"));
        }, iter: 100);

        // Paths and names as users write them: spaces, colons, backslashes, quotes, YAML indicators.
        var text = Gen.Char[" abcXYZ019_-./\\:#'\"[]{},&*!|>%@`~?"].Array[1, 12].Select(chars => new string(chars));
        text.Sample(s =>
        {
            var config = new TrainConfig { Model = s, Dataset = s, RewardFuncs = new[] { s, "x" } };
            TrainConfig back;
            try { back = ConfigFile.Apply(new TrainConfig(), ConfigFile.ToYaml(config), "r.yaml"); }
            catch (ArgumentException e) { throw new InvalidOperationException($"'{s}' does not read back: {e.Message}", e); }
            Assert.Equal(s, back.Model);
            Assert.Equal(s, back.Dataset);
            Assert.Equal(new[] { s, "x" }, back.RewardFuncs);
        }, iter: 300);
    }

    [Fact]
    public void Describe_lists_every_key_once_with_its_default_and_a_description()
    {
        var described = ConfigFile.Describe().ToList();
        Assert.Equal(AllKeys, described.Select(d => d.Key));
        Assert.Equal(AllKeys, ConfigFile.Keys);
        Assert.All(described, d => Assert.False(string.IsNullOrWhiteSpace(d.Description), d.Key));
        Assert.All(described, d => Assert.False(string.IsNullOrWhiteSpace(d.Default), d.Key));
        var defaults = described.ToDictionary(d => d.Key, d => d.Default);
        Assert.Equal("8", defaults["num_generations"]);
        Assert.Equal("4", defaults["steps_per_generation"]);
        Assert.Equal("sequence", defaults["importance_sampling_level"]);
        Assert.Equal("null", defaults["epsilon"]);
        Assert.Equal("0", defaults["beta"]);
        Assert.Equal("42", defaults["seed"]);
        Assert.Equal("[accuracy, format]", defaults["reward_funcs"]);
        Assert.Contains("TRL", described.Single(d => d.Key == "num_generations").Description);
    }

    [Theory]
    [InlineData("NumGenerations", "num_generations")]
    [InlineData("AdamBeta1", "adam_beta1")]
    [InlineData("TopP", "top_p")]
    [InlineData("LrSchedulerType", "lr_scheduler_type")]
    [InlineData("Model", "model")]
    [InlineData("x", "x")]
    public void SnakeCase_turns_property_names_into_keys(string name, string key) => Assert.Equal(key, ConfigFile.SnakeCase(name));

    // ---- The gspo program ----------------------------------------------------------------------------

    [Fact]
    public void Gspo_train_prints_the_resolved_config_and_refuses_a_typo_naming_file_and_line()
    {
        using var dir = new TempDirectory();
        Write(dir, "run.yaml", "task: reverse\nlearning_rate: 5.0e-5\nnum_generations: 16\n");
        var printed = GspoProcess.RunIn(dir.Path, "train", "--config", "run.yaml", "--set", "num_generations=4", "--print-config");
        Assert.True(printed.ExitCode == 0, printed.Stderr);
        var lines = printed.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Contains("task: reverse", lines);
        Assert.Contains("learning_rate: 5E-05", lines);
        Assert.Contains("num_generations: 4", lines);
        Assert.Contains("steps_per_generation: 4", lines);

        Write(dir, "typo.yaml", "task: reverse\nnum_generation: 4\n");
        var refused = GspoProcess.RunIn(dir.Path, "train", "--config", "typo.yaml", "--run-dir", "run");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("typo.yaml:2: unknown key 'num_generation' (did you mean 'num_generations'?)", refused.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "run")));
    }
}
