using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>
/// Small batches whose loss, clip fractions and gradients were derived on paper from the
/// equations of the paper (docs/algorithms/objectives.md); the expected values below are those derivations written as formulas.
/// </summary>
public class HandComputedObjectiveTests
{
    // GSPO batch. Token log-ratios: [0.1, −0.3] | [0.0002, 0.001, 0.0003] | [−0.0001]
    //   s_1 = e^−0.1 ≈ 0.905   Â_1 = +1   below 1−ε_low but Â > 0: not clipped
    //   s_2 = e^0.0005 ≈ 1.0005 Â_2 = +0.5 above 1+ε_high = 1.0004 with Â > 0: clipped to 1.0004
    //   s_3 = e^−0.0001        Â_3 = −2   inside [0.9997, 1.0004]
    static readonly double[][] GspoLogp = { new[] { -1.0, -2.0 }, new[] { -0.5, -0.25, -3.0 }, new[] { -0.7 } };
    static readonly double[][] GspoOld = { new[] { -1.1, -1.7 }, new[] { -0.5002, -0.251, -3.0003 }, new[] { -0.6999 } };
    static readonly double[] GspoAdv = { 1.0, 0.5, -2.0 };

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 1e-6)]
    public void Gspo_loss_gradient_and_clipping_match_the_paper_derivation(ScalarType dtype, double tol)
    {
        var run = Evaluate(PolicyObjectiveOptions.Gspo(), GspoLogp, GspoOld, GspoAdv, dtype: dtype);

        double s1 = Math.Exp(-0.1), s2 = Math.Exp(0.0005), s3 = Math.Exp(-0.0001);
        // J = 1/G Σ_i min(s_i Â_i, clip(s_i) Â_i); loss = −J
        AssertClose(-(s1 * 1.0 + 1.0004 * 0.5 + s3 * -2.0) / 3, run.Loss, tol, "loss");
        // ∂(−J)/∂logp_{i,t} = −(1/G) s_i Â_i / |y_i| where not clipped, 0 where clipped
        AssertClose(new[]
        {
            new[] { -s1 / 3 / 2, -s1 / 3 / 2 },
            new[] { 0.0, 0.0, 0.0 },
            new[] { 2 * s3 / 3 },
        }, run.Gradient, tol, "gradient");
        AssertClose(0.5, run.Stats.ClipHighTokens, 1e-12, "high-clipped tokens (3 of 6)");
        AssertClose(0.0, run.Stats.ClipLowTokens, 1e-12, "low-clipped tokens");
        AssertClose(1.0 / 3, run.Stats.ClipRegionSequences, 1e-12, "clipped responses");
        AssertClose(1.0 / 3, run.Stats.ClipHighSequences, 1e-12, "high-clipped responses");
        AssertClose((s1 + s2 + s3) / 3, run.Stats.RatioMean, tol, "ratio mean");
        AssertClose(s1, run.Stats.RatioMin, tol, "ratio min");
        AssertClose(s2, run.Stats.RatioMax, tol, "ratio max");
        double[] deltas = { 0.1, -0.3, 0.0002, 0.001, 0.0003, -0.0001 };
        AssertClose(deltas.Sum(d => Math.Exp(d) - 1 - d) / 6, run.Stats.ApproxKl, tol, "approx KL(old‖new)");
        Assert.Equal(3, run.Stats.Sequences);
        Assert.Equal(6, run.Stats.Tokens);
        Assert.Equal(0, run.Stats.ClampedLogRatios);
        Assert.Null(run.Stats.RefKl);
    }

    // GRPO batch, ε_low = 0.2, ε_high = 0.27. Token log-ratios: [0.4, −0.3, 0] | [−0.5, 0.1]
    //   response 1, Â = +1: w = e^0.4 ≈ 1.49 > 1.27 clipped high; e^−0.3 ≈ 0.74 < 0.8 but Â > 0 not clipped; 1
    //   response 2, Â = −1: w = e^−0.5 ≈ 0.61 < 0.8 with Â < 0 clipped low; e^0.1 ≈ 1.105 not clipped
    static readonly double[][] GrpoLogp = { new[] { -1.0, -2.0, -0.5 }, new[] { -2.0, -0.1 } };
    static readonly double[][] GrpoOld = { new[] { -1.4, -1.7, -0.5 }, new[] { -1.5, -0.2 } };
    static readonly double[] GrpoAdv = { 1.0, -1.0 };

    [Theory]
    [InlineData(ScalarType.Float64, 1e-12)]
    [InlineData(ScalarType.Float32, 1e-6)]
    public void Grpo_loss_gradient_and_clipping_match_the_paper_derivation(ScalarType dtype, double tol)
    {
        var run = Evaluate(PolicyObjectiveOptions.Grpo(), GrpoLogp, GrpoOld, GrpoAdv, dtype: dtype);

        double a = Math.Exp(-0.3), b = Math.Exp(0.1);
        // J = 1/G Σ_i 1/|y_i| Σ_t min(w Â, clip(w) Â)
        AssertClose(-((1.27 + a + 1) / 3 + (-0.8 - b) / 2) / 2, run.Loss, tol, "loss");
        // ∂(−J)/∂logp_{i,t} = −(1/G)(1/|y_i|) w_{i,t} Â_i where not clipped
        AssertClose(new[]
        {
            new[] { 0.0, -a / 6, -1.0 / 6 },
            new[] { 0.0, b / 4 },
        }, run.Gradient, tol, "gradient");
        AssertClose(0.2, run.Stats.ClipLowTokens, 1e-12, "low-clipped tokens (1 of 5)");
        AssertClose(0.2, run.Stats.ClipHighTokens, 1e-12, "high-clipped tokens (1 of 5)");
        AssertClose(0.4, run.Stats.ClipRegionTokens, 1e-12, "clipped tokens");
        AssertClose(1.0, run.Stats.ClipRegionSequences, 1e-12, "responses with a clipped token (2 of 2)");
        AssertClose(0.5, run.Stats.ClipLowSequences, 1e-12, "responses with a low-clipped token");
        double[] w = { Math.Exp(0.4), a, 1, Math.Exp(-0.5), b };
        AssertClose(w.Average(), run.Stats.RatioMean, tol, "ratio mean over tokens");
        AssertClose(Math.Exp(-0.5), run.Stats.RatioMin, tol, "ratio min");
        AssertClose(Math.Exp(0.4), run.Stats.RatioMax, tol, "ratio max");
    }

    [Fact]
    public void Token_mean_and_constant_normaliser_aggregate_as_dapo_and_dr_grpo_define()
    {
        double a = Math.Exp(-0.3), b = Math.Exp(0.1);
        double sumOfTerms = 1.27 + a + 1 - 0.8 - b;   // Σ over all 5 tokens of min(w Â, clip(w) Â)

        var dapo = Evaluate(PolicyObjectiveOptions.Grpo() with { LossType = LossType.Dapo }, GrpoLogp, GrpoOld, GrpoAdv);
        AssertClose(-sumOfTerms / 5, dapo.Loss, 1e-12, "dapo loss: Σ / tokens");
        AssertClose(new[] { new[] { 0.0, -a / 5, -1.0 / 5 }, new[] { 0.0, b / 5 } }, dapo.Gradient, 1e-12, "dapo gradient");

        var dr = Evaluate(PolicyObjectiveOptions.Grpo() with { LossType = LossType.DrGrpo, MaxCompletionLength = 4 },
            GrpoLogp, GrpoOld, GrpoAdv);
        AssertClose(-sumOfTerms / (2 * 4), dr.Loss, 1e-12, "dr_grpo loss: Σ / (responses × max_completion_length)");
        AssertClose(new[] { new[] { 0.0, -a / 8, -1.0 / 8 }, new[] { 0.0, b / 8 } }, dr.Gradient, 1e-12, "dr_grpo gradient");
    }

    [Fact]
    public void Gspo_with_token_mean_weights_each_response_by_its_length_and_warns()
    {
        var options = PolicyObjectiveOptions.Gspo() with { LossType = LossType.Dapo };
        Assert.Contains(options.Validate(), w => w.Contains("length"));
        var run = Evaluate(options, GspoLogp, GspoOld, GspoAdv);
        double s1 = Math.Exp(-0.1), s3 = Math.Exp(-0.0001);
        AssertClose(-(2 * s1 + 3 * 1.0004 * 0.5 + 1 * -2 * s3) / 6, run.Loss, 1e-12, "length-weighted loss");
        AssertClose(new[] { new[] { -s1 / 6, -s1 / 6 }, new[] { 0.0, 0.0, 0.0 }, new[] { 2 * s3 / 6 } },
            run.Gradient, 1e-12, "gradient");
    }

    [Fact]
    public void Kl_penalty_adds_beta_times_k3_per_token()
    {
        // On-policy GRPO with a reference: loss = −mean_i mean_t Â_i + β mean_i mean_t k3,
        // k3 = e^d − d − 1 with d = ref − logp; ∂k3/∂logp = 1 − e^d.
        double[][] logp = { new[] { -1.0, -2.0 }, new[] { -0.5 } };
        double[][] reference = { new[] { -1.5, -1.0 }, new[] { -0.5 } };
        double[] adv = { 1.0, -1.0 };
        double beta = 0.1;
        var run = Evaluate(PolicyObjectiveOptions.Grpo() with { Beta = beta }, logp, logp, adv, reference);

        double K(double d) => Math.Exp(d) - d - 1;
        double expected = -(1.0 + -1.0) / 2 + beta * ((K(-0.5) + K(1.0)) / 2 + K(0)) / 2;
        AssertClose(expected, run.Loss, 1e-12, "loss");
        AssertClose(new[]
        {
            new[] { -1.0 / 4 + beta / 4 * (1 - Math.Exp(-0.5)), -1.0 / 4 + beta / 4 * (1 - Math.Exp(1.0)) },
            new[] { 1.0 / 2 },
        }, run.Gradient, 1e-12, "gradient");
        AssertClose((K(-0.5) + K(1.0) + K(0)) / 3, run.Stats.RefKl!.Value, 1e-12, "reference KL over tokens");
    }
}
