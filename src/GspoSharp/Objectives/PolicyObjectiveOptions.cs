namespace GspoSharp.Objectives;

/// <summary>
/// Which importance ratio the objective uses (TRL's <c>importance_sampling_level</c>).
/// </summary>
public enum ImportanceSamplingLevel
{
    /// <summary>GRPO: w_{i,t} = π_θ(y_{i,t}|…) / π_θold(y_{i,t}|…), clipped per token. TRL: "token".</summary>
    Token,
    /// <summary>GSPO: s_i = exp(mean_t log w_{i,t}), clipped per sequence. TRL: "sequence".</summary>
    Sequence,
    /// <summary>GSPO-token: s_{i,t} = sg[s_i]·π_θ(y_{i,t})/sg[π_θ(y_{i,t})], for per-token advantages.
    /// TRL has no name for it; ours is "sequence_token".</summary>
    SequenceToken,
}

/// <summary>How per-token losses are reduced to the scalar loss (TRL's <c>loss_type</c>).</summary>
public enum LossType
{
    /// <summary>"grpo": mean over each response's tokens, then mean over responses — the form of the
    /// GRPO and GSPO papers (each response weighs the same).</summary>
    Grpo,
    /// <summary>"dapo": sum over all tokens of the batch divided by their number (DAPO, Yu et al. 2025;
    /// TRL's "bnpo" is the same in a single process). Long responses weigh more.</summary>
    Dapo,
    /// <summary>"dr_grpo": sum over all tokens divided by the constant (responses × max_completion_length)
    /// (Dr. GRPO, Liu et al. 2025, "Understanding R1-Zero-Like Training").</summary>
    DrGrpo,
    /// <summary>"sapo": SAPO's soft gate (<see cref="SoftGate"/>) instead of the hard clip, aggregated as
    /// "grpo" (Gao et al. 2025; TRL's loss_type "sapo").</summary>
    Sapo,
}

/// <summary>How rewards are scaled into advantages (TRL's <c>scale_rewards</c>).</summary>
public enum ScaleRewards
{
    /// <summary>"group": (r − group mean) / (group std + eps), the paper's Â.</summary>
    Group,
    /// <summary>"batch": (r − group mean) / (std over the whole batch + eps).</summary>
    Batch,
    /// <summary>"none": r − group mean, no division (Dr. GRPO).</summary>
    None,
}

/// <summary>
/// Settings of the policy objective. Names follow TRL's GRPOConfig where it has the concept
/// (given in each doc comment), so a TRL recipe maps option for option. Unset clip ranges take
/// the paper's defaults for the chosen level (<see cref="ObjectiveDefaults"/>).
/// </summary>
public sealed record PolicyObjectiveOptions
{
    /// <summary>TRL <c>importance_sampling_level</c>. Default: GSPO's sequence level.</summary>
    public ImportanceSamplingLevel ImportanceSamplingLevel { get; init; } = ImportanceSamplingLevel.Sequence;

    /// <summary>TRL <c>epsilon</c>: the lower clip range ε_low. Null takes the paper's default for the level.</summary>
    public double? Epsilon { get; init; }

    /// <summary>TRL <c>epsilon_high</c>: the upper clip range ε_high. Null: the paper's default for the
    /// level when <see cref="Epsilon"/> is also null, else equal to <see cref="Epsilon"/> (as in TRL).</summary>
    public double? EpsilonHigh { get; init; }

    /// <summary>TRL <c>beta</c>: weight of the per-token k3 KL penalty to a reference policy. Default 0.</summary>
    public double Beta { get; init; } = ObjectiveDefaults.Beta;

    /// <summary>TRL <c>loss_type</c>. Default: the paper's per-sequence mean.</summary>
    public LossType LossType { get; init; } = ObjectiveDefaults.Loss;

    /// <summary>TRL <c>max_completion_length</c>; here only the constant of <see cref="LossType.DrGrpo"/>.</summary>
    public int MaxCompletionLength { get; init; } = ObjectiveDefaults.MaxCompletionLength;

    /// <summary>TRL <c>sapo_temperature_pos</c>: SAPO's gate temperature for positive advantages (loss_type sapo).</summary>
    public double SapoTemperaturePos { get; init; } = SoftGate.TemperaturePos;

    /// <summary>TRL <c>sapo_temperature_neg</c>: SAPO's gate temperature for negative advantages (loss_type sapo).</summary>
    public double SapoTemperatureNeg { get; init; } = SoftGate.TemperatureNeg;

    /// <summary>GSPO with the paper's defaults.</summary>
    public static PolicyObjectiveOptions Gspo() => new() { ImportanceSamplingLevel = ImportanceSamplingLevel.Sequence };

    /// <summary>GSPO-token with the paper's (GSPO) defaults.</summary>
    public static PolicyObjectiveOptions GspoToken() => new() { ImportanceSamplingLevel = ImportanceSamplingLevel.SequenceToken };

    /// <summary>GRPO with the GSPO paper's GRPO baseline settings.</summary>
    public static PolicyObjectiveOptions Grpo() => new() { ImportanceSamplingLevel = ImportanceSamplingLevel.Token };

