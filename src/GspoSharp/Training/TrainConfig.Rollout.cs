using System.ComponentModel;
using GspoSharp.Objectives;
using GspoSharp.Rollout;

#pragma warning disable CS1591 // Each option is documented by its [Description], which --help and docs/config.md print.

namespace GspoSharp.Training;

/// <summary>The rollout-backend and train–inference mismatch keys (docs/rollout-servers.md).</summary>
public sealed partial record TrainConfig
{
    // ---- Rollout backend (docs/rollout-servers.md) -----------------------------------------------
    [Description("Precision of in-process sampling: float32 (the policy itself) | bfloat16 (a bf16 copy refreshed after every update: the train–inference precision mismatch of real deployments; mismatch/* metrics are logged). Training stays float32.")]
    public RolloutDtype RolloutDtype { get; init; } = RolloutDtype.Float32;

    // ---- Rollout mismatch correction (docs/algorithms/objectives.md, "Rollout mismatch") ---------
    [Description("Multiply each token's policy loss by the importance weight π_train/π_rollout of the rollout engine's log-probs (truncated or masked by vllm_importance_sampling_mode). TRL's name; TRL's default is true (applied only with vLLM); off here unless asked for. Needs the recomputed old log-probs (not use_sampler_logprobs).")]
    public bool VllmImportanceSamplingCorrection { get; init; }
    [Description("token_truncate | token_mask | sequence_truncate | sequence_mask. Sequence modes use the length-normalised (geometric-mean) ratio for GSPO and GSPO-token, TRL's product over tokens for GRPO. TRL's name and default (sequence_mask).")]
    public RolloutCorrectionMode VllmImportanceSamplingMode { get; init; } = RolloutCorrectionMode.SequenceMask;
    [Description("Upper bound C_max of the importance weight (truncate: clamped to it; mask: zero above it); null: none. TRL's name and default (3.0).")]
    public double? VllmImportanceSamplingClipMax { get; init; } = 3.0;
    [Description("Lower bound C_min of the importance weight (truncate: clamped to it; mask: zero below it); null: none. TRL's name and default (unset).")]
    public double? VllmImportanceSamplingClipMin { get; init; }

    /// <summary>The correction's settings, or null when it is off.</summary>
    public RolloutCorrectionOptions? RolloutCorrection => VllmImportanceSamplingCorrection
        ? new RolloutCorrectionOptions(VllmImportanceSamplingMode, VllmImportanceSamplingClipMin, VllmImportanceSamplingClipMax)
        : null;

    /// <summary>True when the old policy's log-probs or the correction come from the rollout engine, so the
    /// <c>mismatch/*</c> metrics are logged every step.</summary>
    public bool MeasuresRolloutMismatch => UseSamplerLogprobs || VllmImportanceSamplingCorrection || RolloutDtype != RolloutDtype.Float32;

    void ValidateRollout(Action<bool, string, string> require)
    {
        require(Enum.IsDefined(RolloutDtype), "rollout_dtype", "must be float32 or bfloat16.");
        require(Enum.IsDefined(VllmImportanceSamplingMode), "vllm_importance_sampling_mode",
            "must be token_truncate, token_mask, sequence_truncate or sequence_mask.");
        require(VllmImportanceSamplingClipMax is null or >= 0 && VllmImportanceSamplingClipMin is null or >= 0, "vllm_importance_sampling_clip_max",
            "importance weights are ≥ 0; vllm_importance_sampling_clip_min and _max must be ≥ 0 (or null).");
        require(VllmImportanceSamplingClipMin is not { } low || VllmImportanceSamplingClipMax is not { } high || low < high, "vllm_importance_sampling_clip_min",
            $"({VllmImportanceSamplingClipMin}) must be less than vllm_importance_sampling_clip_max ({VllmImportanceSamplingClipMax}).");
        if (!VllmImportanceSamplingCorrection) return;
        require(!UseSamplerLogprobs, "vllm_importance_sampling_correction",
            "weights by π_old/π_rollout with the recomputed old log-probs; use_sampler_logprobs makes the policy ratio π_θ/π_rollout itself. Use one or the other.");
        require(VllmImportanceSamplingMode is RolloutCorrectionMode.TokenMask or RolloutCorrectionMode.SequenceMask
                || VllmImportanceSamplingClipMin is not null || VllmImportanceSamplingClipMax is not null, "vllm_importance_sampling_clip_max",
            "a *_truncate mode needs vllm_importance_sampling_clip_min or _max (as TRL requires).");
    }
}
