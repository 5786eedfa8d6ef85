using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Tests.Models.Architecture;

namespace GspoSharp.Tests.Rollout;

public class RolloutEngineTests
{
    static readonly long[][] Prompts = { new long[] { 5, 9, 2 }, new long[] { 17, 3, 44, 8, 1, 30 }, new long[] { 60 } };

    /// <summary>Large random weights, so that greedy paths and samples are far from ties.</summary>
    static CausalLm Model(ModelType type) => ModelTestKit.RandomModel(ModelTestKit.Config(type));

    /// <summary>Hugging Face initialisation: logits of realistic size for float32 comparisons.</summary>
    static CausalLm InitializedModel(ModelType type)
    {
        var lm = new CausalLm(ModelTestKit.Config(type));
        lm.InitializeWeights(8, std: 0.1);
        return lm;
    }

    /// <summary>Greedy decoding the slow way: a full forward over the whole sequence for every token.</summary>
    static List<long> GreedyByFullForward(CausalLm lm, long[] prompt, int maxNew, long? eos = null)
    {
        using var noGrad = no_grad();
        var ids = prompt.ToList();
        var completion = new List<long>();
        for (int i = 0; i < maxNew; i++)
        {
            using var scope = NewDisposeScope();
            var logits = lm.Logits(lm.Forward(tensor(ids.ToArray()).unsqueeze(0)))[0, -1];
            long next = logits.argmax().item<long>();
            completion.Add(next);
            ids.Add(next);
            if (next == eos) break;
        }
        return completion;
    }

