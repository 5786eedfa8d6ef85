namespace GspoSharp.Rollout;

/// <summary>Where rollouts are sampled (<c>rollout_backend</c>).</summary>
public enum RolloutBackendKind
{
    /// <summary>"local": in process.</summary>
    Local,
    /// <summary>"http": on inference servers (vLLM, SGLang, <c>gspo serve</c>).</summary>
    Http,
}

/// <summary>Which protocol the servers are asked in (<c>rollout_api</c>).</summary>
public enum RolloutApi
{
    /// <summary>"vllm": <c>POST /v1/completions</c> with token-id prompts, <c>return_token_ids</c> and <c>logprobs: 0</c>.</summary>
    Vllm,
    /// <summary>"sglang": <c>POST /generate</c> with <c>input_ids</c> and <c>return_logprob</c>.</summary>
    Sglang,
}

/// <summary>How the servers get the updated weights after every RL step (<c>weight_sync</c>).</summary>
public enum WeightSyncMode
{
    /// <summary>"disk": a safetensors checkpoint in weight_sync_dir, loaded with SGLang's <c>POST /update_weights_from_disk</c>.</summary>
    Disk,
    /// <summary>"lora": the PEFT adapter in weight_sync_dir, loaded with vLLM's <c>POST /v1/load_lora_adapter</c> (load_inplace).</summary>
    Lora,
    /// <summary>"none": the servers keep their weights (evaluation, or servers synced by other means).</summary>
    None,
}

/// <summary>The HTTP backend's settings (the rollout_* and weight_sync* keys).</summary>
/// <param name="Servers">Base URLs, e.g. http://127.0.0.1:8000.</param>
/// <param name="Api">The sampling protocol.</param>
/// <param name="WeightSync">How weights reach the servers.</param>
/// <param name="TimeoutSeconds">Per HTTP request; a request that takes longer counts as the server's failure.</param>
/// <param name="Retries">How many other servers a failed group is tried on before the step gives up.</param>
public sealed record HttpRolloutSettings(IReadOnlyList<Uri> Servers, RolloutApi Api, WeightSyncMode WeightSync, double TimeoutSeconds, int Retries)
{
    /// <summary>The name the policy's adapter is loaded under with <see cref="WeightSyncMode.Lora"/>, and sampled with.</summary>
    public const string AdapterName = "gspo-policy";
}

/// <summary>No rollout server could serve a group (or take the weights): the step cannot be completed.</summary>
public sealed class RolloutUnavailableException(string message) : Exception(message);

/// <summary>A server refused a request as malformed (HTTP 4xx other than 408/429): retrying elsewhere
/// would not help; the message carries the server's answer.</summary>
public sealed class RolloutRequestException(string message) : Exception(message);
