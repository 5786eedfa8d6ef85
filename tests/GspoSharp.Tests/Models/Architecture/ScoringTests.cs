using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>Chunked log-probs and entropies equal the plain log-softmax of the full logits, gradients included.</summary>
public class ScoringTests
{
    [Theory]
    [InlineData(1.0)]
    [InlineData(0.7)]
    public void Chunked_log_probs_and_gradients_equal_the_plain_computation(double temperature)
    {
        // 3 × 130 positions, some rows masked out (one chunk: the small vocabulary fits 390 rows in one;
        // Any_chunking_gives_the_same_log_probs_and_gradients covers several).
        var config = Config(ModelType.Qwen3, vocab: 97, edit: j => j["tie_word_embeddings"] = false);
        using var lm = RandomModel(config, dtype: ScalarType.Float64);
        using var scope = NewDisposeScope();
        var ids = randint(0, 97, new long[] { 3, 131 }, generator: new Generator(2));
        var mask = ones(3, 131, ScalarType.Bool);
        mask[1, ..20] = false;                                            // left padding on row 1
        var target = mask.narrow(1, 1, 130).logical_and(mask.narrow(1, 0, 130));
        target[2, ..50] = false;                                          // a "prompt" not scored

        using var scores = lm.ScoreTokens(ids, mask, target, temperature);
        var chunkedLoss = (scores.LogProbs * linspace(-1, 2, 130, ScalarType.Float64)).sum();
        chunkedLoss.backward();
        var chunkedGrads = lm.parameters().Select(p => p.grad!.clone()).ToList();
        lm.zero_grad();

        var logits = lm.Logits(lm.Forward(ids, mask)).narrow(1, 0, 130) / temperature;
        var logSoftmax = logits.log_softmax(-1);
        var plain = logSoftmax.gather(2, ids.narrow(1, 1, 130).unsqueeze(-1)).squeeze(-1).masked_fill(target.logical_not(), 0);
        var entropy = -(logSoftmax.exp() * logSoftmax).sum(-1).masked_fill(target.logical_not(), 0);
        (plain * linspace(-1, 2, 130, ScalarType.Float64)).sum().backward();

        Assert.True(MaxDiff(plain, scores.LogProbs) <= 1e-10, "log-probs");
        Assert.True(MaxDiff(entropy, scores.Entropy) <= 1e-10, "entropies");
        Assert.True(scores.LogProbs.requires_grad);
        Assert.False(scores.Entropy.requires_grad);   // metrics only: no gradient flows through them
        var plainGrads = lm.parameters().Select(p => p.grad!).ToList();
        for (int i = 0; i < plainGrads.Count; i++)
            Assert.True(MaxDiff(plainGrads[i], chunkedGrads[i]) <= 1e-9, $"gradient of parameter {i}");
        Assert.Equal(0.0, scores.LogProbs.masked_select(target.logical_not()).abs().sum().item<double>());
    }

    [Theory]
    [InlineData(1L)]
    [InlineData(7L)]
    [InlineData(64L)]
    public void Any_chunking_gives_the_same_log_probs_and_gradients(long chunkRows)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(4);
        var hidden = randn(new long[] { 150, 12 }, ScalarType.Float64, generator: generator).requires_grad_();
        var weight = randn(new long[] { 33, 12 }, ScalarType.Float64, generator: generator).requires_grad_();
        var targets = randint(0, 33, new long[] { 150 }, generator: generator);
        var coefficients = linspace(-1, 2, 150, ScalarType.Float64);

        // The plain computation, all 150 rows of logits at once.
        var logSoftmax = (hidden.matmul(weight.t()) / 0.7).log_softmax(-1);
        var plain = logSoftmax.gather(1, targets.unsqueeze(1)).squeeze(1);
        var entropy = -(logSoftmax.exp() * logSoftmax).sum(-1);
        var (plainHidden, plainWeight) = Gradients(plain);

        var (chunked, chunkedEntropy) = SelectedLogProbs.Compute(hidden, weight, targets, 0.7, chunkRows);
        var (chunkedHidden, chunkedWeight) = Gradients(chunked);
        Assert.True(MaxDiff(plain, chunked) <= 1e-12, "log-probs");
        Assert.True(MaxDiff(entropy, chunkedEntropy) <= 1e-12, "entropies");
        Assert.True(MaxDiff(plainHidden, chunkedHidden) <= 1e-12, "gradient of the hidden states");
        Assert.True(MaxDiff(plainWeight, chunkedWeight) <= 1e-12, "gradient of the weight");

        (Tensor, Tensor) Gradients(Tensor logProbs)
        {
            var grads = autograd.grad(new[] { (logProbs * coefficients).sum() }, new[] { hidden, weight });
            return (grads[0], grads[1]);
        }
    }

    [Theory]
    [InlineData(true, false)]    // LoRA: a frozen output head, gradients flow to the hidden states only
    [InlineData(false, true)]    // a frozen body: only the head's gradient
    public void A_frozen_input_gets_no_gradient_and_the_other_the_plain_one(bool hiddenTrains, bool weightTrains)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(5);
        var hidden = randn(new long[] { 40, 8 }, ScalarType.Float64, generator: generator).requires_grad_(hiddenTrains);
        var weight = randn(new long[] { 29, 8 }, ScalarType.Float64, generator: generator).requires_grad_(weightTrains);
        var targets = randint(0, 29, new long[] { 40 }, generator: generator);
        var coefficients = linspace(-1, 2, 40, ScalarType.Float64);
        var trained = hiddenTrains ? hidden : weight;

        var plain = (hidden.matmul(weight.t()) / 1.3).log_softmax(-1).gather(1, targets.unsqueeze(1)).squeeze(1);
        var expected = autograd.grad(new[] { (plain * coefficients).sum() }, new[] { trained })[0];

        var (chunked, _) = SelectedLogProbs.Compute(hidden, weight, targets, 1.3, chunkRows: 7);
        (chunked * coefficients).sum().backward();
        Assert.True(MaxDiff(expected, trained.grad!) <= 1e-12, "gradient of the trained input");
        Assert.Null((hiddenTrains ? weight : hidden).grad);
    }

    [Fact]
    public void Tied_embeddings_are_one_parameter()
    {
        using var lm = new CausalLm(Config(ModelType.Qwen3));
        var names = lm.named_parameters().Select(p => p.name).ToList();
        Assert.DoesNotContain("lm_head.weight", names);
        Assert.Contains("model.embed_tokens.weight", names);
        var embedding = lm.named_parameters().Single(p => p.name == "model.embed_tokens.weight").parameter;
        Assert.Equal(embedding.storage<float>().data_ptr(), lm.OutputWeight.storage<float>().data_ptr());

        using var untied = new CausalLm(Config(ModelType.Qwen3, edit: j => j["tie_word_embeddings"] = false));
        Assert.Contains("lm_head.weight", untied.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void Parameter_count_matches_the_modules()
    {
        foreach (var config in AllTypes.Select(t => Config(t)).Append(Config(ModelType.Llama, edit: j => { j["mlp_bias"] = true; j["attention_bias"] = true; })))
        {
            using var lm = new CausalLm(config);
            Assert.Equal(lm.parameters().Sum(p => p.numel()), config.ParameterCount());
        }
    }
}