    /// <summary>ε_low in effect.</summary>
    public double ClipLow => Epsilon ?? ObjectiveDefaults.ClipRange(ImportanceSamplingLevel).Low;

    /// <summary>ε_high in effect.</summary>
    public double ClipHigh =>
        EpsilonHigh ?? Epsilon ?? ObjectiveDefaults.ClipRange(ImportanceSamplingLevel).High;

    /// <summary>
    /// Throws <see cref="ArgumentException"/> naming the option for impossible values and returns
    /// warnings for allowed but questionable combinations.
    /// </summary>
    public IReadOnlyList<string> Validate()
    {
        if (!(ClipLow >= 0 && ClipLow < 1))
            throw new ArgumentException($"epsilon must be in [0, 1); got {ClipLow}.", nameof(Epsilon));
        if (!(ClipHigh >= 0) || double.IsInfinity(ClipHigh))
            throw new ArgumentException($"epsilon_high must be finite and ≥ 0; got {ClipHigh}.", nameof(EpsilonHigh));
        if (!(Beta >= 0) || double.IsInfinity(Beta))
            throw new ArgumentException($"beta must be finite and ≥ 0; got {Beta}.", nameof(Beta));
        if (!(SapoTemperaturePos > 0) || double.IsInfinity(SapoTemperaturePos))
            throw new ArgumentException($"sapo_temperature_pos must be finite and > 0; got {SapoTemperaturePos}.", nameof(SapoTemperaturePos));
        if (!(SapoTemperatureNeg > 0) || double.IsInfinity(SapoTemperatureNeg))
            throw new ArgumentException($"sapo_temperature_neg must be finite and > 0; got {SapoTemperatureNeg}.", nameof(SapoTemperatureNeg));
        if (MaxCompletionLength < 1)
            throw new ArgumentException($"max_completion_length must be ≥ 1; got {MaxCompletionLength}.", nameof(MaxCompletionLength));

        var warnings = new List<string>();
        if (ImportanceSamplingLevel == ImportanceSamplingLevel.Sequence && LossType is not (LossType.Grpo or LossType.Sapo))
            warnings.Add($"loss_type {Names.Of(LossType)} with importance_sampling_level sequence weights each " +
                         "response's sequence-level term by its length; GSPO as published averages over responses " +
                         "(loss_type grpo).");
        if (ImportanceSamplingLevel != ImportanceSamplingLevel.Token && ClipLow >= 0.05)
            warnings.Add($"epsilon {ClipLow} is a token-level clip range; sequence ratios are geometric means " +
                         "and the paper clips them at 3e-4 / 4e-4.");
        return warnings;
    }

    /// <summary>The TRL-style spellings of the enum values, used in configs, the CLI and messages.</summary>
    public static class Names
    {
        /// <summary>"token" | "sequence" | "sequence_token".</summary>
        public static string Of(ImportanceSamplingLevel level) => level switch
        {
            ImportanceSamplingLevel.Token => "token",
            ImportanceSamplingLevel.Sequence => "sequence",
            _ => "sequence_token",
        };

        /// <summary>"grpo" | "dapo" | "dr_grpo" | "sapo".</summary>
        public static string Of(LossType type) => type switch
        {
            LossType.Grpo => "grpo",
            LossType.Dapo => "dapo",
            LossType.Sapo => "sapo",
            _ => "dr_grpo",
        };

        /// <summary>"group" | "batch" | "none".</summary>
        public static string Of(ScaleRewards scale) => scale switch
        {
            ScaleRewards.Group => "group",
            ScaleRewards.Batch => "batch",
            _ => "none",
        };

        /// <summary>Parses "token", "sequence" or "sequence_token".</summary>
        public static ImportanceSamplingLevel ParseLevel(string text) => text.Trim().ToLowerInvariant() switch
        {
            "token" => ImportanceSamplingLevel.Token,
            "sequence" => ImportanceSamplingLevel.Sequence,
            "sequence_token" => ImportanceSamplingLevel.SequenceToken,
            _ => throw new ArgumentException(
                $"importance_sampling_level must be token, sequence or sequence_token; got '{text}'."),
        };

        /// <summary>Parses "grpo", "dapo" (or TRL's single-process equivalent "bnpo"), "dr_grpo" or "sapo".</summary>
        public static LossType ParseLossType(string text) => text.Trim().ToLowerInvariant() switch
        {
            "grpo" => LossType.Grpo,
            "dapo" or "bnpo" => LossType.Dapo,
            "dr_grpo" => LossType.DrGrpo,
            "sapo" => LossType.Sapo,
            _ => throw new ArgumentException($"loss_type must be grpo, dapo (bnpo), dr_grpo or sapo; got '{text}'."),
        };

        /// <summary>Parses "group", "batch", "none", or TRL's older booleans (true = group, false = none).</summary>
        public static ScaleRewards ParseScaleRewards(string text) => text.Trim().ToLowerInvariant() switch
        {
            "group" or "true" => ScaleRewards.Group,
            "batch" => ScaleRewards.Batch,
            "none" or "false" => ScaleRewards.None,
            _ => throw new ArgumentException($"scale_rewards must be group, batch or none; got '{text}'."),
        };
    }
}
