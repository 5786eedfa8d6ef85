namespace GspoSharp.Serving.Engine;

/// <summary>How every sequence of one request is sampled and when it ends, whatever API it came through.</summary>
public sealed record SequenceParams
{
    /// <summary>Softmax temperature; 0 = greedy.</summary>
    public double Temperature { get; init; } = 1.0;

    /// <summary>Keep the k most likely tokens; null keeps all.</summary>
    public int? TopK { get; init; }

    /// <summary>Nucleus mass; null keeps all.</summary>
    public double? TopP { get; init; }

    /// <summary>Most tokens per sequence (already limited to the context).</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>Seed of the request's random streams; each sequence draws from (seed, prompt index, sample index).</summary>
    public long Seed { get; init; }

    /// <summary>Strings that end a sequence (cut from its text).</summary>
    public IReadOnlyList<string> Stop { get; init; } = Array.Empty<string>();

    /// <summary>Token ids that end a sequence besides the model's end-of-sequence ids.</summary>
    public IReadOnlyList<long> StopTokenIds { get; init; } = Array.Empty<long>();

    /// <summary>Keep generating after an end-of-sequence id.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Log-probs to report per token: null none, 0 the sampled token's, k also the k most likely.</summary>
    public int? Logprobs { get; init; }

    /// <summary>Leave special tokens out of the text.</summary>
    public bool SkipSpecialTokens { get; init; } = true;

    /// <summary>The key of the rows that one call of the sampler can draw together.</summary>
    internal (double, int?, double?) SamplerKey => (Temperature, TopK, TopP);
}
