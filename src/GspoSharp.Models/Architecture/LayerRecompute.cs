using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Activation (gradient) checkpointing of one decoder layer, as PyTorch's reentrant
/// <c>torch.utils.checkpoint</c>: the forward runs without recording the graph and keeps only the
/// layer's input; the backward runs the layer again with the graph on, from the same input and the
/// same random state (LoRA dropout), and back-propagates through it — parameter gradients
/// accumulate as usual, the input's gradient goes on to the layer below. TorchSharp has no
/// checkpoint API, so this is a custom autograd function.
/// </summary>
internal sealed class LayerRecompute : autograd.SingleTensorFunction<LayerRecompute>
{
    /// <inheritdoc />
    public override string Name => nameof(LayerRecompute);

    /// <summary>Layers recomputed by backward passes on this thread (for tests).</summary>
    [ThreadStatic] internal static int Recomputations;

    /// <summary>layer(x, cos, sin, mask) with the layer's activations dropped until the backward pass needs them.
    /// The extra tensors are kept by the autograd node, since the caller's dispose scope ends before the backward.</summary>
    public static Tensor Run(Func<Tensor, Tensor, Tensor, Tensor, Tensor> layer, Tensor x, Tensor cos, Tensor sin, Tensor mask)
    {
        // An input that requires grad, so that the node enters the graph even when x does not
        // (a frozen embedding under LoRA): the adapters inside the layer still need the backward.
        using var anchor = zeros(1, requires_grad: true);
        return apply(x, anchor, layer, cos, sin, mask);
    }

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        Tensor x = (Tensor)vars[0], cos = (Tensor)vars[3], sin = (Tensor)vars[4], mask = (Tensor)vars[5];
        ctx.save_for_backward(new List<Tensor> { x, cos, sin, mask });
        ctx.save_data("layer", vars[2]);
        ctx.save_data("rng", new[] { random.get_rng_state().DetachFromDisposeScope() });   // an array: save_data takes no bare tensors
        ctx.save_data("x_requires_grad", x.requires_grad);
        return ((Func<Tensor, Tensor, Tensor, Tensor, Tensor>)vars[2])(x, cos, sin, mask);
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        // TorchSharp wraps every gradient that passes through a custom function of the layer (the widened
        // projections of a half-precision base: their incoming and returned gradients) in a Tensor object
        // registered with the current dispose scope, which is the caller's, live until its update ends: ~90 MB
        // per layer on Qwen3-0.6B, 2.5 GB over 28 layers. The engine holds its own references while it needs
        // them, so this layer's are released when its recomputation is done.
        using var scope = NewDisposeScope();
        var layer = (Func<Tensor, Tensor, Tensor, Tensor, Tensor>)ctx.get_data("layer");
        var saved = ctx.get_saved_variables();
        var rng = ((Tensor[])ctx.get_data("rng"))[0];
        using var after = random.get_rng_state();
        using var enable = enable_grad();
        using var input = saved[0].detach().requires_grad_((bool)ctx.get_data("x_requires_grad"));
        random.set_rng_state(rng);
        using (var output = layer(input, saved[1], saved[2], saved[3])) output.backward(new[] { gradOutput });
        random.set_rng_state(after);
        Recomputations++;
        rng.Dispose();
        var grad = input.grad?.detach().clone().MoveToOuterDisposeScope();
        return new List<Tensor> { grad!, null!, null!, null!, null!, null! };
    }
}
