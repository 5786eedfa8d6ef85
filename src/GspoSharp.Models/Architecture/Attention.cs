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
    readonly Scalar eps;
    Fused? fused;   // not a Tensor field: TorchSharp would register it as a buffer

    /// <summary>Concatenated copies for gradient-free passes: W_qkv [(H + 2 H_kv)·D, d], its bias, and
    /// the q_norm and k_norm weights of every head, [H + H_kv, D].</summary>
    sealed record Fused(Tensor Weight, Tensor? Bias, Tensor? NormWeight) : IDisposable
    {
        public void Dispose()
        {
            Weight.Dispose();
            Bias?.Dispose();
            NormWeight?.Dispose();
        }
    }

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
        eps = config.RmsNormEps.ToScalar();
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
        Tensor q, k, v;
        if (fused is not null && !is_grad_enabled() && !AdapterActive(q_proj) && !AdapterActive(k_proj) && !AdapterActive(v_proj))
        {
            // One GEMM for q, k and v; q_norm, k_norm and RoPE on the heads of q and k together. The
            // same operations on the same rows as below, in about half as many calls.
            var qkv = StackedProjections.Apply(x, fused.Weight, fused.Bias)
                .view(b, t, heads + 2 * kvHeads, headDim);
            var qk = qkv.narrow(2, 0, heads + kvHeads);
            if (fused.NormWeight is not null) qk = RmsNorm.Normalize(qk, fused.NormWeight, eps);
            qk = RotaryEmbedding.Apply(qk.transpose(1, 2), cos, sin);       // [B, H + H_kv, t, D]
            q = qk.narrow(1, 0, heads);
            k = qk.narrow(1, heads, kvHeads);
            v = qkv.narrow(2, heads + kvHeads, kvHeads).transpose(1, 2);
        }
        else
        {
            q = q_proj.forward(x).view(b, t, heads, headDim);
            k = k_proj.forward(x).view(b, t, kvHeads, headDim);
            v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
            if (q_norm is not null) q = q_norm.forward(q);
            if (k_norm is not null) k = k_norm.forward(k);
            q = RotaryEmbedding.Apply(q.transpose(1, 2), cos, sin);            // [B, H, t, D]
            k = RotaryEmbedding.Apply(k.transpose(1, 2), cos, sin);            // [B, H_kv, t, D]
        }
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        Tensor attended;
        if (heads != kvHeads && t == 1)
        {
            // One query per row: the g = H / H_kv query heads that share a key/value head become g
            // queries of that head (a view), so the cached keys and values are read in place instead
            // of being copied g times by repeat_interleave at every decoding step.
            int group = heads / kvHeads;
            attended = nn.functional.scaled_dot_product_attention(q.reshape(b, kvHeads, group, headDim), k, v, mask)
                .reshape(b, heads, 1, headDim);
        }
        else
        {
            if (heads != kvHeads)
            {
                k = k.repeat_interleave(heads / kvHeads, dim: 1);
                v = v.repeat_interleave(heads / kvHeads, dim: 1);
            }
            attended = nn.functional.scaled_dot_product_attention(q, k, v, mask);   // softmax(q kᵀ/√D) v
        }
        var merged = attended.transpose(1, 2).reshape(b, t, heads * headDim);
        return (fused is not null && !is_grad_enabled() && !AdapterActive(o_proj) && o_proj.Weight.dtype == merged.dtype
            ? FewRowsLinear.Apply(merged, o_proj.Weight, o_proj.Bias)   // the held weights of a gradient-free pass
            : o_proj.forward(merged)).MoveToOuterDisposeScope();
    }

    static bool AdapterActive(ProjectionLinear p) => p.Adapter is not null && p.AdapterEnabled;

    /// <summary>Builds the concatenated copies that gradient-free passes use (<see cref="CausalLm.FuseProjections"/>).</summary>
    internal void Fuse(ScalarType dtype)
    {
        var (weight, bias) = StackedProjections.Stack(new[] { q_proj, k_proj, v_proj }, dtype);
        Tensor? norm = null;
        if (q_norm is not null)
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            norm = cat(new[] { q_norm.Weight.unsqueeze(0).expand(heads, headDim), k_norm!.Weight.unsqueeze(0).expand(kvHeads, headDim) }, 0)
                .contiguous().DetachFromDisposeScope();
        }
        Unfuse();
        fused = new Fused(weight, bias, norm);
    }

    /// <summary>The dtype of the concatenated q/k/v weight while fused, else null (for tests).</summary>
    internal ScalarType? FusedWeightDtype => fused?.Weight.dtype;

    /// <summary>Drops the concatenated copies.</summary>
    internal void Unfuse()
    {
        fused?.Dispose();
        fused = null;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) Unfuse();
        base.Dispose(disposing);
    }
}
