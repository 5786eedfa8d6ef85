using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// RMSNorm, y = w ⊙ x / √(mean(x²) + ε), computed in at least float32 whatever the model dtype
/// (as the Hugging Face Qwen and Llama implementations do for bf16/fp16), then cast back before
/// the weight.
/// </summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Scalar eps;   // held by the module: see Scalars

    /// <summary>A norm over the last dimension of size <paramref name="dim"/>, weight initialised to 1.</summary>
    public RmsNorm(long dim, double eps, ScalarType dtype) : base(nameof(RmsNorm))
    {
        weight = nn.Parameter(ones(dim, dtype));
        this.eps = eps.ToScalar();
        RegisterComponents();
    }

    /// <summary>The weight w [dim].</summary>
    internal Tensor Weight => weight;

    /// <inheritdoc />
    public override Tensor forward(Tensor x) => Normalize(x, weight, eps);

    /// <summary>w ⊙ x / √(mean(x²) + ε) over the last dimension, with any weight that broadcasts against x
    /// (the fused q/k path normalises the heads of q and k in one call with a [H + H_kv, D] weight).</summary>
    internal static Tensor Normalize(Tensor x, Tensor weight, Scalar eps)
    {
        using var scope = NewDisposeScope();
        var accumulate = Precision.Accumulate(x.dtype);
        var x32 = x.dtype == accumulate ? x : x.to_type(accumulate);
        // The same operations as x·rsqrt(mean(x²) + ε), the last two in place: fewer tensors per call. x² is
        // pow(x, 2) with a held exponent, which is what Tensor.square() runs with a temporary one (decision 0005).
        var normed = x32 * x32.pow(Scalars.TwoInt).mean(new long[] { -1 }, keepdim: true).add_(eps, Scalars.One).rsqrt_();
        if (normed.dtype != x.dtype) normed = normed.to_type(x.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}
