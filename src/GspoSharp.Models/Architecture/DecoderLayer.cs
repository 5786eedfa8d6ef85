using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>A pre-norm decoder layer: h = x + attn(norm(x)); out = h + mlp(norm(h)).</summary>
public sealed class DecoderLayer : nn.Module
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    readonly RmsNorm input_layernorm;
    readonly Attention self_attn;
    readonly RmsNorm post_attention_layernorm;
    readonly nn.Module mlp;   // SwiGlu, or SparseMoe on the MoE layers of Qwen3-MoE
#pragma warning restore IDE1006
    readonly int index;

    /// <summary>Layer <paramref name="index"/> of a model with <paramref name="config"/>.</summary>
    public DecoderLayer(ModelConfig config, int index, ScalarType dtype) : base(nameof(DecoderLayer))
    {
        this.index = index;
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype);
        self_attn = new Attention(config, dtype);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype);
        mlp = config.IsMoeLayer(index)
            ? new SparseMoe(config, dtype)
            : new SwiGlu(config.HiddenSize, config.IntermediateSize, config.MlpBias, dtype);
        RegisterComponents();
    }

    /// <summary>The layer's attention.</summary>
    internal Attention SelfAttention => self_attn;

    /// <summary>The layer's dense MLP, or null on an MoE layer.</summary>
    internal SwiGlu? DenseMlp => mlp as SwiGlu;

    /// <summary>x [B, t, d] → [B, t, d].</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, RoutingContext? routing, bool groupedExperts)
    {
        using var scope = NewDisposeScope();
        var h = x.add(self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, index), Scalars.One);
        var normed = post_attention_layernorm.forward(h);
        var update = mlp is SparseMoe moe
            ? moe.Forward(normed, index, routing, groupedExperts)
            : ((SwiGlu)mlp).forward(normed);
        return h.add(update, Scalars.One).MoveToOuterDisposeScope();
    }
}
