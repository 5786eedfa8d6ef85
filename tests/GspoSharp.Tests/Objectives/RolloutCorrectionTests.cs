using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>
/// The mismatch metrics and TRL's four correction modes on a batch worked by hand:
/// d = log π_train − log π_rollout = [0.5, −1.0] | [0.75] (padding holds NaN, which must not matter).
///   per-sequence means m = [−0.25, 0.75]; sums [−0.5, 0.75]
/// </summary>
public class RolloutCorrectionTests
{
    static readonly double[][] Train = { new[] { -1.0, -2.0 }, new[] { -0.5 } };
    static readonly double[][] Rollout = { new[] { -1.5, -1.0 }, new[] { -1.25 } };

    static (Tensor Train, Tensor Rollout, Tensor Mask) Inputs() =>
        (Padded(Train, 2, double.NaN, ScalarType.Float32), Padded(Rollout, 2, double.NaN, ScalarType.Float32), Mask(Train, 2));

    static double[,] Values(Tensor t)
    {
        var data = t.to_type(ScalarType.Float64).data<double>().ToArray();
        var result = new double[t.shape[0], t.shape[1]];
        for (int i = 0; i < data.Length; i++) result[i / t.shape[1], i % t.shape[1]] = data[i];
        return result;
    }

    static void AssertRows(double[][] expected, Tensor actual)
    {
        var values = Values(actual);
        Assert.Equal(expected.Length, values.GetLength(0));
        for (int i = 0; i < expected.Length; i++)
            for (int t = 0; t < expected[i].Length; t++)
                Assert.True(Math.Abs(expected[i][t] - values[i, t]) < 1e-6, $"[{i}, {t}]: expected {expected[i][t]}, got {values[i, t]}");
    }

    [Fact]
    public void Metrics_are_the_token_mean_of_abs_diff_the_sequence_means_and_k3()
    {
        var (train, rollout, mask) = Inputs();
        var m = RolloutCorrection.Measure(train, rollout, mask);
        Assert.Equal((0.5 + 1.0 + 0.75) / 3, m.TokenAbsDiffMean, 12);
        Assert.Equal((-0.25 + 0.75) / 2, m.SeqLogRatioMean, 12);
        Assert.Equal(0.75, m.SeqLogRatioMax, 12);
        Assert.Equal((Math.Exp(0.5) - 0.5 - 1 + Math.Exp(-1.0) + 1.0 - 1 + Math.Exp(0.75) - 0.75 - 1) / 3, m.K3Kl, 12);
    }

    [Fact]
    public void Equal_log_probs_measure_zero_and_an_empty_mask_measures_nothing()
    {
        var (train, _, mask) = Inputs();
        Assert.Equal(new RolloutMismatch(0, 0, 0, 0), RolloutCorrection.Measure(train, train.clone(), mask));
        Assert.Equal(new RolloutMismatch(0, 0, 0, 0), RolloutCorrection.Measure(train, train, zeros_like(mask)));
    }

    // Bounds [0.5, 2]: e^0.5 ≈ 1.649 inside, e^−1 ≈ 0.368 below, e^0.75 ≈ 2.117 above.
    [Fact]
    public void Token_truncate_clamps_each_token_and_token_mask_zeroes_it()
    {
        var (train, rollout, mask) = Inputs();
        var options = new RolloutCorrectionOptions(RolloutCorrectionMode.TokenTruncate, 0.5, 2.0);
        AssertRows(new[] { new[] { Math.Exp(0.5), 0.5 }, new[] { 2.0, 1.0 } },
            RolloutCorrection.Weights(train, rollout, mask, options, ImportanceSamplingLevel.Sequence));
        AssertRows(new[] { new[] { Math.Exp(0.5), 0.0 }, new[] { 0.0, 1.0 } },
            RolloutCorrection.Weights(train, rollout, mask, options with { Mode = RolloutCorrectionMode.TokenMask }, ImportanceSamplingLevel.Sequence));
        // An open lower bound (TRL's default C_min): only clamped from above.
        AssertRows(new[] { new[] { Math.Exp(0.5), Math.Exp(-1.0) }, new[] { 2.0, 1.0 } },
            RolloutCorrection.Weights(train, rollout, mask, options with { ClipMin = null }, ImportanceSamplingLevel.Token));
    }

