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
/// The weight of a frozen base may be stored in half precision (<see cref="StoreWeightAs"/>,
/// <see cref="WeightsStoredIn"/>); the layer then still computes in its compute dtype, widening W for
/// each product (<see cref="WidenedWeightLinear"/>), so the result is that of the rounded weight in float32.
/// </summary>
public sealed class ProjectionLinear : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    Parameter weight;   // replaced (same name) when the weight is stored in another dtype
    readonly Parameter? bias;
#pragma warning restore IDE1006

    /// <summary>A [<paramref name="outFeatures"/>, <paramref name="inFeatures"/>] projection, initialised
    /// as <c>nn.Linear</c> does (Kaiming-uniform with a = √5, bias uniform in ±1/√in).</summary>
    public ProjectionLinear(long inFeatures, long outFeatures, bool hasBias, ScalarType dtype) : base(nameof(ProjectionLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        ComputeDtype = dtype;
        var stored = storedWeightDtype ?? dtype;
        weight = new Parameter(empty(new[] { outFeatures, inFeatures }, stored), requires_grad: stored == dtype);
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        if (hasBias)
        {
            bias = new Parameter(empty(new[] { outFeatures }, dtype));
            double bound = inFeatures > 0 ? 1 / Math.Sqrt(inFeatures) : 0;
            nn.init.uniform_(bias, -bound, bound);
        }
        RegisterComponents();
    }

    [ThreadStatic] static ScalarType? storedWeightDtype;

    /// <summary>
    /// Until disposed, projections constructed on this thread store their weight in <paramref name="dtype"/>
    /// (frozen, no gradient), so that a model whose base is kept in half precision never allocates
    /// its projection weights in float32, not even while it is built and loaded. An ambient setting
    /// rather than a constructor argument keeps the architecture files unaware of weight storage.
    /// </summary>
    public static IDisposable WeightsStoredIn(ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64))
            throw new ArgumentException($"projection weights are stored as float32, bfloat16 or float16, not {dtype}.");
        var previous = storedWeightDtype;
        storedWeightDtype = dtype;
        return new Restore(() => storedWeightDtype = previous);
    }

    sealed class Restore(Action restore) : IDisposable
    {
        public void Dispose() => restore();
    }

    /// <summary>The dtype the layer computes in (its input's and output's; the bias's).</summary>
    public ScalarType ComputeDtype { get; }

    /// <summary>Whether the weight is stored in another dtype than the layer computes in (a frozen half-precision base).</summary>
    public bool WeightWidened => weight.dtype != ComputeDtype;

    /// <summary>
    /// Stores the weight in <paramref name="dtype"/> from now on, rounded to nearest even; a weight stored in another
    /// dtype than <see cref="ComputeDtype"/> is frozen (it takes no gradient). The state-dict name stays <c>weight</c>.
    /// </summary>
    public void StoreWeightAs(ScalarType dtype)
    {
        if (weight.dtype == dtype) return;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var stored = new Parameter(weight.detach().to_type(dtype).DetachFromDisposeScope(), requires_grad: dtype == ComputeDtype && weight.requires_grad);
        var old = weight;
        weight = stored;
        ConditionallyRegisterParameter(nameof(weight), stored);
        old.Dispose();
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
        var y = weight.dtype == x.dtype ? nn.functional.linear(x, weight, bias) : WidenedWeightLinear.Compute(x, weight, bias);
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
