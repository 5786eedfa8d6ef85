using GspoSharp.Models.Architecture;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GspoSharp.Models.Adapters;

/// <summary>
/// A LoRA adapter of one projection (Hu et al. 2021; PEFT's <c>LoraLayer</c>): the layer computes
/// W x + s · B A dropout(x), with A [r, in], B [out, r] and s = α / r (α / √r with rsLoRA).
/// Dropout acts only in training mode.
/// </summary>
public sealed class LoraAdapter : IDisposable
{
    /// <summary>An adapter with the given factors (taken over as parameters; the caller gives up the tensors).</summary>
    public LoraAdapter(Tensor a, Tensor b, double scaling, double dropout)
    {
        if (a.dim() != 2 || b.dim() != 2 || b.shape[1] != a.shape[0])
            throw new ArgumentException($"LoRA factors must be A [r, in] and B [out, r]; got A [{string.Join(", ", a.shape)}] and B [{string.Join(", ", b.shape)}].");
        if (!(dropout >= 0 && dropout < 1)) throw new ArgumentException($"LoRA dropout must lie in [0, 1); got {dropout}.");
        A = new Parameter(a);
        B = new Parameter(b);
        Scaling = scaling;
        Dropout = dropout;
    }

    /// <summary>A fresh adapter as PEFT initialises it: A Kaiming-uniform with a = √5 (uniform in ±1/√in,
    /// nn.Linear's default, drawn from <paramref name="generator"/>), B zeros, so the layer starts as the base.</summary>
    public static LoraAdapter Initialize(long inFeatures, long outFeatures, int rank, double scaling, double dropout,
        ScalarType dtype, Device device, Generator generator)
    {
        double bound = 1 / Math.Sqrt(inFeatures);
        using var width = (2 * bound).ToScalar();
        using var low = bound.ToScalar();
        var a = rand(new[] { (long)rank, inFeatures }, dtype: dtype, device: device, generator: generator).mul_(width).sub_(low);
        var b = zeros(new[] { outFeatures, (long)rank }, dtype: dtype, device: device);
        return new LoraAdapter(a, b, scaling, dropout);
    }

    /// <summary>The down-projection A [r, in].</summary>
    public Parameter A { get; }

    /// <summary>The up-projection B [out, r].</summary>
    public Parameter B { get; }

    /// <summary>s: α / r, or α / √r with rsLoRA.</summary>
    public double Scaling { get; }

    /// <summary>Dropout probability on the adapter's input.</summary>
    public double Dropout { get; }

    /// <summary>The rank r.</summary>
    public long Rank => A.shape[0];

    /// <summary>Input width.</summary>
    public long InFeatures => A.shape[1];

    /// <summary>Output width.</summary>
    public long OutFeatures => B.shape[0];

    /// <summary>s · B A dropout(x) for x [.., in].</summary>
    public Tensor Delta(Tensor x, bool training)
    {
        using var scope = NewDisposeScope();
        var input = training && Dropout > 0 ? nn.functional.dropout(x, Dropout, training: true) : x;
        using var s = Scaling.ToScalar();
        return nn.functional.linear(nn.functional.linear(input, A), B).mul(s).MoveToOuterDisposeScope();
    }

    /// <summary>s · B A, the [out, in] update merging folds into W (computed in float64 for accuracy).</summary>
    public Tensor DeltaWeight()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var s = Scaling.ToScalar();
        return B.detach().to_type(ScalarType.Float64).matmul(A.detach().to_type(ScalarType.Float64)).mul(s).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        A.Dispose();
        B.Dispose();
    }
}
