namespace GspoSharp.Objectives;

/// <summary>
/// Group-relative advantages. Rewards come in groups of G consecutive responses to the same
/// prompt; each response's advantage compares its reward with its group's:
/// <code>
///   group:  Â_i = (r_i − mean_g(r)) / (std_g(r) + eps)      the GRPO / GSPO papers' Â
///   batch:  Â_i = (r_i − mean_g(r)) / (std_batch(r) + eps)  TRL scale_rewards="batch"
///   none:   Â_i =  r_i − mean_g(r)                          Dr. GRPO
/// </code>
/// std is the sample standard deviation (divisor G − 1), as in TRL and verl (torch.std). A group
/// whose rewards are all equal carries no signal and gets advantages of exactly 0 in every mode.
/// Computed in float64 on the host: rewards are a handful of numbers per step.
/// </summary>
public static class GroupAdvantages
{
    /// <summary>Advantages for <paramref name="rewards"/> laid out as consecutive groups of <paramref name="groupSize"/>.</summary>
    /// <exception cref="ArgumentException">G &lt; 2, the count is not a multiple of G, or a reward is not finite.</exception>
    public static GroupAdvantageResult Compute(IReadOnlyList<double> rewards, int groupSize,
        ScaleRewards scale = ObjectiveDefaults.RewardScaling, double epsilon = ObjectiveDefaults.AdvantageEpsilon)
    {
        if (groupSize < 2)
            throw new ArgumentException($"num_generations (group size) must be ≥ 2 to compare responses; got {groupSize}.", nameof(groupSize));
        if (rewards.Count == 0 || rewards.Count % groupSize != 0)
            throw new ArgumentException($"{rewards.Count} rewards do not form whole groups of {groupSize}.", nameof(rewards));
        if (!(epsilon >= 0))
            throw new ArgumentException($"epsilon must be ≥ 0; got {epsilon}.", nameof(epsilon));
        for (int i = 0; i < rewards.Count; i++)
            if (!double.IsFinite(rewards[i]))
                throw new ArgumentException($"reward {i} is {rewards[i]}; rewards must be finite.", nameof(rewards));

        int groups = rewards.Count / groupSize;
        var advantages = new double[rewards.Count];
        var means = new double[groups];
        var stds = new double[groups];
        var zeroStd = new bool[groups];
        double batchStd = SampleStd(rewards, 0, rewards.Count);
        for (int g = 0; g < groups; g++)
        {
            int start = g * groupSize;
            double mean = 0;
            for (int i = start; i < start + groupSize; i++) mean += rewards[i];
            means[g] = mean /= groupSize;
            stds[g] = SampleStd(rewards, start, groupSize);
            zeroStd[g] = AllEqual(rewards, start, groupSize);
            if (zeroStd[g]) continue;   // exactly zero, not a rounding residue of r − mean
            double divisor = scale switch
            {
                ScaleRewards.Group => stds[g] + epsilon,
                ScaleRewards.Batch => batchStd + epsilon,
                _ => 1.0,
            };
            for (int i = start; i < start + groupSize; i++) advantages[i] = (rewards[i] - mean) / divisor;
        }
        return new GroupAdvantageResult(advantages, means, stds, zeroStd);
    }

    static bool AllEqual(IReadOnlyList<double> r, int start, int count)
    {
        for (int i = start + 1; i < start + count; i++)
            if (r[i] != r[start]) return false;
        return true;
    }

    static double SampleStd(IReadOnlyList<double> r, int start, int count)
    {
        if (count < 2) return 0;
        double mean = 0;
        for (int i = start; i < start + count; i++) mean += r[i];
        mean /= count;
        double squares = 0;
        for (int i = start; i < start + count; i++) squares += (r[i] - mean) * (r[i] - mean);
        return Math.Sqrt(squares / (count - 1));
    }
}

/// <summary>Advantages and the group statistics behind them.</summary>
/// <param name="Advantages">One per response, in the order of the rewards.</param>
/// <param name="GroupMeans">Mean reward of each group.</param>
/// <param name="GroupStds">Sample standard deviation of each group's rewards.</param>
/// <param name="ZeroStdGroups">True for groups whose rewards are all equal (zero advantages).</param>
public sealed record GroupAdvantageResult(double[] Advantages, double[] GroupMeans, double[] GroupStds, bool[] ZeroStdGroups)
{
    /// <summary>Fraction of groups with all-equal rewards (TRL's frac_reward_zero_std).</summary>
    public double FracRewardZeroStd => ZeroStdGroups.Count(z => z) / (double)ZeroStdGroups.Length;
}
