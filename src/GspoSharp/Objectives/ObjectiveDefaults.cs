namespace GspoSharp.Objectives;

/// <summary>
/// Every default of the policy objectives, in one place, with where it comes from.
/// </summary>
public static class ObjectiveDefaults
{
    /// <summary>GSPO lower clip range ε_low = 3e-4 (Zheng et al. 2025, "Group Sequence Policy
    /// Optimization", experiments). Tiny because s_i is a geometric mean of token ratios.</summary>
    public const double GspoEpsilonLow = 3e-4;

    /// <summary>GSPO upper clip range ε_high = 4e-4 (same source).</summary>
    public const double GspoEpsilonHigh = 4e-4;

    /// <summary>GRPO lower clip range ε_low = 0.2, the GSPO paper's GRPO baseline and PPO's
    /// classic value.</summary>
    public const double GrpoEpsilonLow = 0.2;

    /// <summary>GRPO upper clip range ε_high = 0.27, the GSPO paper's GRPO baseline ("clip-higher",
    /// as introduced by DAPO, Yu et al. 2025).</summary>
    public const double GrpoEpsilonHigh = 0.27;

    /// <summary>KL coefficient β = 0: the GSPO paper trains without a KL penalty, as TRL's
    /// GRPOConfig does by default.</summary>
    public const double Beta = 0.0;

    /// <summary>Loss aggregation: the paper's per-sequence mean (TRL loss_type "grpo").</summary>
    public const LossType Loss = LossType.Grpo;

    /// <summary>Dr. GRPO's constant normaliser uses the generation budget; TRL's GRPOConfig
    /// default max_completion_length is 256.</summary>
    public const int MaxCompletionLength = 256;

    /// <summary>
    /// Bound on every log importance ratio before it is exponentiated: |log ratio| ≤ 20, so a
    /// ratio lies in [2.1e-9, 4.9e8]. Those stay finite in float32 even multiplied by any
    /// realistic advantage, while a healthy run never comes near them: GSPO clips at
    /// |log s| ≈ 4e-4 and GRPO at |log w| ≈ 0.27. The same bound verl uses. When the bound
    /// fires the gradient through that ratio is zero; every firing is counted in the metrics.
    /// </summary>
    public const double LogRatioBound = 20.0;

    /// <summary>Added to the group standard deviation before dividing, as TRL does (1e-4).</summary>
    public const double AdvantageEpsilon = 1e-4;

    /// <summary>Rewards are scaled by the standard deviation of their group (the paper's Â).</summary>
    public const ScaleRewards RewardScaling = ScaleRewards.Group;

    /// <summary>Clip range defaults of the paper for an importance-sampling level: GSPO's for
    /// the sequence levels, GRPO's for the token level.</summary>
    public static (double Low, double High) ClipRange(ImportanceSamplingLevel level) =>
        level == ImportanceSamplingLevel.Token
            ? (GrpoEpsilonLow, GrpoEpsilonHigh)
            : (GspoEpsilonLow, GspoEpsilonHigh);
}
