using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using TorchSharp.Modules;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>Recomputing each layer in the backward pass gives the gradients of the ordinary backward.</summary>
public class GradientCheckpointingTests
{
    static Dictionary<string, double[]> Gradients(CausalLm lm, bool checkpointing, IReadOnlyList<(string Name, Parameter Parameter)> parameters)
    {
        lm.GradientCheckpointing = checkpointing;
        foreach (var (_, p) in parameters) p.grad = null;
        using (var scope = NewDisposeScope())
        {
            random.manual_seed(5);   // the same dropout masks in both runs
            var ids = tensor(new long[] { 4, 9, 13, 2, 7, 7, 30, 11, 22, 1, 40, 3, 3, 18, 5, 6 }, new long[] { 2, 8 });
            var mask = tensor(new[] { true, true, true, true, true, true, true, true, false, false, true, true, true, true, true, true }, new long[] { 2, 8 });
            using var scores = lm.ScoreTokens(ids, mask, mask.narrow(1, 1, 7));
            (scores.LogProbs.sum() + scores.Entropy.sum()).backward();
        }
        return parameters.ToDictionary(p => p.Name, p => p.Parameter.grad is { } g ? Row(g) : Array.Empty<double>());
    }

    [Theory]
    [InlineData(ModelType.Qwen3, false)]
    [InlineData(ModelType.Qwen3Moe, false)]
    [InlineData(ModelType.Qwen2, true)]
    [InlineData(ModelType.Qwen3, true)]
    public void Checkpointed_gradients_equal_the_ordinary_ones(ModelType type, bool lora)
    {
        using var lm = RandomModel(Config(type), dtype: ScalarType.Float64);
        if (lora)
        {
            Lora.Attach(lm, new LoraSettings(4, 8, 0.3, new[] { LoraSettings.AllLinear }, false), seed: 1);
            Adapters.LoraTests.Randomize(lm, 0.2);
        }
        lm.train();
        var parameters = lm.TrainableParameters();
        int before = LayerRecompute.Recomputations;
        var plain = Gradients(lm, false, parameters);
        Assert.Equal(before, LayerRecompute.Recomputations);
        var recomputed = Gradients(lm, true, parameters);
        Assert.Equal(before + lm.Config.NumHiddenLayers, LayerRecompute.Recomputations);
        Assert.Contains(plain.Values, g => g.Any(v => v != 0));
        foreach (var (name, g) in plain)
        {
            Assert.Equal(g.Length, recomputed[name].Length);
            for (int i = 0; i < g.Length; i++)
                Assert.True(Math.Abs(g[i] - recomputed[name][i]) <= 1e-10 * (1 + Math.Abs(g[i])), $"{name}[{i}]: {g[i]} vs {recomputed[name][i]}");
        }
    }

    /// <summary>Tensors left in the caller's dispose scope by the backward pass of a LoRA model with a
    /// bfloat16 base, checkpointed, with <paramref name="layers"/> layers.</summary>
    static int LeftByBackward(int layers)
    {
        using var lm = RandomModel(Config(ModelType.Qwen3, edit: j => j["num_hidden_layers"] = layers));
        Lora.StoreBase(lm, ScalarType.BFloat16);
        Lora.Attach(lm, new LoraSettings(4, 8, 0.0, new[] { LoraSettings.AllLinear }, false), seed: 1);
        lm.GradientCheckpointing = true;
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 4, 9, 13, 2, 7, 7, 30, 11 }, new long[] { 1, 8 });
        var mask = ones(1, 8, ScalarType.Bool);
        using var scores = lm.ScoreTokens(ids, mask, mask.narrow(1, 1, 7));
        var loss = scores.LogProbs.sum();
        int before = scope.DisposablesCount;
        loss.backward();
        return scope.DisposablesCount - before;
    }

    [Fact]
    public void A_recomputed_layer_leaves_only_its_input_gradient_behind()
    {
        // Each layer's recomputation runs seven widened projections, whose gradients TorchSharp wraps in
        // tensors; those must go with the layer, not stay in the caller's scope until its update ends.
        // What a layer leaves: the gradient it received and the one it returns.
        Assert.Equal(2 * 2, LeftByBackward(4) - LeftByBackward(2));
    }
}
