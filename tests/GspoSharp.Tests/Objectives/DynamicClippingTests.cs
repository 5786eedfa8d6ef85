using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>
/// SAPO's soft gate (loss_type sapo) and the clip-fraction controller of ε, against values derived
/// on paper from their equations (SoftGate, EpsilonController; docs/config.md).
/// </summary>
public class DynamicClippingTests
{
    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    // Two one-token responses (GRPO): w_1 = e^0.4 with Â = +1 (τ_pos = 1), w_2 = e^−0.5 with Â = −1 (τ_neg = 1.05).
    static readonly double[][] Logp = { new[] { -1.0 }, new[] { -2.0 } };
    static readonly double[][] Old = { new[] { -1.4 }, new[] { -1.5 } };
    static readonly double[] Adv = { 1.0, -1.0 };

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 1e-6)]
    public void Sapo_gates_each_token_ratio_with_the_temperature_of_its_advantage_sign(ScalarType dtype, double tol)
    {
        var run = Evaluate(new PolicyObjectiveOptions { ImportanceSamplingLevel = ImportanceSamplingLevel.Token, LossType = LossType.Sapo },
            Logp, Old, Adv, dtype: dtype);
        double w1 = Math.Exp(0.4), w2 = Math.Exp(-0.5);
        double g1 = 4 / 1.0 * Sigmoid(1.0 * (w1 - 1)), g2 = 4 / 1.05 * Sigmoid(1.05 * (w2 - 1));
        // ℓ_i = −g_i Â_i; loss = mean over the two responses (grpo aggregation)
        AssertClose(-(g1 * 1.0 + g2 * -1.0) / 2, run.Loss, tol, "loss");
        // ∂ℓ/∂logp = −Â · 4σ(1−σ) · w   (dg/dr = 4σ(τ(r−1))(1−σ(τ(r−1))), dr/dlogp = r)
        double d1 = 4 * Sigmoid(w1 - 1) * (1 - Sigmoid(w1 - 1)) * w1, d2 = 4 * Sigmoid(1.05 * (w2 - 1)) * (1 - Sigmoid(1.05 * (w2 - 1))) * w2;
        AssertClose(new[] { new[] { -1.0 * d1 / 2 }, new[] { 1.0 * d2 / 2 } }, run.Gradient, tol, "gradient");
        // The band's metrics are still reported: w_1 > 1.27 with Â > 0, w_2 < 0.8 with Â < 0.
        AssertClose(1.0, run.Stats.ClipRegionSequences, 1e-12, "responses outside the band");
    }

    [Fact]
    public void At_ratio_one_the_sapo_gradient_equals_the_unclipped_one()
    {
        // g'(1) = 4σ(0)(1 − σ(0)) = 1, so the gradient is −Â/|y| per token, as GRPO's inside the band.
        var same = new[] { new[] { -1.0, -2.0 } };
        var sapo = Evaluate(new PolicyObjectiveOptions { ImportanceSamplingLevel = ImportanceSamplingLevel.Token, LossType = LossType.Sapo },
            same, same, new[] { 0.7 });
        var grpo = Evaluate(PolicyObjectiveOptions.Grpo(), same, same, new[] { 0.7 });
        AssertClose(new[] { new[] { -0.35, -0.35 } }, sapo.Gradient, 1e-12, "sapo gradient");
        AssertClose(grpo.Gradient, sapo.Gradient, 1e-12, "sapo vs grpo");
        // The value differs by the constant 2/τ − 1 per unit of advantage: g(1) = 2/τ.
        AssertClose(-0.7 * 2.0, sapo.Loss, 1e-12, "loss at r = 1");
    }

    [Fact]
    public void Sapo_on_gspo_gates_the_sequence_ratio()
    {
        // One response, token log-ratios 0.002 and 0.004: s = e^0.003; τ_pos = 1000.
        var options = new PolicyObjectiveOptions { LossType = LossType.Sapo, SapoTemperaturePos = 1000 };
        var run = Evaluate(options, new[] { new[] { -1.0, -2.0 } }, new[] { new[] { -1.002, -2.004 } }, new[] { 2.0 });
        double s = Math.Exp(0.003), sig = Sigmoid(1000 * (s - 1));
        AssertClose(-2.0 * 4 / 1000 * sig, run.Loss, 1e-12, "loss");
        // ∂ℓ/∂logp_t = −Â · 4σ(1−σ) · s / |y|
        double d = -2.0 * 4 * sig * (1 - sig) * s / 2;
        AssertClose(new[] { new[] { d, d } }, run.Gradient, 1e-12, "gradient");
    }

    [Fact]
    public void Sapo_temperatures_must_be_positive()
    {
        Assert.Throws<ArgumentException>(() => new PolicyObjectiveOptions { LossType = LossType.Sapo, SapoTemperatureNeg = 0 }.Validate());
        Assert.Throws<ArgumentException>(() => new PolicyObjectiveOptions { LossType = LossType.Sapo, SapoTemperaturePos = double.PositiveInfinity }.Validate());
        Assert.Equal(LossType.Sapo, PolicyObjectiveOptions.Names.ParseLossType("sapo"));
        Assert.Equal("sapo", PolicyObjectiveOptions.Names.Of(LossType.Sapo));
    }

    [Fact]
    public void The_controller_widens_epsilon_when_more_responses_clip_than_the_target_and_narrows_it_when_fewer()
    {
        // c = 1, f = 0.35, f* = 0.15, η = 2: c' = e^0.4
        Assert.Equal(Math.Exp(2 * (0.35 - 0.15)), EpsilonController.Next(1, 0.35, 0.15, 2), 12);
        // c = 2, f = 0.05, f* = 0.15, η = 1: c' = 2·e^−0.1
        Assert.Equal(2 * Math.Exp(-0.1), EpsilonController.Next(2, 0.05, 0.15, 1), 12);
        Assert.Equal(3.0, EpsilonController.Next(3, 0.15, 0.15, 5), 12);
    }

    [Fact]
    public void The_controller_stays_within_its_bounds_and_ignores_a_step_without_an_update()
    {
        Assert.Equal(100.0, EpsilonController.Next(99, 1.0, 0.1, 10));
        Assert.Equal(0.01, EpsilonController.Next(0.0101, 0.0, 0.5, 10));
        Assert.Equal(1.7, EpsilonController.Next(1.7, double.NaN, 0.15, 1));
    }

    [Fact]
    public void The_controller_scales_both_edges_and_caps_the_lower_below_one()
    {
        var gspo = EpsilonController.Apply(PolicyObjectiveOptions.Gspo(), 2.5);
        Assert.Equal(3e-4 * 2.5, gspo.ClipLow, 15);
        Assert.Equal(4e-4 * 2.5, gspo.ClipHigh, 15);
        var grpo = EpsilonController.Apply(PolicyObjectiveOptions.Grpo(), 10);
        Assert.Equal(0.99, grpo.ClipLow);
        Assert.Equal(2.7, grpo.ClipHigh, 12);
    }
}
