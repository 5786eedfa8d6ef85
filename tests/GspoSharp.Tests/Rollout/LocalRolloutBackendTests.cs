using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Tests.Models.Architecture;

namespace GspoSharp.Tests.Rollout;

public class LocalRolloutBackendTests
{
    static readonly long[][] Prompts = { new long[] { 5, 9, 2 }, new long[] { 17, 3, 44, 8, 1, 30 }, new long[] { 60 }, new long[] { 7, 7 } };

    static CausalLm Model() => ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));

    static readonly SamplingOptions Options = new() { MaxNewTokens = 6, SamplesPerPrompt = 3, Seed = 11 };

    [Fact]
    public async Task Equals_the_engine_and_splitting_into_calls_changes_no_sample()
    {
        var lm = Model();
        using var direct = new RolloutEngine(lm).Generate(Prompts, Options);
        using var whole = new LocalRolloutBackend(lm);
        using var split = new LocalRolloutBackend(lm) { BatchPrompts = 3 };
        using var one = await whole.GenerateAsync(Prompts, Options);
        using var parts = await split.GenerateAsync(Prompts, Options);
        foreach (var result in new[] { one, parts })
        {
            Assert.Equal(direct.Completions.Count, result.Completions.Count);
            for (int i = 0; i < direct.Completions.Count; i++)
            {
                var (a, b) = (direct.Completions[i], result.Completions[i]);
                Assert.Equal((a.PromptIndex, a.SampleIndex, a.FinishReason), (b.PromptIndex, b.SampleIndex, b.FinishReason));
                Assert.Equal(a.CompletionIds, b.CompletionIds);
                // Another split pads the prompts to another width: the same tokens, log-probs equal to rounding.
                for (int t = 0; t < a.LogProbs.Length; t++)
                    Assert.Equal(a.LogProbs[t], b.LogProbs[t], ReferenceEquals(result, one) ? 0f : 1e-5f);
            }
        }
    }

    [Fact]
    public async Task A_model_under_a_million_parameters_samples_on_one_thread_unless_told_and_the_count_is_restored()
    {
        var lm = Model();
        Assert.True(lm.Config.ParameterCount() < IntraOpThreads.SingleThreadParameters);
        using (IntraOpThreads.Use(2))   // the test process runs on one thread (TestSetup); the rule matters with more
        {
            foreach (var (threads, expected) in new (int?, int)[] { (null, 1), (2, 2), (3, 3) })
            {
                var seen = new HashSet<int>();
                using var backend = new LocalRolloutBackend(lm) { Threads = threads, OnToken = (_, _, _) => seen.Add(torch.get_num_threads()) };
                (await backend.GenerateAsync(Prompts, Options)).Dispose();
                Assert.Equal(new[] { expected }, seen);
                Assert.Equal(2, torch.get_num_threads());
            }
            // The thread count changes no sample here.
            using var oneThread = new LocalRolloutBackend(lm) { Threads = 1 };
            using var twoThreads = new LocalRolloutBackend(lm) { Threads = 2 };
            using var one = await oneThread.GenerateAsync(Prompts, Options);
            using var two = await twoThreads.GenerateAsync(Prompts, Options);
            Assert.Equal(one.Completions.Select(c => c.CompletionIds), two.Completions.Select(c => c.CompletionIds));
        }
    }

    [Fact]
    public void IntraOpThreads_sets_the_count_for_its_scope_and_refuses_less_than_one()
    {
        int before = torch.get_num_threads();
        using (IntraOpThreads.Use(before + 1)) Assert.Equal(before + 1, torch.get_num_threads());
        Assert.Equal(before, torch.get_num_threads());
        using (IntraOpThreads.Use(null)) Assert.Equal(before, torch.get_num_threads());
        Assert.Throws<ArgumentOutOfRangeException>(() => IntraOpThreads.Use(0));
        Assert.Equal(before, torch.get_num_threads());
    }

    [Fact]
    public async Task Cancellation_is_observed_between_engine_calls_and_releases_what_was_sampled()
    {
        var lm = Model();
        using var backend = new LocalRolloutBackend(lm);
        using var before = new CancellationTokenSource();
        before.Cancel();
        Assert.Throws<OperationCanceledException>(() => backend.GenerateAsync(Prompts, Options, before.Token).GetAwaiter().GetResult());

        // Cancelled during the first of two calls: the second never starts, the first's result is released.
        using var during = new CancellationTokenSource();
        var seen = new HashSet<int>();
        using var split = new LocalRolloutBackend(lm) { BatchPrompts = 2, OnToken = (p, _, _) => { seen.Add(p); during.Cancel(); } };
        // One full call first, so that what the model keeps between calls (its rotary table, made on first use) exists before counting.
        (await backend.GenerateAsync(Prompts, Options)).Dispose();
        // The count is process-wide and the finalizer thread lowers it whenever a collection frees a tensor an
        // earlier test dropped; collect those first, so that only this call can move the count.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long live = Tensor.TotalCount;
        Assert.Throws<OperationCanceledException>(() => split.GenerateAsync(Prompts, Options, during.Token).GetAwaiter().GetResult());
        Assert.Equal(new[] { 0, 1 }, seen.Order());
        Assert.Equal(live, Tensor.TotalCount);
    }

    [Fact]
    public async Task Weights_changed_is_a_no_op_in_process()
    {
        using var backend = new LocalRolloutBackend(Model());
        Assert.Empty(await backend.WeightsChangedAsync(3));
    }
}

