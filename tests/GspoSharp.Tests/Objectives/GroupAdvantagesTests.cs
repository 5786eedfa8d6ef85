using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

public class GroupAdvantagesTests
{
    static readonly double[] Rewards = { 1, 0, 0, 1, /**/ 1, 1, 1, 1, /**/ 0, 0.5, 1, 0.5 };

    [Fact]
    public void Group_scaling_divides_by_the_groups_sample_std_plus_eps()
    {
        var result = GroupAdvantages.Compute(Rewards, 4);
        // Group 1: mean 0.5, sample std √((4·0.25)/3) = √(1/3).  Group 3: mean 0.5, std √(0.5/3).
        double s1 = Math.Sqrt(1.0 / 3) + 1e-4, s3 = Math.Sqrt(0.5 / 3) + 1e-4;
        double[] expected = { 0.5 / s1, -0.5 / s1, -0.5 / s1, 0.5 / s1, 0, 0, 0, 0, -0.5 / s3, 0, 0.5 / s3, 0 };
        for (int i = 0; i < expected.Length; i++) AssertClose(expected[i], result.Advantages[i], 1e-15, $"Â[{i}]");
        Assert.Equal(new[] { 0.5, 1, 0.5 }, result.GroupMeans);
        AssertClose(1.0 / 3, result.FracRewardZeroStd, 1e-15, "frac_reward_zero_std");
        Assert.Equal(new[] { false, true, false }, result.ZeroStdGroups);
    }

    [Fact]
    public void No_scaling_subtracts_the_group_mean_only()
    {
        var result = GroupAdvantages.Compute(Rewards, 4, ScaleRewards.None);
        Assert.Equal(new[] { 0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, -0.5, 0, 0.5, 0 }, result.Advantages);
    }

    [Fact]
    public void Batch_scaling_divides_by_the_std_of_all_rewards()
    {
        var result = GroupAdvantages.Compute(Rewards, 4, ScaleRewards.Batch);
        double mean = Rewards.Average();
        double std = Math.Sqrt(Rewards.Sum(r => (r - mean) * (r - mean)) / (Rewards.Length - 1)) + 1e-4;
        AssertClose(0.5 / std, result.Advantages[0], 1e-15, "Â[0]");
        AssertClose(-0.5 / std, result.Advantages[8], 1e-15, "Â[8]");
        Assert.Equal(0.0, result.Advantages[5]);
    }

    [Theory]
    [InlineData(ScaleRewards.Group)]
    [InlineData(ScaleRewards.Batch)]
    [InlineData(ScaleRewards.None)]
    public void Equal_rewards_give_exactly_zero_never_nan(ScaleRewards scale)
    {
        // 0.1 + 0.1 + 0.1 rounds, so r − mean would be ≈ −1.4e−17 and, divided by eps, ≈ −1.4e−13.
        var result = GroupAdvantages.Compute(new[] { 0.1, 0.1, 0.1, 7.0, 7.0, 7.0 }, 3, scale, epsilon: 0);
        Assert.All(result.Advantages, a => Assert.Equal(0.0, a));
        Assert.Equal(1.0, result.FracRewardZeroStd);
    }

    [Fact]
    public void Bad_input_is_rejected_with_the_reason()
    {
        Assert.Contains("≥ 2", Assert.Throws<ArgumentException>(() => GroupAdvantages.Compute(new[] { 1.0, 2.0 }, 1)).Message);
        Assert.Contains("whole groups of 4", Assert.Throws<ArgumentException>(() => GroupAdvantages.Compute(new[] { 1.0, 2.0, 3.0 }, 4)).Message);
        Assert.Contains("reward 1 is NaN", Assert.Throws<ArgumentException>(() => GroupAdvantages.Compute(new[] { 1.0, double.NaN }, 2)).Message);
    }
}
