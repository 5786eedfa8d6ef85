namespace GspoSharp.Rollout;

/// <summary>
/// Where rollouts are sampled: in process (<see cref="LocalRolloutBackend"/>) or on inference
/// servers over HTTP. The trainer, evaluation and
/// <c>gspo generate</c> only see this seam: prompts go in as token ids with sampling options,
/// completions come out as token ids with the sampler's per-token log-probs and finish reasons
/// (and, from the local engine, MoE routing records). See docs/rollout-servers.md.
/// </summary>
public interface IRolloutBackend : IDisposable
{
    /// <summary>What it samples on, for messages ("in-process float32", "2 servers (vllm)").</summary>
    string Description { get; }

    /// <summary>Samples <see cref="SamplingOptions.SamplesPerPrompt"/> completions for each prompt.
    /// Prompt i draws from the random stream of prompt <see cref="SamplingOptions.FirstPromptIndex"/> + i
    /// and sample j of it from that of (seed, prompt, j), so results do not depend on how prompts are
    /// grouped into calls. Completions are ordered by prompt, then sample.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellation"/> was signalled.</exception>
    Task<RolloutResult> GenerateAsync(IReadOnlyList<long[]> prompts, SamplingOptions options, CancellationToken cancellation = default);

    /// <summary>The policy's weights changed (an RL step, or a resumed run's first step): make the
    /// next <see cref="GenerateAsync"/> sample from them. <paramref name="version"/> is the number of
    /// RL steps the weights have taken. Returns the sync's metrics (docs/metrics.md), empty when
    /// there was nothing to do.</summary>
    Task<IReadOnlyDictionary<string, double>> WeightsChangedAsync(int version, CancellationToken cancellation = default);
}
