namespace GspoSharp.Rollout;

/// <summary>
/// How the rollout engine samples. Names follow TRL / Hugging Face generation where they exist
/// (<c>temperature</c>, <c>top_k</c>, <c>top_p</c>, <c>max_new_tokens</c>, <c>stop_strings</c>).
/// </summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature; 0 means greedy (argmax). Default 1.0 (TRL's GRPO default).</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep only the k most likely tokens; null or 0 keeps all.</summary>
    public int? TopK { get; init; }

    /// <summary>Keep the smallest set of most likely tokens whose probability reaches p; null or 1 keeps all.</summary>
    public double? TopP { get; init; }

    /// <summary>Most tokens generated per sample (TRL: max_completion_length).</summary>
    public int MaxNewTokens { get; init; } = 256;

    /// <summary>Samples per prompt, n (TRL: num_generations, G).</summary>
    public int SamplesPerPrompt { get; init; } = 1;

    /// <summary>Token ids that end a sample (included in the completion, as the policy must learn to emit them).</summary>
    public IReadOnlyList<long> EosTokenIds { get; init; } = Array.Empty<long>();

    /// <summary>Strings that end a sample once its decoded text contains one (needs a decoder).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = Array.Empty<string>();

    /// <summary>Seed of every random draw; see docs/rollout.md for what is reproducible.</summary>
    public long Seed { get; init; }

    /// <summary>Index of the call's first prompt in a larger batch that is generated in several calls:
    /// prompt i of the call draws from the random stream of prompt FirstPromptIndex + i, so that
    /// splitting a batch into calls changes no sample.</summary>
    public int FirstPromptIndex { get; init; }

    /// <summary>Record the experts every MoE layer chose for every position (MoE models only).</summary>
    public bool RecordRouting { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
            throw new ArgumentException($"temperature must be ≥ 0 (0 = greedy); got {Temperature}.");
        if (TopK is < 0) throw new ArgumentException($"top_k must be ≥ 0; got {TopK}.");
        if (TopP is { } p && !(p > 0 && p <= 1)) throw new ArgumentException($"top_p must be in (0, 1]; got {p}.");
        if (MaxNewTokens <= 0) throw new ArgumentException($"max_new_tokens must be ≥ 1; got {MaxNewTokens}.");
        if (SamplesPerPrompt <= 0) throw new ArgumentException($"the number of samples per prompt must be ≥ 1; got {SamplesPerPrompt}.");
        if (StopStrings.Any(string.IsNullOrEmpty)) throw new ArgumentException("stop strings must not be empty.");
    }
}
