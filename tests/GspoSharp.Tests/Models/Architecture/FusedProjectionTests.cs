using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>Gradient-free passes with fused q/k/v and gate/up projections compute what the separate projections compute.</summary>
public class FusedProjectionTests
{
    static readonly long[,] Ids = { { 0, 0, 4, 9, 13, 2, 7 }, { 22, 1, 40, 3, 3, 18, 5 } };
    static readonly bool[,] Mask = { { false, false, true, true, true, true, true }, { true, true, true, true, true, true, true } };

    public static TheoryData<ModelType, ScalarType> TypesAndPrecisions()
    {
        var data = new TheoryData<ModelType, ScalarType>();
        foreach (var type in AllTypes)
            foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
                data.Add(type, dtype);
        return data;
    }

    /// <summary>Logits of the full forward and of a prefill followed by one-token decoding steps.</summary>
    static (Tensor Full, Tensor Incremental) Run(CausalLm lm)
    {
        var ids = tensor(Ids);
        var mask = tensor(Mask);
        var full = lm.Logits(lm.Forward(ids, mask));
        using var cache = lm.NewCache(2, 7);
        var steps = new List<Tensor> { lm.Logits(lm.Forward(ids.narrow(1, 0, 3), mask.narrow(1, 0, 3), cache)) };
        for (long t = 3; t < 7; t++) steps.Add(lm.Logits(lm.Forward(ids.narrow(1, t, 1), cache: cache)));
        return (full, cat(steps.ToArray(), 1));
    }

    [Theory]
    [MemberData(nameof(TypesAndPrecisions))]
    public void Fused_passes_equal_the_separate_projections(ModelType type, ScalarType dtype)
    {
        using var lm = RandomModel(Config(type), dtype: dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (full, incremental) = Run(lm);
        Tensor fusedFull, fusedIncremental;
        using (lm.FuseProjections()) (fusedFull, fusedIncremental) = Run(lm);
        double tolerance = dtype == ScalarType.Float64 ? 1e-10 : 1e-4;
        var real = tensor(Mask).unsqueeze(-1).expand_as(full);
        Assert.True(MaxDiff(full.masked_select(real), fusedFull.masked_select(real)) <= tolerance, $"{type} {dtype}: full forward");
        Assert.True(MaxDiff(full.masked_select(real), fusedIncremental.masked_select(real)) <= tolerance, $"{type} {dtype}: incremental");
        Assert.True(MaxDiff(incremental.masked_select(real), fusedIncremental.masked_select(real)) <= tolerance, $"{type} {dtype}: cache");
    }

    [Fact]
    public void Adapters_are_applied_and_weights_changed_between_fusions_are_used()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3), dtype: ScalarType.Float64);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (name, q) = lm.Projections().First(p => p.Name.EndsWith("self_attn.q_proj", StringComparison.Ordinal));
        var adapter = LoraAdapter.Initialize(q.InFeatures, q.OutFeatures, 2, 2.0, 0.0, ScalarType.Float64, lm.Device, new Generator(7));
        adapter.B.copy_(randn(adapter.B.shape, ScalarType.Float64));
        q.Attach(adapter);
        var (withAdapter, _) = Run(lm);
        Tensor fused;
        using (lm.FuseProjections()) fused = Run(lm).Full;
        Assert.True(MaxDiff(withAdapter, fused) <= 1e-10, name);
        q.AdapterEnabled = false;
        var (baseOnly, _) = Run(lm);
        Assert.True(MaxDiff(withAdapter, baseOnly) > 1e-3, "the adapter changes the output");

        // Weights changed between two fusions are used by the second.
        q.Detach()!.Dispose();
        using var half = 0.5.ToScalar();
        // (v, not q: Qwen3's q_norm would undo a scaling of q)
        lm.Projections().First(p => p.Name.EndsWith("self_attn.v_proj", StringComparison.Ordinal)).Layer.Weight.mul_(half);
        var (changed, _) = Run(lm);
        using (lm.FuseProjections()) fused = Run(lm).Full;
        Assert.True(MaxDiff(changed, fused) <= 1e-10);
        Assert.True(MaxDiff(changed, baseOnly) > 1e-3);
    }

    [Fact]
    public void A_half_precision_base_is_fused_in_half_precision_and_computes_the_same()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3), dtype: ScalarType.Float64);
        Lora.StoreBase(lm, ScalarType.BFloat16);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (full, incremental) = Run(lm);
        Tensor fusedFull, fusedIncremental;
        using (lm.FuseProjections())
        {
            var attentions = lm.named_modules().Select(m => m.module).OfType<Attention>().ToList();
            Assert.NotEmpty(attentions);
            Assert.All(attentions, a => Assert.Equal(ScalarType.BFloat16, a.FusedWeightDtype));
            var mlps = lm.named_modules().Select(m => m.module).OfType<SwiGlu>().ToList();
            Assert.NotEmpty(mlps);
            Assert.All(mlps, m => Assert.Equal(ScalarType.BFloat16, m.FusedWeightDtype));
            (fusedFull, fusedIncremental) = Run(lm);
        }
        var real = tensor(Mask).unsqueeze(-1).expand_as(full);
        Assert.True(MaxDiff(full.masked_select(real), fusedFull.masked_select(real)) <= 1e-10, "full forward");
        Assert.True(MaxDiff(incremental.masked_select(real), fusedIncremental.masked_select(real)) <= 1e-10, "incremental");
    }

    [Fact]
    public void An_mlp_adapter_is_applied_and_mlp_weights_changed_between_fusions_are_used()
    {
        using var lm = RandomModel(Config(ModelType.Llama), dtype: ScalarType.Float64);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (name, up) = lm.Projections().First(p => p.Name.EndsWith("mlp.up_proj", StringComparison.Ordinal));
        var adapter = LoraAdapter.Initialize(up.InFeatures, up.OutFeatures, 2, 2.0, 0.0, ScalarType.Float64, lm.Device, new Generator(7));
        adapter.B.copy_(randn(adapter.B.shape, ScalarType.Float64));
        up.Attach(adapter);
        var (withAdapter, _) = Run(lm);
        Tensor fused;
        using (lm.FuseProjections()) fused = Run(lm).Full;
        Assert.True(MaxDiff(withAdapter, fused) <= 1e-10, name);
        up.Detach()!.Dispose();
        var (baseOnly, _) = Run(lm);
        Assert.True(MaxDiff(withAdapter, baseOnly) > 1e-3, "the adapter changes the output");

        using var half = 0.5.ToScalar();
        lm.Projections().First(p => p.Name.EndsWith("mlp.gate_proj", StringComparison.Ordinal)).Layer.Weight.mul_(half);
        var (changed, _) = Run(lm);
        using (lm.FuseProjections()) fused = Run(lm).Full;
        Assert.True(MaxDiff(changed, fused) <= 1e-10);
        Assert.True(MaxDiff(changed, baseOnly) > 1e-3);
    }
}
