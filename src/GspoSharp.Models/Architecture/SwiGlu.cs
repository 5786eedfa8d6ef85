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

    /// <summary>An MLP from <paramref name="hidden"/> through <paramref name="intermediate"/> and back.</summary>
    public SwiGlu(long hidden, long intermediate, bool bias, ScalarType dtype) : base(nameof(SwiGlu))
    {
        gate_proj = new ProjectionLinear(hidden, intermediate, bias, dtype);
        up_proj = new ProjectionLinear(hidden, intermediate, bias, dtype);
        down_proj = new ProjectionLinear(intermediate, hidden, bias, dtype);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x)).MoveToOuterDisposeScope();
    }
}
