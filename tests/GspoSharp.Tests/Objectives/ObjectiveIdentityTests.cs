using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>The identities of the GSPO paper (docs/algorithms/objectives.md), checked through autograd.</summary>
public class ObjectiveIdentityTests
{
    static (double[][] Logp, double[][] Old) RandomResponses(int seed, int[] lengths, double spread)
    {
        var rng = new Random(seed);
        var logp = lengths.Select(n => Enumerable.Range(0, n).Select(_ => -3 * rng.NextDouble()).ToArray()).ToArray();
        var old = logp.Select(r => r.Select(v => v + spread * (rng.NextDouble() - 0.5)).ToArray()).ToArray();
        return (logp, old);
    }

    [Theory]
    [InlineData(ScalarType.Float64)]
    [InlineData(ScalarType.Float32)]
    public void Gspo_token_equals_gspo_when_every_token_has_its_responses_advantage(ScalarType dtype)
    {
        // Spread 2e-3 puts some responses inside the clip range and some outside, on both sides.
        var (logp, old) = RandomResponses(7, new[] { 5, 1, 9, 3, 7, 2 }, 2e-3);
        double[] adv = { 1.2, -0.7, 0.3, -1.5, 0.9, -0.2 };
        var gspo = Evaluate(PolicyObjectiveOptions.Gspo(), logp, old, adv, dtype: dtype);
        var gspoToken = Evaluate(PolicyObjectiveOptions.GspoToken(), logp, old, ReferenceObjective.Repeat(adv, logp), dtype: dtype);

        Assert.True(gspo.Stats.ClipRegionSequences is > 0 and < 1, "the batch must mix clipped and unclipped responses");
        AssertClose(gspo.Loss, gspoToken.Loss, 1e-6, "loss");
        AssertClose(gspo.Gradient, gspoToken.Gradient, 1e-6, "gradient");
        AssertClose(gspo.Stats, gspoToken.Stats, 1e-6);
    }

    [Fact]
    public void Gspo_token_differs_from_gspo_when_advantages_vary_within_a_response()
    {
        var (logp, old) = RandomResponses(3, new[] { 4, 6 }, 1e-5);   // on-policy enough to be unclipped
        double[][] perToken = { new[] { 1.0, -1.0, 2.0, 0.0 }, new[] { 0.5, 0.5, -0.5, 1.5, 0.0, -1.0 } };
        double[] means = perToken.Select(r => r.Average()).ToArray();
        var gspo = Evaluate(PolicyObjectiveOptions.Gspo(), logp, old, means);
        var gspoToken = Evaluate(PolicyObjectiveOptions.GspoToken(), logp, old, perToken);

        // GSPO spreads Â_i evenly; GSPO-token sends each token its own Â_{i,t}:
        // ∂(−J)/∂logp_{i,t} = −(1/G)(1/|y_i|) s_i Â_{i,t}.
        var reference = ReferenceObjective.Compute(logp, old, perToken, null, ImportanceSamplingLevel.SequenceToken, 3e-4, 4e-4);
        AssertClose(reference.Gradient, gspoToken.Gradient, 1e-12, "GSPO-token gradient");
        Assert.True(Math.Abs(gspo.Gradient[0][0] - gspoToken.Gradient[0][0]) > 1e-3, "gradients must differ");
    }

    [Theory]
    [InlineData(ImportanceSamplingLevel.Sequence)]
    [InlineData(ImportanceSamplingLevel.Token)]
    [InlineData(ImportanceSamplingLevel.SequenceToken)]
    public void On_policy_gradient_is_minus_advantage_over_responses_times_length(ImportanceSamplingLevel level)
    {
        // logp == old_logp: every ratio is exactly 1, nothing is clipped, and
        // ∂(−J)/∂logp_{i,t} = −Â_i / (N·|y_i|), N = non-empty responses (the empty one is excluded).
        double[][] logp = { new[] { -0.3, -1.2, -0.8 }, new[] { -2.0 }, Array.Empty<double>(), new[] { -0.1, -0.4, -0.9, -1.1, -0.2 } };
        double[] adv = { 0.8, -1.3, 5.0, 0.25 };
        var options = new PolicyObjectiveOptions { ImportanceSamplingLevel = level };
        var run = Evaluate(options, logp, logp, level == ImportanceSamplingLevel.SequenceToken ? ReferenceObjective.Repeat(adv, logp) : adv);

        const int n = 3;
        for (int i = 0; i < logp.Length; i++)
            for (int t = 0; t < logp[i].Length; t++)
                AssertClose(-adv[i] / (n * logp[i].Length), run.Gradient[i][t], 1e-15, $"∂/∂logp[{i}][{t}]");
        Assert.Equal(3, run.Stats.Sequences);
        Assert.Equal(0, run.Stats.ClipRegionTokens);
    }

    [Theory]
    [InlineData(+1.0, 0.001, true)]     // s_i > 1+ε_high with Â > 0: clipped
    [InlineData(-1.0, -0.001, true)]    // s_i < 1−ε_low with Â < 0: clipped
    [InlineData(+1.0, 0.0001, false)]   // inside the range
    [InlineData(-1.0, 0.001, false)]    // above the range but Â < 0: the unclipped branch is smaller
    [InlineData(+1.0, -0.001, false)]   // below the range but Â > 0
    public void A_clipped_response_gives_no_gradient_to_any_of_its_tokens(double advantage, double meanLogRatio, bool clipped)
    {
        // Token log-ratios vary but average to meanLogRatio, so only the sequence ratio decides.
        double[] offsets = { 0.05, -0.08, 0.03 };
        double[][] logp = { new[] { -1.0, -0.5, -2.0 } };
        double[][] old = { logp[0].Select((v, t) => v - meanLogRatio - offsets[t]).ToArray() };
        var run = Evaluate(PolicyObjectiveOptions.Gspo(), logp, old, new[] { advantage });

        Assert.Equal(clipped ? 1.0 : 0.0, run.Stats.ClipRegionSequences);
        foreach (var g in run.Gradient[0])
            if (clipped) Assert.Equal(0.0, g);
            else AssertClose(-advantage * Math.Exp(meanLogRatio) / 3, g, 1e-12, "unclipped gradient −Â s_i/|y_i|");
    }

