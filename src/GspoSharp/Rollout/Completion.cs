using GspoSharp.Models.Architecture;

namespace GspoSharp.Rollout;

/// <summary>Why a sample ended.</summary>
public enum FinishReason
{
    /// <summary>It produced an end-of-sequence token or a stop string.</summary>
    Stop,
    /// <summary>It reached max_new_tokens (or the model's context).</summary>
    Length,
}

/// <summary>One sampled completion.</summary>
/// <param name="PromptIndex">Index of its prompt in the request.</param>
/// <param name="SampleIndex">Which of the prompt's n samples it is.</param>
/// <param name="PromptIds">The prompt's token ids.</param>
/// <param name="CompletionIds">Sampled token ids, including the end-of-sequence token when it stopped on one.</param>
/// <param name="Text">The decoded completion without special tokens ("" without a decoder).</param>
/// <param name="FinishReason">stop or length.</param>
/// <param name="LogProbs">log π(y_t | x, y_&lt;t) of each sampled token at the sampling temperature, before truncation.</param>
public sealed record Completion(int PromptIndex, int SampleIndex, long[] PromptIds, long[] CompletionIds, string Text,
    FinishReason FinishReason, float[] LogProbs)
{
    /// <summary>For MoE models with routing recorded: experts chosen at every input position of
    /// prompt + completion[..^1] (the positions whose outputs predict the completion), [1, L, k] per layer.</summary>
    public RoutingRecord? Routing { get; init; }
}

/// <summary>The completions of one call and where its time went.</summary>
/// <param name="Completions">Ordered by prompt, then sample.</param>
/// <param name="PrefillSeconds">Time spent processing the prompts.</param>
/// <param name="DecodeSeconds">Time spent generating tokens.</param>
public sealed record RolloutResult(IReadOnlyList<Completion> Completions, double PrefillSeconds, double DecodeSeconds) : IDisposable
{
    /// <summary>The backend's own metrics of the call (docs/metrics.md: <c>rollout/*</c>); empty in process.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>Tokens generated in all.</summary>
    public long GeneratedTokens => Completions.Sum(c => (long)c.CompletionIds.Length);

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var c in Completions) c.Routing?.Dispose();
    }
}
