using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>MoE routing: record, replay (Routing Replay), volatility, grouped execution.</summary>
public class RoutingTests
{
    static Tensor Ids() => tensor(new long[] { 3, 14, 15, 9, 26, 5, 35, 8, 9, 7, 9, 3, 2, 38, 4, 6 }, new long[] { 2, 8 });

    [Fact]
    public void Replaying_a_recording_of_the_same_weights_reproduces_the_logits_exactly()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3Moe));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var recording = RoutingContext.Recording(lm.Config.NumHiddenLayers);
        var free = lm.Logits(lm.Forward(Ids(), routing: recording));
        using var record = recording.Record!;
        Assert.All(Enumerable.Range(0, 4), layer => Assert.Equal(new long[] { 2, 8, 2 }, record.ExpertIds[layer]!.shape));

        var replayed = lm.Logits(lm.Forward(Ids(), routing: RoutingContext.Replaying(record)));
        Assert.True(free.eq(replayed).all().item<bool>(), "replayed logits must be bit-identical");
    }

    [Fact]
    public void After_a_weight_change_replay_uses_the_old_experts_and_volatility_is_positive()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3Moe));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var before = RoutingContext.Recording(4);
        lm.Forward(Ids(), routing: before);

        foreach (var (name, p) in lm.named_parameters())   // an "update" that moves the routers
            if (name.EndsWith("mlp.gate.weight")) p.add_(0.3 * randn(p.shape, generator: new Generator(11)));

        var after = RoutingContext.Recording(4);
        var freeLogits = lm.Logits(lm.Forward(Ids(), routing: after));
        double volatility = RoutingRecord.Volatility(before.Record!, after.Record!, ones(2, 8));
        Assert.InRange(volatility, 1e-6, 1);

        // Replay: the experts of the old pass, gate weights from the new router at those experts.
        var replay = RoutingContext.Replaying(before.Record!, capture: true);
        var replayedLogits = lm.Logits(lm.Forward(Ids(), routing: replay));
        Assert.False(freeLogits.allclose(replayedLogits), "replay must differ from free routing once routing changed");
        using var applied = replay.Applied!;
        for (int layer = 0; layer < 4; layer++)
            Assert.True(applied.ExpertIds[layer]!.eq(before.Record!.ExpertIds[layer]!).all().item<bool>(), $"layer {layer} used other experts");
        Assert.Equal(volatility, RoutingRecord.Volatility(applied, after.Record!, ones(2, 8)));
        Assert.Equal(0.0, RoutingRecord.Volatility(before.Record!, applied, ones(2, 8)));
        // The applied gate weights are renormalised probabilities (norm_topk_prob): each row sums to 1.
        Assert.True(MaxDiff(applied.Weights[0]!.sum(-1), ones(2, 8)) <= 1e-6);
        before.Record!.Dispose();
        after.Record!.Dispose();
    }

    [Fact]
    public void Volatility_counts_experts_that_left_the_chosen_set_ignoring_order()
    {
        using var scope = NewDisposeScope();
        using var a = new RoutingRecord(3);
        using var b = new RoutingRecord(3);
        var w = ones(1, 2, 2);
        // Layer 1 is MoE; token 0: {1, 2} → {2, 1} (same set), token 1: {0, 3} → {3, 5} (one change).
        a.Set(1, tensor(new long[] { 1, 2, 0, 3 }, new long[] { 1, 2, 2 }), w);
        b.Set(1, tensor(new long[] { 2, 1, 3, 5 }, new long[] { 1, 2, 2 }), w);
        Assert.Equal(0.25, RoutingRecord.Volatility(a, b, ones(1, 2)));
        Assert.Equal(0.0, RoutingRecord.Volatility(a, b, tensor(new[] { true, false }).unsqueeze(0)));
    }

    [Fact]
    public void Grouped_expert_execution_equals_running_every_expert_on_every_token()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3Moe), dtype: ScalarType.Float64);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var grouped = lm.Forward(Ids(), groupedExperts: true);
        var naive = lm.Forward(Ids(), groupedExperts: false);
        Assert.True(MaxDiff(grouped, naive) <= 1e-12, $"max diff {MaxDiff(grouped, naive)}");
    }

    [Fact]
    public void Replay_keeps_the_router_trainable()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3Moe));
        using var scope = NewDisposeScope();
        var recording = RoutingContext.Recording(4);
        using (no_grad()) lm.Forward(Ids(), routing: recording);
        using var scores = lm.ScoreTokens(Ids(), ones(2, 8), ones(2, 7), routing: RoutingContext.Replaying(recording.Record!));
        scores.LogProbs.sum().backward();
        var gate = lm.named_parameters().First(p => p.name == "model.layers.0.mlp.gate.weight").parameter;
        Assert.True(gate.grad!.abs().sum().item<float>() > 0, "the router must receive gradient through the gate weights");
        recording.Record!.Dispose();
    }
}
