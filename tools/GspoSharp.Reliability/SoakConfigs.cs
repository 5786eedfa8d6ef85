namespace GspoSharp.Reliability;

/// <summary>
/// The training configurations the soak runs: tiny models and small batches, so that 1,000 steps
/// take minutes, but every code path of a real run — rollout with KV cache, the chunked
/// log-prob function (the custom autograd function of docs/decisions/0003), mini-batch updates,
/// evaluations, checkpoints and their rotation, metrics, TensorBoard, the report.
/// </summary>
internal static class SoakConfigs
{
    const string Common = """
        task: arithmetic
        init_size: tiny
        sft_steps: 0
        prompts_per_step: 2
        num_generations: 4
        steps_per_generation: 2
        max_completion_length: 20
        learning_rate: 1.0e-4
        eval_prompts: 2
        eval_num_samples: 1
        eval_steps: 250
        save_total_limit: 2
        logging_steps: 1
        """;

    /// <summary>Name → config lines (max_steps and save_steps are added by the caller).</summary>
    public static readonly IReadOnlyDictionary<string, string> All = new Dictionary<string, string>
    {
        ["dense"] = Common + "\ninit_arch: qwen3\n",
        ["moe-replay"] = Common + "\ninit_arch: qwen3_moe\nrouting_replay: true\n",
        // Rollouts on two gspo serve children, themselves under the same GC stress, with a weight
        // sync from disk after every step: the server's batching, sampling and weight loading.
        ["serve"] = Common + "\ninit_arch: qwen3\nrollout_backend: http\nrollout_api: sglang\nweight_sync: disk\n",
        // LoRA: gspo train has no LoRA yet. When it has, add its configuration here (e.g. the
        // dense config with the adapter keys) and to the default --configs list; nothing else changes.
    };

    /// <summary>gspo serve processes a configuration samples on (0: in process).</summary>
    public static int Servers(string name) => All[name].Contains("rollout_backend: http", StringComparison.Ordinal) ? 2 : 0;

    /// <summary>The config file; <paramref name="extra"/> adds keys (a served configuration's model and server URLs).</summary>
    public static string Yaml(string name, int maxSteps, int saveSteps, string extra = "") =>
        All[name] + $"max_steps: {maxSteps}\nsave_steps: {saveSteps}\n" + extra;
}
