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

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to_type(Precision.Accumulate(x.dtype));
        var normed = x32 * (x32 * x32).mean(new long[] { -1 }, keepdim: true).add(eps, Scalars.One).rsqrt();
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
