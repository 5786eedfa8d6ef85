using GspoSharp.Models.Architecture;

namespace GspoSharp.Rollout;

/// <summary>
/// The in-process backend: the <see cref="RolloutEngine"/> on the policy's own model. It runs
/// synchronously on the caller's thread (the thread that owns the model: TorchSharp's dispose
/// scopes and grad mode are thread-local), so the returned task is already complete.
/// </summary>
public sealed class LocalRolloutBackend(CausalLm model, Func<IReadOnlyList<long>, string>? decode = null) : IRolloutBackend
{
    /// <summary>Prompts per engine call (its KV cache holds this many × n sequences); null: all at once.
    /// Every prompt keeps its random stream, so the split changes no sample.</summary>
    public int? BatchPrompts { get; init; }

    /// <summary>Called with (prompt index, sample index, token) as each token is sampled (for streaming).</summary>
    public Action<int, int, long>? OnToken { get; init; }

    /// <inheritdoc />
    public string Description => $"in process ({model.DType.ToString().ToLowerInvariant()})";

    /// <inheritdoc />
    public Task<RolloutResult> GenerateAsync(IReadOnlyList<long[]> prompts, SamplingOptions options, CancellationToken cancellation = default)
    {
        // Observed before each engine call (one batch of BatchPrompts prompts): an engine call runs to its end.
        cancellation.ThrowIfCancellationRequested();
        var engine = new RolloutEngine(model, decode) { OnToken = OnToken };
        int chunk = BatchPrompts ?? prompts.Count;
        if (chunk >= prompts.Count) return Task.FromResult(engine.Generate(prompts, options));
        var parts = new List<RolloutResult>();
        try
        {
            for (int start = 0; start < prompts.Count; start += chunk, cancellation.ThrowIfCancellationRequested())
                parts.Add(engine.Generate(prompts.Skip(start).Take(chunk).ToList(), options with { FirstPromptIndex = options.FirstPromptIndex + start }));
        }
        catch
        {
            foreach (var part in parts) part.Dispose();
            throw;
        }
        return Task.FromResult(new RolloutResult(
            parts.SelectMany((p, i) => p.Completions.Select(c => c with { PromptIndex = c.PromptIndex + i * chunk })).ToList(),
            parts.Sum(p => p.PrefillSeconds), parts.Sum(p => p.DecodeSeconds)));
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, double>> WeightsChangedAsync(int version, CancellationToken cancellation = default) =>
        Task.FromResult<IReadOnlyDictionary<string, double>>(new Dictionary<string, double>());

    /// <inheritdoc />
    public void Dispose() { }
}
