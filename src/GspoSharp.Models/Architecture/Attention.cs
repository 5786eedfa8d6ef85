using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Grouped-query self-attention with RoPE: H query heads share H_kv key/value heads. Qwen3
/// normalises each head's q and k (RMSNorm over head_dim) before RoPE; Qwen2 has q/k/v biases.
/// </summary>
public sealed class Attention : nn.Module
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    readonly ProjectionLinear q_proj;
    readonly ProjectionLinear k_proj;
    readonly ProjectionLinear v_proj;
    readonly ProjectionLinear o_proj;
    readonly RmsNorm? q_norm;
    readonly RmsNorm? k_norm;
#pragma warning restore IDE1006
    readonly int heads, kvHeads, headDim;

    /// <summary>The attention of one decoder layer.</summary>
    public Attention(ModelConfig config, ScalarType dtype) : base(nameof(Attention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.NumKeyValueHeads;
        headDim = config.HeadDim;
        q_proj = new ProjectionLinear(config.HiddenSize, heads * headDim, config.QkvBias, dtype);
        k_proj = new ProjectionLinear(config.HiddenSize, kvHeads * headDim, config.QkvBias, dtype);
        v_proj = new ProjectionLinear(config.HiddenSize, kvHeads * headDim, config.QkvBias, dtype);
        o_proj = new ProjectionLinear(heads * headDim, config.HiddenSize, config.OutputBias, dtype);
        if (config.QkNorm)
        {
            q_norm = new RmsNorm(headDim, config.RmsNormEps, dtype);
            k_norm = new RmsNorm(headDim, config.RmsNormEps, dtype);
        }
        RegisterComponents();
    }

    /// <summary>
    /// x [B, t, d] → [B, t, d]. <paramref name="mask"/> [B, 1, t, L] is true where a query may attend
    /// a key; with a cache, L = cached + t and the new keys/values are appended to layer
    /// <paramref name="layer"/>'s cache.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, heads, headDim);
        var k = k_proj.forward(x).view(b, t, kvHeads, headDim);
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        if (q_norm is not null) q = q_norm.forward(q);
        if (k_norm is not null) k = k_norm.forward(k);
        q = RotaryEmbedding.Apply(q.transpose(1, 2), cos, sin);            // [B, H, t, D]
        k = RotaryEmbedding.Apply(k.transpose(1, 2), cos, sin);            // [B, H_kv, t, D]
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        if (heads != kvHeads)
        {
            k = k.repeat_interleave(heads / kvHeads, dim: 1);
            v = v.repeat_interleave(heads / kvHeads, dim: 1);
        }
        var attended = nn.functional.scaled_dot_product_attention(q, k, v, mask);   // softmax(q kᵀ/√D) v
        return o_proj.forward(attended.transpose(1, 2).reshape(b, t, heads * headDim)).MoveToOuterDisposeScope();
    }
}
