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
    public void Cancellation_is_observed_between_engine_calls_and_releases_what_was_sampled()
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