    [Theory]
    [InlineData(ImportanceSamplingLevel.Sequence, LossType.Grpo)]
    [InlineData(ImportanceSamplingLevel.Token, LossType.Grpo)]
    [InlineData(ImportanceSamplingLevel.SequenceToken, LossType.Dapo)]
    [InlineData(ImportanceSamplingLevel.Token, LossType.DrGrpo)]
    public void Appending_masked_positions_with_any_values_changes_nothing(ImportanceSamplingLevel level, LossType lossType)
    {
        var (logp, old) = RandomResponses(11, new[] { 4, 2, 6 }, 0.5);
        double[] adv = { 0.9, -1.1, 0.4 };
        double[][] reference = logp.Select(r => r.Select(v => v - 0.3).ToArray()).ToArray();
        var options = new PolicyObjectiveOptions { ImportanceSamplingLevel = level, LossType = lossType, Beta = 0.05 };
        var plain = Evaluate(options, logp, old, adv, reference);

        foreach (double pad in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity, 1e30, -7.5 })
        {
            var padded = Evaluate(options, logp, old, adv, reference, width: 13, pad: pad);
            // Equal up to the summation order of the wider reductions.
            AssertClose(plain.Loss, padded.Loss, 1e-14, $"loss with padding {pad}");
            AssertClose(plain.Gradient, padded.Gradient, 1e-14, $"gradient with padding {pad}");
            for (int i = 0; i < logp.Length; i++)
                for (int t = logp[i].Length; t < 13; t++)
                    Assert.Equal(0.0, padded.PaddedGradient[i, t]);
            AssertClose(plain.Stats, padded.Stats, 1e-14);
        }
    }

    [Fact]
    public void For_responses_of_one_token_gspo_and_grpo_agree_with_equal_clip_ranges()
    {
        var (logp, old) = RandomResponses(5, new[] { 1, 1, 1, 1, 1, 1, 1, 1 }, 0.8);
        double[] adv = { 1, -1, 0.5, -0.5, 2, -2, 0.1, -0.1 };
        var gspo = Evaluate(PolicyObjectiveOptions.Gspo() with { Epsilon = 0.2, EpsilonHigh = 0.2 }, logp, old, adv);
        var grpo = Evaluate(PolicyObjectiveOptions.Grpo() with { Epsilon = 0.2, EpsilonHigh = 0.2 }, logp, old, adv);

        Assert.True(grpo.Stats.ClipRegionTokens > 0, "some responses must be clipped");
        AssertClose(grpo.Loss, gspo.Loss, 1e-15, "loss");
        AssertClose(grpo.Gradient, gspo.Gradient, 1e-15, "gradient");
    }

    [Fact]
    public void Empty_responses_are_excluded_not_divided_by_zero()
    {
        var (logp, old) = RandomResponses(2, new[] { 3, 4 }, 0.001);
        double[] adv = { 1.0, -0.5 };
        foreach (var lossType in new[] { LossType.Grpo, LossType.Dapo })
        {
            var options = PolicyObjectiveOptions.Gspo() with { LossType = lossType };
            var without = Evaluate(options, logp, old, adv);
            var with = Evaluate(options, logp.Append(Array.Empty<double>()).ToArray(), old.Append(Array.Empty<double>()).ToArray(),
                adv.Append(3.0).ToArray());
            AssertClose(without.Loss, with.Loss, 1e-15, $"{lossType} loss");
            AssertClose(without.Stats, with.Stats, 1e-15);
        }

        var allEmpty = Evaluate(PolicyObjectiveOptions.Gspo(), new[] { Array.Empty<double>() }, new[] { Array.Empty<double>() }, new[] { 1.0 });
        Assert.Equal(0.0, allEmpty.Loss);
        Assert.Equal(0, allEmpty.Stats.Tokens);
        Assert.Equal(1.0, allEmpty.Stats.RatioMean);
    }

    [Theory]
    [InlineData(ImportanceSamplingLevel.Token)]
    [InlineData(ImportanceSamplingLevel.Sequence)]
    [InlineData(ImportanceSamplingLevel.SequenceToken)]
    public void Extreme_log_ratios_are_clamped_counted_and_stay_finite(ImportanceSamplingLevel level)
    {
        // A log-ratio of 60 (ratio e^60 overflows float32) in a response of 2 tokens: mean 30 > 20.
        double[][] logp = { new[] { -0.1, -0.2 }, new[] { -1.0 } };
        double[][] old = { new[] { -60.1, -0.2 }, new[] { -1.0 } };
        double[] adv = { -1.0, 1.0 };
        var options = new PolicyObjectiveOptions { ImportanceSamplingLevel = level };
        var run = Evaluate(options, logp, old, level == ImportanceSamplingLevel.SequenceToken ? ReferenceObjective.Repeat(adv, logp) : adv,
            dtype: ScalarType.Float32);

        Assert.True(double.IsFinite(run.Loss));
        Assert.All(run.Gradient.SelectMany(g => g), g => Assert.True(double.IsFinite(g)));
        Assert.Equal(1, run.Stats.ClampedLogRatios);
        Assert.True(double.IsFinite(run.Stats.RatioMax) && run.Stats.RatioMax <= Math.Exp(20) * 1.0001);
    }
}