public class Bfloat16RolloutTests
{
    static CausalLm Model() => ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));

    static bool HoldsRounded(LocalRolloutBackend backend, CausalLm lm, Func<string, Tensor>? expected = null)
    {
        var copy = backend.SamplingModel.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        return lm.named_parameters().All(p => copy[p.name].to_type(ScalarType.Float32)
            .eq((expected?.Invoke(p.name) ?? p.parameter.detach()).to_type(ScalarType.BFloat16).to_type(ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public async Task The_sampling_copy_holds_the_policys_weights_rounded_to_bf16_and_follows_updates()
    {
        var lm = Model();
        using var backend = new LocalRolloutBackend(lm, samplingDtype: ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, backend.SamplingModel.DType);
        Assert.True(HoldsRounded(backend, lm));
        using (no_grad())
            foreach (var p in lm.parameters()) p.mul_(1.5);
        Assert.False(HoldsRounded(backend, lm));   // until told
        var metrics = await backend.WeightsChangedAsync(1);
        Assert.True(metrics.ContainsKey("time/weight_sync"));
        Assert.True(HoldsRounded(backend, lm));
    }

    [Fact]
    public void With_lora_the_copy_holds_the_merged_weights()
    {
        var lm = Model();
        GspoSharp.Models.Adapters.Lora.Attach(lm, new GspoSharp.Models.Adapters.LoraSettings(4, 8, 0, new[] { "q_proj", "v_proj" }, false), 3);
        using (no_grad())
            foreach (var (_, layer) in lm.Projections())
                layer.Adapter?.B.copy_(randn(layer.Adapter.B.shape) * 0.5);
        var merged = lm.Projections().Where(p => p.Layer.Adapter is not null).ToDictionary(p => p.Name + ".weight",
            p => (p.Layer.Weight.detach().to_type(ScalarType.Float64) + p.Layer.Adapter!.DeltaWeight()).to_type(ScalarType.Float32));
        Assert.NotEmpty(merged);
        using var backend = new LocalRolloutBackend(lm, samplingDtype: ScalarType.BFloat16);
        Assert.True(HoldsRounded(backend, lm, name => merged.TryGetValue(name, out var w) ? w : lm.named_parameters().First(p => p.name == name).parameter.detach()));
    }

    [Fact]
    public void A_bf16_rollout_measures_a_positive_mismatch_in_training()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "m");
        GspoSharp.Models.TinyModels.Create(path, ModelType.Qwen3, GspoSharp.Models.ModelSize.Tiny, seed: 1);
        using var policy = GspoSharp.Models.LanguageModel.Load(path, chatTemplate: false);
        var config = new GspoSharp.Training.TrainConfig
        {
            PromptsPerStep = 2, NumGenerations = 4, StepsPerGeneration = 2, MaxCompletionLength = 16, LearningRate = 1e-3, MaxSteps = 2, Seed = 5,
            RolloutDtype = RolloutDtype.Bfloat16,
        };
        var rewards = new GspoSharp.Rewards.RewardModel(new[] { new GspoSharp.Rewards.WeightedReward(new GspoSharp.Rewards.AccuracyReward(), 1) });
        using var trainer = new GspoSharp.Training.GspoTrainer(config, policy,
            GspoSharp.Tasks.Dataset.FromTask(GspoSharp.Tasks.SyntheticTask.Get("arithmetic"), GspoSharp.Tasks.TaskSplit.Train, 5), rewards);
        for (int step = 1; step <= 2; step++)
        {
            var m = trainer.Step();
            Assert.True(m["mismatch/token_abs_diff_mean"] > 1e-4, $"step {step}: token_abs_diff_mean {m["mismatch/token_abs_diff_mean"]}");
            Assert.True(m["mismatch/k3_kl"] > 0, $"step {step}: k3 {m["mismatch/k3_kl"]}");
            Assert.True(m["mismatch/seq_log_ratio_max"] > 0);
            Assert.True(m.ContainsKey("time/weight_sync"));
        }
    }
}
