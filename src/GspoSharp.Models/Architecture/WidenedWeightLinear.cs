using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// y = x Wᵀ + b for a frozen weight W stored in half precision (bfloat16 or float16) and an input x in
/// the compute dtype (float32): W is widened to x's dtype for the product, exactly as a float32 weight
/// holding the rounded values would compute. Plain autograd would keep each layer's widened copy alive
/// until the backward pass — float32 weights again — so this function keeps only the half-precision
/// weight and widens it once more in the backward pass, for ∂/∂x = g W. W and b take no gradient.
/// </summary>
internal sealed class WidenedWeightLinear : autograd.SingleTensorFunction<WidenedWeightLinear>
{
    /// <inheritdoc />
    public override string Name => nameof(WidenedWeightLinear);

    /// <summary>x Wᵀ + b with W widened to x's dtype.</summary>
    public static Tensor Compute(Tensor x, Tensor weight, Tensor? bias)
    {
        // Only x enters the graph: when x needs no gradient (the first projections of a frozen base),
        // nothing is recorded at all.
        if (!x.requires_grad || !is_grad_enabled())
        {
            using var scope = NewDisposeScope();
            return nn.functional.linear(x, weight.to_type(x.dtype), bias).MoveToOuterDisposeScope();
        }
        // save_data takes no bare tensors: the weight and bias travel in arrays (not owned by the node).
        return apply(x, new[] { weight }, bias is null ? Array.Empty<Tensor>() : new[] { bias });
    }

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weight = ((Tensor[])vars[1])[0];
        var bias = ((Tensor[])vars[2]).FirstOrDefault();
        ctx.save_data("weight", vars[1]);
        using var scope = NewDisposeScope();
        return nn.functional.linear(x, weight.to_type(x.dtype), bias).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var weight = ((Tensor[])ctx.get_data("weight"))[0];
        using var wide = weight.to_type(gradOutput.dtype);
        return new List<Tensor> { gradOutput.matmul(wide), null!, null! };
    }
}
