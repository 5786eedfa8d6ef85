using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>The SwiGLU MLP of Llama and Qwen: down_proj( silu(gate_proj(x)) ⊙ up_proj(x) ).</summary>
public sealed class SwiGlu : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    readonly ProjectionLinear gate_proj;
    readonly ProjectionLinear up_proj;
    readonly ProjectionLinear down_proj;
#pragma warning restore IDE1006
    readonly long intermediate;
    (Tensor Weight, Tensor? Bias)? fused;   // not a Tensor field: TorchSharp would register it as a buffer

    /// <summary>An MLP from <paramref name="hidden"/> through <paramref name="intermediate"/> and back.</summary>
    public SwiGlu(long hidden, long intermediate, bool bias, ScalarType dtype) : base(nameof(SwiGlu))
    {
        this.intermediate = intermediate;
        gate_proj = new ProjectionLinear(hidden, intermediate, bias, dtype);
        up_proj = new ProjectionLinear(hidden, intermediate, bias, dtype);
        down_proj = new ProjectionLinear(intermediate, hidden, bias, dtype);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor gate, up;
        if (fused is { } f && !is_grad_enabled() && !AdapterActive(gate_proj) && !AdapterActive(up_proj))
        {
            // One GEMM on W_gate and W_up stacked [2I, d]: the same rows of products, read once
            // from a weight held contiguous for the whole generation (decoding is bound by reading weights).
            var both = StackedProjections.Apply(x, f.Weight, f.Bias);
            gate = both.narrow(-1, 0, intermediate);
            up = both.narrow(-1, intermediate, intermediate);
        }
        else
        {
            gate = gate_proj.forward(x);
            up = up_proj.forward(x);
        }
        var product = nn.functional.silu(gate) * up;
        return (fused is not null && !is_grad_enabled() && !AdapterActive(down_proj) && down_proj.Weight.dtype == product.dtype
            ? FewRowsLinear.Apply(product, down_proj.Weight, down_proj.Bias)   // the held weights of a gradient-free pass
            : down_proj.forward(product)).MoveToOuterDisposeScope();
    }

    static bool AdapterActive(ProjectionLinear p) => p.Adapter is not null && p.AdapterEnabled;

    /// <summary>Builds the stacked copy that gradient-free passes use (<see cref="CausalLm.FuseProjections"/>).</summary>
    internal void Fuse(ScalarType dtype)
    {
        var stacked = StackedProjections.Stack(new[] { gate_proj, up_proj }, dtype);
        Unfuse();
        fused = stacked;
    }

    /// <summary>The dtype of the stacked gate/up weight while fused, else null (for tests).</summary>
    internal ScalarType? FusedWeightDtype => fused?.Weight.dtype;

    /// <summary>Drops the stacked copy.</summary>
    internal void Unfuse()
    {
        if (fused is { } f)
        {
            f.Weight.Dispose();
            f.Bias?.Dispose();
        }
        fused = null;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) Unfuse();
        base.Dispose(disposing);
    }
}
