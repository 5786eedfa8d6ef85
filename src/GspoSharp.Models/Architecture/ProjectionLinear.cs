using GspoSharp.Models.Adapters;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// y = x Wᵀ + b, the one linear layer of the architecture (attention and MLP projections, MoE router),
/// plus an optional low-rank adapter. Its registered parameters are exactly <c>weight</c> and
/// <c>bias</c>, so state-dict names stay the Hugging Face ones (<c>…q_proj.weight</c>); the adapter is
/// held in a property, which TorchSharp does not register, so it never enters the base model's
/// state dict, its parameters or its Hugging Face save.
/// </summary>
public sealed class ProjectionLinear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    readonly Parameter weight;
    readonly Parameter? bias;
#pragma warning restore IDE1006

    /// <summary>A [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>] projection, initialised
    /// as <c>nn.Linear</c> does (Kaiming-uniform with a = √5, bias uniform in ±1/√in).</summary>
    public ProjectionLinear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype) : base(nameof(ProjectionLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(new[] { outFeatures, inFeatures }, dtype));
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        if (hasBias)
        {
            bias = new Parameter(empty(new[] { outFeatures }, dtype));
            double bound = inFeatures > 0 ? 1 / Math.Sqrt(inFeatures) : 0;
            nn.init.uniform_(bias, -bound, bound);
        }
        RegisterComponents();
    }

    /// <summary>Input width.</summary>
    public long InFeatures { get; }

    /// <summary>Output width.</summary>
    public long OutFeatures { get; }

    /// <summary>The base weight W [out, in].</summary>
    public Parameter Weight => weight;

    /// <summary>The base bias, if any.</summary>
    public Parameter? Bias => bias;

    /// <summary>The attached adapter, or null. Not a registered component (see the class remarks).</summary>
    public LoraAdapter? Adapter { get; private set; }

    /// <summary>Whether the adapter takes part in <see cref="forward"/> (off: the base layer exactly,
    /// e.g. for the KL reference policy).</summary>
    public bool AdapterEnabled { get; set; } = true;

    /// <summary>Attaches <paramref name="adapter"/> (replacing and disposing any previous one).</summary>
    public void Attach(LoraAdapter adapter)
    {
        if (adapter.InFeatures != InFeatures || adapter.OutFeatures != OutFeatures)
            throw new ArgumentException($"an adapter for [{adapter.OutFeatures}, {adapter.InFeatures}] does not fit a [{OutFeatures}, {InFeatures}] projection.");
        Adapter?.Dispose();
        Adapter = adapter;
    }

    /// <summary>Detaches and returns the adapter (the caller owns it then).</summary>
    public LoraAdapter? Detach()
    {
        var adapter = Adapter;
        Adapter = null;
        return adapter;
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        var y = nn.functional.linear(x, weight, bias);
        if (Adapter is null || !AdapterEnabled) return y;
        using var scope = NewDisposeScope();
        return y.add(Adapter.Delta(x, training), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) Adapter?.Dispose();
        base.Dispose(disposing);
    }
}