    [Fact]
    public void Sequence_modes_use_the_length_normalised_ratio_for_gspo_and_the_sum_for_grpo()
    {
        var (train, rollout, mask) = Inputs();
        var truncate = new RolloutCorrectionOptions(RolloutCorrectionMode.SequenceTruncate, 0.5, 2.0);
        var masked = truncate with { Mode = RolloutCorrectionMode.SequenceMask };
        foreach (var level in new[] { ImportanceSamplingLevel.Sequence, ImportanceSamplingLevel.SequenceToken })
        {
            // GSPO: ρ_i = exp(mean_t d) = [e^−0.25 ≈ 0.779, e^0.75 ≈ 2.117]
            AssertRows(new[] { new[] { Math.Exp(-0.25) }, new[] { 2.0 } }, RolloutCorrection.Weights(train, rollout, mask, truncate, level));
            AssertRows(new[] { new[] { Math.Exp(-0.25) }, new[] { 0.0 } }, RolloutCorrection.Weights(train, rollout, mask, masked, level));
        }
        // GRPO (TRL): ρ_i = exp(Σ_t d) = [e^−0.5 ≈ 0.607, e^0.75]
        AssertRows(new[] { new[] { Math.Exp(-0.5) }, new[] { 2.0 } }, RolloutCorrection.Weights(train, rollout, mask, truncate, ImportanceSamplingLevel.Token));
        AssertRows(new[] { new[] { Math.Exp(-0.5) }, new[] { 0.0 } }, RolloutCorrection.Weights(train, rollout, mask, masked, ImportanceSamplingLevel.Token));
        // A length-normalised weight stays put when a response is repeated to twice its length; the sum's does not.
        var twice = Padded(new[] { new[] { -1.0, -2.0, -1.0, -2.0 } }, 4, 0, ScalarType.Float32);
        var twiceRollout = Padded(new[] { new[] { -1.5, -1.0, -1.5, -1.0 } }, 4, 0, ScalarType.Float32);
        var open = new RolloutCorrectionOptions(RolloutCorrectionMode.SequenceTruncate, null, 100);
        AssertRows(new[] { new[] { Math.Exp(-0.25) } }, RolloutCorrection.Weights(twice, twiceRollout, ones(1, 4), open, ImportanceSamplingLevel.Sequence));
        AssertRows(new[] { new[] { Math.Exp(-1.0) } }, RolloutCorrection.Weights(twice, twiceRollout, ones(1, 4), open, ImportanceSamplingLevel.Token));
    }

    [Fact]
    public void The_objective_multiplies_each_tokens_policy_loss_by_its_weight()
    {
        // On policy (ratio 1, nothing clipped), GSPO, loss_type grpo: loss = −1/G Σ_i 1/|y_i| Σ_t ρ_{i,t} Â_i.
        var (train, rollout, mask) = Inputs();
        var weights = RolloutCorrection.Weights(train, rollout, mask, new RolloutCorrectionOptions(RolloutCorrectionMode.TokenTruncate, 0.5, 2.0),
            ImportanceSamplingLevel.Sequence);
        var logp = Padded(Train, 2, 0, ScalarType.Float32);
        using var loss = PolicyObjective.Compute(new PolicyBatch(logp, logp.clone(), tensor(new[] { 1.0f, 2.0f }), mask) { SamplingWeights = weights },
            PolicyObjectiveOptions.Gspo());
        Assert.Equal(-((Math.Exp(0.5) + 0.5) / 2 * 1.0 + 2.0 * 2.0) / 2, loss.Loss.item<float>(), 5);
        Assert.Throws<ArgumentException>(() => PolicyObjective.Compute(
            new PolicyBatch(logp, logp, tensor(new[] { 1.0f, 2.0f }), mask) { SamplingWeights = ones(2, 3) }, PolicyObjectiveOptions.Gspo()));
    }
}
