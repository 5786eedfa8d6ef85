using GspoSharp.Models;
using GspoSharp.Objectives;
using GspoSharp.Rewards;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>The mismatch metrics and the correction inside the RL step, and their config keys.</summary>
public class RolloutMismatchTrainingTests(TinyModelFixture models) : IClassFixture<TinyModelFixture>
{
    static readonly TrainConfig Small = new()
    {
        PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 16, LearningRate = 1e-3, MaxSteps = 2, Seed = 5,
    };

    static readonly string[] MismatchKeys = { "mismatch/token_abs_diff_mean", "mismatch/seq_log_ratio_mean", "mismatch/seq_log_ratio_max", "mismatch/k3_kl" };

    static RewardModel Rewards() => new(new[] { new WeightedReward(new AccuracyReward(), 1), new WeightedReward(new FormatReward(), 0.1) });

    static Dataset Arithmetic() => Dataset.FromTask(SyntheticTask.Get("arithmetic"), TaskSplit.Train, 5);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void In_process_float32_sampling_measures_a_mismatch_of_float_rounding(bool samplerLogProbs)
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        var config = samplerLogProbs ? Small with { UseSamplerLogprobs = true }
            : Small with { VllmImportanceSamplingCorrection = true, VllmImportanceSamplingMode = RolloutCorrectionMode.TokenTruncate };
        using var trainer = new GspoTrainer(config, policy, Arithmetic(), Rewards());
        var m = trainer.Step();
        foreach (var key in MismatchKeys) Assert.True(m.ContainsKey(key), $"metric {key} missing");
        Assert.InRange(m["mismatch/token_abs_diff_mean"], 0, 1e-5);
        Assert.InRange(m["mismatch/seq_log_ratio_max"], 0, 1e-5);
        Assert.InRange(m["mismatch/k3_kl"], -1e-9, 1e-9);
        if (!samplerLogProbs)
        {
            Assert.InRange(m["mismatch/is_weight_min"], 1 - 1e-4, 1 + 1e-4);
            Assert.InRange(m["mismatch/is_weight_max"], 1 - 1e-4, 1 + 1e-4);
        }
        Assert.True(double.IsFinite(m["loss"]));
    }

    [Fact]
    public void Without_engine_log_probs_no_mismatch_is_logged()
    {
        using var policy = LanguageModel.Load(models.Dense, chatTemplate: false);
        using var trainer = new GspoTrainer(Small, policy, Arithmetic(), Rewards());
        Assert.DoesNotContain(trainer.Step().Keys, k => k.StartsWith("mismatch/", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("vllm_importance_sampling_correction=true,use_sampler_logprobs=true", "vllm_importance_sampling_correction")]
    [InlineData("vllm_importance_sampling_correction=true,vllm_importance_sampling_mode=token_truncate,vllm_importance_sampling_clip_max=null", "vllm_importance_sampling_clip_max")]
    [InlineData("vllm_importance_sampling_clip_min=3,vllm_importance_sampling_clip_max=2", "vllm_importance_sampling_clip_min")]
    [InlineData("vllm_importance_sampling_clip_max=-1", "vllm_importance_sampling_clip_max")]
    public void Inconsistent_correction_settings_are_refused_naming_the_key(string overrides, string key)
    {
        var config = ConfigFile.Load(new TrainConfig(), null, overrides.Split(','));
        var e = Assert.Throws<ArgumentException>(() => config.Validate());
        Assert.StartsWith(key + ":", e.Message);
    }

    [Fact]
    public void Modes_read_and_write_by_their_trl_names()
    {
        var config = ConfigFile.Load(new TrainConfig(), null, new[] { "vllm_importance_sampling_mode=token_mask" });
        Assert.Equal(RolloutCorrectionMode.TokenMask, config.VllmImportanceSamplingMode);
        Assert.Contains("vllm_importance_sampling_mode: token_mask", ConfigFile.ToYaml(config));
        var e = Assert.Throws<ArgumentException>(() => ConfigFile.Load(new TrainConfig(), null, new[] { "vllm_importance_sampling_mode=tokens" }));
        Assert.Contains("vllm_importance_sampling_mode: must be token_truncate, token_mask, sequence_truncate, sequence_mask", e.Message);
    }

    [Theory]
    [InlineData("rollout_backend=http", "rollout_servers")]
    [InlineData("rollout_backend=http; rollout_servers=[ftp://x]", "rollout_servers")]
    [InlineData("rollout_backend=http; rollout_servers=[http://a:1,http://a:1]", "rollout_servers")]
    [InlineData("rollout_backend=http; rollout_servers=[http://a:1]; weight_sync=lora", "weight_sync")]
    [InlineData("rollout_backend=http; rollout_servers=[http://a:1]; rollout_dtype=bfloat16", "rollout_dtype")]
    [InlineData("rollout_backend=http; rollout_servers=[http://a:1]; init_arch=qwen3_moe; routing_replay=true", "routing_replay")]
    [InlineData("rollout_timeout=0", "rollout_timeout")]
    [InlineData("rollout_retries=-1", "rollout_retries")]
    [InlineData("rollout_threads=0", "rollout_threads")]
    [InlineData("update_threads=0", "update_threads")]
    public void Inconsistent_backend_settings_are_refused_naming_the_key(string overrides, string key)
    {
        var config = ConfigFile.Load(new TrainConfig(), null, overrides.Split("; "));
        var e = Assert.Throws<ArgumentException>(() => config.Validate());
        Assert.StartsWith(key + ":", e.Message);
    }

    [Fact]
    public void Trls_vllm_server_base_url_is_read_as_the_one_rollout_server()
    {
        var config = ConfigFile.Apply(new TrainConfig(), "rollout_backend: http\nvllm_server_base_url: http://127.0.0.1:8000\n", "run.yaml");
        Assert.Equal(new[] { "http://127.0.0.1:8000" }, config.RolloutServers);
        config.Validate();
        Assert.Contains("rollout_servers: [\"http://127.0.0.1:8000\"]", ConfigFile.ToYaml(config));
        Assert.Equal(GspoSharp.Rollout.RolloutApi.Sglang, ConfigFile.Load(new TrainConfig(), null, new[] { "rollout_api=sglang" }).RolloutApi);
    }
}
