using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Tests.Models;

/// <summary>Deeper and wider tiny models for the expert-volatility studies (init_num_* keys).</summary>
public class ModelShapeTests
{
    [Fact]
    public void A_shape_overrides_depth_experts_top_k_and_expert_width_and_keeps_the_rest()
    {
        var plain = TinyConfigs.Create(ModelType.Qwen3Moe, ModelSize.Tiny, 512);
        var deep = TinyConfigs.Create(ModelType.Qwen3Moe, ModelSize.Tiny, 512, shape: new ModelShape(16, 64, 8, 16));
        Assert.Equal((4, 8, 2, 32), (plain.NumHiddenLayers, plain.NumExperts, plain.NumExpertsPerTok, plain.MoeIntermediateSize));
        Assert.Equal((16, 64, 8, 16), (deep.NumHiddenLayers, deep.NumExperts, deep.NumExpertsPerTok, deep.MoeIntermediateSize));
        Assert.Equal((plain.HiddenSize, plain.NumAttentionHeads, plain.VocabSize), (deep.HiddenSize, deep.NumAttentionHeads, deep.VocabSize));
        Assert.True(Enumerable.Range(0, 16).All(deep.IsMoeLayer));
        var dense = TinyConfigs.Create(ModelType.Qwen3, ModelSize.Tiny, 512, shape: new ModelShape(NumHiddenLayers: 8));
        Assert.Equal((8, 128), (dense.NumHiddenLayers, dense.IntermediateSize));
        Assert.Equal(plain.ToJson().ToJsonString(), TinyConfigs.Create(ModelType.Qwen3Moe, ModelSize.Tiny, 512, shape: ModelShape.Default).ToJson().ToJsonString());
    }

    [Fact]
    public void Impossible_shapes_are_refused_naming_the_key()
    {
        string Error(ModelType type, ModelShape shape) =>
            Assert.Throws<ArgumentException>(() => TinyConfigs.Create(type, ModelSize.Tiny, 512, shape: shape)).Message;
        Assert.Equal("num_experts_per_tok is 9 but the model has 8 experts.", Error(ModelType.Qwen3Moe, new(NumExpertsPerTok: 9)));
        Assert.Equal("num_experts applies to qwen3_moe models only, not qwen3.", Error(ModelType.Qwen3, new(NumExperts: 16)));
        Assert.Equal("moe_intermediate_size applies to qwen3_moe models only, not llama.", Error(ModelType.Llama, new(MoeIntermediateSize: 8)));
        Assert.StartsWith("num_hidden_layers is 0;", Error(ModelType.Qwen3, new(NumHiddenLayers: 0)));
        Assert.StartsWith("num_experts is 0;", Error(ModelType.Qwen3Moe, new(NumExperts: 0)));
    }

    [Fact]
    public void A_deep_wide_moe_runs_and_routes_each_token_to_k_experts_in_every_layer()
    {
        var config = TinyConfigs.Create(ModelType.Qwen3Moe, ModelSize.Tiny, 512, shape: new ModelShape(8, 16, 4));
        using var model = new CausalLm(config);
        model.InitializeWeights(1);
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 5, 17, 42, 99, 3 }).unsqueeze(0);
        var recording = RoutingContext.Recording(config.NumHiddenLayers);
        using (no_grad())
        {
            var hidden = model.Forward(ids, routing: recording);
            Assert.Equal(new long[] { 1, 5, config.HiddenSize }, hidden.shape);
        }
        using var record = recording.Record!;
        Assert.Equal(8, record.ExpertIds.Length);
        Assert.All(record.ExpertIds, l => Assert.Equal(new long[] { 1, 5, 4 }, l!.shape));
    }
}
