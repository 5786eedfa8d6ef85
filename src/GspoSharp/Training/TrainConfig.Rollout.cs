using System.ComponentModel;
using GspoSharp.Objectives;
using GspoSharp.Rollout;

#pragma warning disable CS1591 // Each option is documented by its [Description], which --help and docs/config.md print.

namespace GspoSharp.Training;

/// <summary>The rollout-backend and train–inference mismatch keys (docs/rollout-servers.md).</summary>
public sealed partial record TrainConfig
{
    // ---- Rollout backend (docs/rollout-servers.md) -----------------------------------------------
    [Description("Where rollouts are sampled: local (in process) | http (on rollout_servers: vLLM, SGLang or gspo serve). TRL: use_vllm with vllm_mode server.")]
    public RolloutBackendKind RolloutBackend { get; init; } = RolloutBackendKind.Local;
    [Description("Base URLs of the inference servers, e.g. [http://127.0.0.1:8000, http://127.0.0.1:8001]. Each prompt's samples go to one server; prompts spread by least outstanding work. TRL: vllm_server_base_url (one server) is accepted as an alias.")]
    public IReadOnlyList<string> RolloutServers { get; init; } = Array.Empty<string>();
    [Description("Sampling protocol: vllm (POST /v1/completions with token ids, return_token_ids, logprobs 0) | sglang (POST /generate with input_ids, return_logprob). gspo serve speaks both.")]
    public RolloutApi RolloutApi { get; init; } = RolloutApi.Vllm;
    [Description("How servers get the weights after every step: disk (a safetensors checkpoint in weight_sync_dir + SGLang's /update_weights_from_disk) | lora (the adapter + vLLM's /v1/load_lora_adapter, load_inplace; needs use_peft) | none.")]
    public WeightSyncMode WeightSync { get; init; } = WeightSyncMode.Disk;
    [Description("Directory the synced weights are written to, readable by the servers at the same path; unset: weight-sync/ in the run directory. Only the newest version is kept.")]
    public string? WeightSyncDir { get; init; }
    [Description("Seconds one HTTP request to a rollout server may take before that server counts as failed. (TRL's vllm_server_timeout is not an alias: it bounds the wait for a server to start.)")]
    public double RolloutTimeout { get; init; } = 600;
    [Description("Other servers a failed prompt group is tried on before the step gives up (the run then checkpoints and stops).")]
    public int RolloutRetries { get; init; } = 2;
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
    public bool MeasuresRolloutMismatch => UseSamplerLogprobs || VllmImportanceSamplingCorrection || RolloutDtype != RolloutDtype.Float32
                                           || RolloutBackend == RolloutBackendKind.Http;

    /// <summary>The HTTP backend's settings (Validate has checked the URLs).</summary>
    public HttpRolloutSettings HttpRollout => new(RolloutServers.Select(u => new Uri(u)).ToList(), RolloutApi, WeightSync, RolloutTimeout, RolloutRetries);

    void ValidateRollout(Action<bool, string, string> require)
    {
        require(Enum.IsDefined(RolloutDtype), "rollout_dtype", "must be float32 or bfloat16.");
        require(RolloutTimeout > 0 && double.IsFinite(RolloutTimeout), "rollout_timeout", $"is {RolloutTimeout}; must be > 0 seconds.");
        require(RolloutRetries >= 0, "rollout_retries", $"is {RolloutRetries}; must be ≥ 0.");
        foreach (var url in RolloutServers)
            require(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https", "rollout_servers", $"'{url}' is not an http:// or https:// URL.");
        require(RolloutServers.Distinct().Count() == RolloutServers.Count, "rollout_servers", "lists a server twice.");
        if (RolloutBackend == RolloutBackendKind.Http)
        {
            require(RolloutServers.Count > 0, "rollout_servers", "rollout_backend http needs at least one server.");
            require(RolloutDtype == RolloutDtype.Float32, "rollout_dtype", "applies to the local backend; a server samples in its own dtype (gspo serve --dtype).");
            require(!RoutingReplay, "routing_replay", "needs the experts chosen while sampling, which rollout servers do not return.");
            require(WeightSync != WeightSyncMode.Lora || UsePeft, "weight_sync", "lora sends the LoRA adapter; set use_peft: true (or weight_sync: disk).");
            require(WeightSync != WeightSyncMode.Disk || !UsePeft, "weight_sync", "disk writes the whole model; with use_peft the servers take the adapter: weight_sync: lora.");
        }
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