    [Theory]
    [InlineData(ModelType.Qwen3)]
    [InlineData(ModelType.Qwen3Moe)]
    [InlineData(ModelType.Llama)]
    public void Greedy_with_the_cache_equals_greedy_by_full_forwards(ModelType type)
    {
        using var lm = Model(type);
        using var result = new RolloutEngine(lm).Generate(Prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = 12 });
        Assert.Equal(3, result.Completions.Count);
        foreach (var c in result.Completions)
        {
            Assert.Equal(GreedyByFullForward(lm, Prompts[c.PromptIndex], 12), c.CompletionIds);
            Assert.Equal(FinishReason.Length, c.FinishReason);
        }
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.6)]
    [InlineData(0.0)]
    public void Sampler_log_probs_equal_scoring_the_completion(double temperature)
    {
        using var lm = InitializedModel(ModelType.Qwen3Moe);
        using var result = new RolloutEngine(lm).Generate(Prompts,
            new SamplingOptions { Temperature = temperature, TopK = 20, TopP = 0.9, MaxNewTokens = 10, SamplesPerPrompt = 2, Seed = 4 });
        using var noGrad = no_grad();
        foreach (var c in result.Completions)
        {
            using var scope = NewDisposeScope();
            var full = tensor(c.PromptIds.Concat(c.CompletionIds).ToArray()).unsqueeze(0);
            var target = zeros(1, full.shape[1] - 1, ScalarType.Bool);
            target[0, (c.PromptIds.Length - 1)..] = true;
            // Greedy log-probs are those of the untempered distribution.
            using var scores = lm.ScoreTokens(full, ones(1, full.shape[1]), target, temperature == 0 ? 1 : temperature);
            var expected = scores.LogProbs[0].narrow(0, c.PromptIds.Length - 1, c.CompletionIds.Length).data<float>().ToArray();
            for (int t = 0; t < expected.Length; t++)
                Assert.True(Math.Abs(expected[t] - c.LogProbs[t]) <= 1e-5, $"token {t}: sampler {c.LogProbs[t]}, score {expected[t]}");
        }
    }

    [Fact]
    public void Same_seed_same_samples_whatever_the_other_prompts_in_the_batch()
    {
        using var lm = Model(ModelType.Qwen3);
        var options = new SamplingOptions { MaxNewTokens = 15, SamplesPerPrompt = 3, Seed = 21 };
        var engine = new RolloutEngine(lm);
        using var a = engine.Generate(Prompts, options);
        using var b = engine.Generate(Prompts, options);
        Assert.Equal(a.Completions.Select(c => c.CompletionIds), b.Completions.Select(c => c.CompletionIds));
        Assert.NotEqual(a.Completions[0].CompletionIds, a.Completions[1].CompletionIds);   // samples of a prompt differ

        // A sample's random stream is fixed by (seed, prompt index, sample index): replacing another
        // prompt of the batch (changing its length, hence the padding) changes nothing for the others.
        using var mixed = engine.Generate(new[] { Prompts[0], new long[] { 7, 7, 7, 7, 7, 7, 7, 7, 7 }, Prompts[2] }, options);
        foreach (int prompt in new[] { 0, 2 })
            for (int s = 0; s < 3; s++)
                Assert.Equal(a.Completions.Single(c => c.PromptIndex == prompt && c.SampleIndex == s).CompletionIds,
                    mixed.Completions.Single(c => c.PromptIndex == prompt && c.SampleIndex == s).CompletionIds);

        using var other = engine.Generate(Prompts, options with { Seed = 22 });
        Assert.NotEqual(a.Completions.Select(c => c.CompletionIds), other.Completions.Select(c => c.CompletionIds));
    }

    [Fact]
    public void Top_k_of_one_is_greedy()
    {
        using var lm = Model(ModelType.Qwen2);
        var engine = new RolloutEngine(lm);
        using var greedy = engine.Generate(Prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = 8 });
        using var topOne = engine.Generate(Prompts, new SamplingOptions { Temperature = 1.3, TopK = 1, MaxNewTokens = 8, Seed = 5 });
        Assert.Equal(greedy.Completions.Select(c => c.CompletionIds), topOne.Completions.Select(c => c.CompletionIds));
    }

    [Fact]
    public void End_of_sequence_tokens_and_stop_strings_end_a_sample_with_reason_stop()
    {
        using var lm = Model(ModelType.Qwen3);
        var engine = new RolloutEngine(lm);
        using var free = engine.Generate(Prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = 10 });
        long eos = free.Completions[1].CompletionIds[3];     // the 4th greedy token of prompt 1 acts as EOS
        using var stopped = engine.Generate(Prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = 10, EosTokenIds = new[] { eos } });
        var c = stopped.Completions[1];
        Assert.Equal(FinishReason.Stop, c.FinishReason);
        Assert.Equal(eos, c.CompletionIds[^1]);
        Assert.Equal(free.Completions[1].CompletionIds.TakeWhile(t => t != eos).Append(eos), c.CompletionIds);
        Assert.Equal(GreedyByFullForward(lm, Prompts[1], 10, eos), c.CompletionIds);

        // A toy decoder (one letter per id): stop when the text contains the letters of tokens 2 and 3.
        string Decode(IReadOnlyList<long> ids) => string.Concat(ids.Select(i => (char)('A' + i % 26)));
        var tokens = free.Completions[0].CompletionIds;
        string stop = Decode(new[] { tokens[2], tokens[3] });
        using var byString = new RolloutEngine(lm, Decode).Generate(Prompts, new SamplingOptions { Temperature = 0, MaxNewTokens = 10, StopStrings = new[] { stop } });
        var s = byString.Completions[0];
        Assert.Equal(FinishReason.Stop, s.FinishReason);
        Assert.Contains(stop, s.Text);
        Assert.True(s.CompletionIds.Length <= 4);
    }

    [Fact]
    public void Routing_records_match_a_recorded_full_forward()
    {
        using var lm = Model(ModelType.Qwen3Moe);
        using var result = new RolloutEngine(lm).Generate(Prompts, new SamplingOptions { MaxNewTokens = 6, SamplesPerPrompt = 2, Seed = 3, RecordRouting = true });
        using var noGrad = no_grad();
        foreach (var c in result.Completions)
        {
            using var scope = NewDisposeScope();
            var inputs = c.PromptIds.Concat(c.CompletionIds.SkipLast(1)).ToArray();
            var recording = RoutingContext.Recording(lm.Config.NumHiddenLayers);
            lm.Forward(tensor(inputs).unsqueeze(0), routing: recording);
            using var expected = recording.Record!;
            for (int layer = 0; layer < lm.Config.NumHiddenLayers; layer++)
            {
                Assert.Equal(expected.ExpertIds[layer]!.shape, c.Routing!.ExpertIds[layer]!.shape);
                Assert.Equal(0.0, RoutingRecord.Volatility(expected, c.Routing, ones(1, inputs.Length)));
            }
        }
    }

    [Fact]
    public void Prompts_that_do_not_fit_and_bad_options_are_refused()
    {
        using var lm = Model(ModelType.Llama);   // context 2048
        var engine = new RolloutEngine(lm);
        Assert.Contains("prompt 0 has 2048 tokens; the model's context is 2048",
            Assert.Throws<ArgumentException>(() => engine.Generate(new[] { new long[2048] }, new SamplingOptions())).Message);
        Assert.Contains("max_new_tokens must be ≥ 1",
            Assert.Throws<ArgumentException>(() => engine.Generate(Prompts, new SamplingOptions { MaxNewTokens = 0 })).Message);
        Assert.Contains("token id 99",
            Assert.Throws<ArgumentException>(() => engine.Generate(new[] { new long[] { 1, 99 } }, new SamplingOptions())).Message);
        Assert.Contains("top_p must be in (0, 1]",
            Assert.Throws<ArgumentException>(() => engine.Generate(Prompts, new SamplingOptions { TopP = 0 })).Message);
        Assert.Contains("stop strings need a tokenizer",
            Assert.Throws<ArgumentException>(() => engine.Generate(Prompts, new SamplingOptions { StopStrings = new[] { "x" } })).Message);

        // A prompt near the end of the context generates only up to it.
        using var result = engine.Generate(new[] { new long[2046] }, new SamplingOptions { MaxNewTokens = 10 });
        Assert.Equal(2, result.Completions[0].CompletionIds.Length);
        Assert.Equal(FinishReason.Length, result.Completions[0].FinishReason);
    }
}
