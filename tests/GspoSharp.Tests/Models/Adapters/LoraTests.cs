using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Adapters;

/// <summary>LoRA on the decoder: y = W x + s·B·A·dropout(x), checked against weights merged by hand.</summary>
public class LoraTests
{
    static readonly LoraSettings AllLinear = new(4, 8, 0, new[] { LoraSettings.AllLinear }, false);

    static Tensor Ids() => tensor(new long[] { 4, 9, 13, 2, 7, 7, 30, 11, 22, 1, 40, 3, 3, 18, 5, 6 }, new long[] { 2, 8 });

    /// <summary>Gives every adapter random A and B (N(0, <paramref name="std"/>)), so B A ≠ 0.</summary>
    internal static void Randomize(CausalLm lm, double std, long seed = 11)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (_, layer) in lm.Projections())
            if (layer.Adapter is { } adapter)
            {
                adapter.A.copy_(randn(adapter.A.shape, generator: generator).to_type(adapter.A.dtype) * std);
                adapter.B.copy_(randn(adapter.B.shape, generator: generator).to_type(adapter.B.dtype) * std);
            }
    }

    public static TheoryData<ModelType, ScalarType> TypesAndPrecisions()
    {
        var data = new TheoryData<ModelType, ScalarType>();
        foreach (var type in AllTypes)
            foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
                data.Add(type, dtype);
        return data;
    }

    static CausalLm Model(ModelType type, ScalarType dtype)
    {
        if (dtype == ScalarType.Float64) return RandomModel(Config(type), dtype: dtype);
        var lm = new CausalLm(Config(type));
        lm.InitializeWeights(5);
        return lm;
    }

    [Theory]
    [MemberData(nameof(TypesAndPrecisions))]
    public void Adapted_forward_equals_the_forward_of_weights_merged_by_hand(ModelType type, ScalarType dtype)
    {
        using var adapted = Model(type, dtype);
        using var merged = Model(type, dtype);
        var settings = AllLinear with { UseRslora = type == ModelType.Qwen2 };   // one architecture checks α/√r
        Lora.Attach(adapted, settings, seed: 1);
        Randomize(adapted, dtype == ScalarType.Float64 ? 0.3 : 0.05);
        double s = type == ModelType.Qwen2 ? 8 / Math.Sqrt(4) : 8.0 / 4;

        // W' = W + s·B·A with plain loops in float64, written into the second model.
        var targets = Parameters(merged);
        using (no_grad())
            foreach (var (name, layer) in adapted.Projections())
            {
                var a = Row(layer.Adapter!.A);
                var b = Row(layer.Adapter.B);
                var w = Row(layer.Weight);
                long rows = layer.OutFeatures, cols = layer.InFeatures, r = 4;
                for (long o = 0; o < rows; o++)
                    for (long i = 0; i < cols; i++)
                    {
                        double sum = 0;
                        for (long k = 0; k < r; k++) sum += b[o * r + k] * a[k * cols + i];
                        w[o * cols + i] += s * sum;
                    }
                targets[name + ".weight"].copy_(tensor(w, new[] { rows, cols }).to_type(dtype));
            }

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = Ids();
        double diff = MaxDiff(adapted.Logits(adapted.Forward(ids)), merged.Logits(merged.Forward(ids)));
        Assert.True(diff < (dtype == ScalarType.Float64 ? 1e-10 : 1e-5), $"max |Δlogit| = {diff}");
        Assert.True(MaxDiff(adapted.Logits(adapted.Forward(ids)), Base(type, dtype, ids)) > 1e-3, "the adapters must change the output");
    }

    static Tensor Base(ModelType type, ScalarType dtype, Tensor ids)
    {
        using var lm = Model(type, dtype);
        return lm.Logits(lm.Forward(ids));
    }

    [Theory]
    [MemberData(nameof(TypesAndPrecisions))]
    public void Fresh_adapters_and_switched_off_adapters_leave_the_base_model_exactly(ModelType type, ScalarType dtype)
    {
        using var lm = Model(type, dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = Ids();
        var before = lm.Logits(lm.Forward(ids));
        Lora.Attach(lm, AllLinear, seed: 1);   // B = 0
        Assert.All(lm.Projections(), p => Assert.All(Row(p.Layer.Adapter!.B), v => Assert.Equal(0.0, v)));
        Assert.Equal(0, MaxDiff(before, lm.Logits(lm.Forward(ids))));
        Randomize(lm, 0.3);
        lm.SetAdaptersEnabled(false);
        Assert.Equal(0, MaxDiff(before, lm.Logits(lm.Forward(ids))));
        lm.SetAdaptersEnabled(true);
        Assert.True(MaxDiff(before, lm.Logits(lm.Forward(ids))) > 1e-3);
    }

    [Fact]
    public void A_is_kaiming_uniform_in_plus_minus_one_over_root_fan_in_and_depends_only_on_the_seed()
    {
        using var one = Model(ModelType.Qwen3, ScalarType.Float32);
        using var two = Model(ModelType.Qwen3, ScalarType.Float32);
        Lora.Attach(one, AllLinear, seed: 7);
        Lora.Attach(two, AllLinear, seed: 7);
        foreach (var ((_, x), (_, y)) in one.Projections().Zip(two.Projections()))
        {
            double bound = 1 / Math.Sqrt(x.InFeatures);
            var a = Row(x.Adapter!.A);
            Assert.All(a, v => Assert.InRange(v, -bound, bound));
            Assert.True(a.Max() - a.Min() > bound, "spread over the interval");
            Assert.Equal(a, Row(y.Adapter!.A));
            Assert.Equal(new long[] { 4, x.InFeatures }, x.Adapter.A.shape);
            Assert.Equal(new long[] { x.OutFeatures, 4 }, x.Adapter.B.shape);
        }
    }

    [Fact]
    public void Only_adapter_parameters_get_gradients_and_they_are_the_trainable_ones()
    {
        using var lm = Model(ModelType.Qwen3Moe, ScalarType.Float32);
        var names = lm.named_parameters().Select(p => p.name).ToList();
        var settings = new LoraSettings(2, 4, 0, new[] { "q_proj", "v_proj", "down_proj" }, false);
        int count = Lora.Attach(lm, settings, seed: 3);
        Randomize(lm, 0.05);
        Assert.Equal(names, lm.named_parameters().Select(p => p.name).ToList());   // the HF state dict is untouched
        var trainable = lm.TrainableParameters();
        Assert.Equal(2 * count, trainable.Count);
        Assert.Contains(trainable, p => p.Name == "model.layers.0.self_attn.q_proj.lora_A.weight");
        Assert.Contains(trainable, p => p.Name == "model.layers.1.mlp.experts.0.down_proj.lora_B.weight");
        Assert.All(trainable, p => Assert.Matches(@"\.(q_proj|v_proj|down_proj)\.lora_[AB]\.weight$", p.Name));

        lm.train();
        using (var scope = NewDisposeScope())
        {
            var ids = Ids();
            using var scores = lm.ScoreTokens(ids, ones_like(ids), ones(new long[] { 2, 7 }, ScalarType.Bool));
            scores.LogProbs.sum().backward();
        }
        Assert.All(lm.named_parameters(), p => Assert.Null(p.parameter.grad));
        Assert.All(trainable.Where(p => !p.Name.Contains("experts")), p => Assert.True(p.Parameter.grad!.abs().sum().item<float>() > 0, p.Name));
    }

    [Fact]
    public void Dropout_acts_in_training_mode_only()
    {
        using var lm = Model(ModelType.Qwen3, ScalarType.Float64);
        Lora.Attach(lm, AllLinear with { Dropout = 0.5 }, seed: 1);
        Randomize(lm, 0.3);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var ids = Ids();
        lm.eval();
        var first = lm.Forward(ids);
        Assert.Equal(0, MaxDiff(first, lm.Forward(ids)));
        lm.train();
        Assert.True(MaxDiff(first, lm.Forward(ids)) > 1e-3);
        lm.eval();
    }

    [Fact]
    public void Saving_an_adapted_model_writes_the_base_alone()
    {
        using var dir = new TempDirectory();
        using var lm = Model(ModelType.Qwen3, ScalarType.Float32);
        var before = Parameters(lm).ToDictionary(p => p.Key, p => Row(p.Value));
        Lora.Attach(lm, AllLinear, seed: 1);
        Randomize(lm, 0.05);
        ModelDirectory.Save(lm, dir.Path);
        using var loaded = ModelDirectory.Load(dir.Path);
        Assert.Equal(before.Keys.Order(), Parameters(loaded).Keys.Order());
        foreach (var (name, value) in Parameters(loaded)) Assert.Equal(before[name], Row(value));
    }

    [Theory]
    [InlineData(0, 32, 0.05, "q_proj", "lora_r: is 0")]
    [InlineData(8, 0, 0.05, "q_proj", "lora_alpha: is 0")]
    [InlineData(8, 16, 1.0, "q_proj", "lora_dropout: is 1")]
    [InlineData(8, 16, 0.0, "qkv", "lora_target_modules: unknown module 'qkv'")]
    [InlineData(8, 16, 0.0, "", "lora_target_modules: is empty")]
    public void Bad_settings_are_refused_naming_the_key(int r, double alpha, double dropout, string targets, string message)
    {
        var settings = new LoraSettings(r, alpha, dropout, targets.Split(',', StringSplitOptions.RemoveEmptyEntries), false);
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => settings.Validate()).Message);
    }

    [Fact]
    public void A_target_the_model_lacks_is_refused()
    {
        using var lm = Model(ModelType.Qwen3, ScalarType.Float32);
        var error = Assert.Throws<ArgumentException>(() => Lora.Attach(lm, AllLinear with { TargetModules = new[] { "gate" } }, 1));
        Assert.Equal("lora_target_modules: the qwen3 model has no module 'gate'.", error.Message);
    }
}
