using System.Diagnostics;
using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Rollout;

/// <summary>
/// Batched sampling with a KV cache, in process: each prompt is prefilled once and its cache
/// shared by its n samples; then all samples advance one token per step; a finished sample
/// leaves the batch at once, so no compute is spent on it. The cache is allocated once per call
/// and released at its end. See docs/rollout.md.
/// </summary>
public sealed class RolloutEngine(CausalLm model, Func<IReadOnlyList<long>, string>? decode = null)
{
    /// <summary>Called with (prompt index, sample index, token) as each token is sampled (for streaming).</summary>
    public Action<int, int, long>? OnToken { get; init; }

    /// <summary>Samples <see cref="SamplingOptions.SamplesPerPrompt"/> completions for each prompt.</summary>
    /// <exception cref="ArgumentException">A prompt is empty, has ids outside the vocabulary or does not fit
    /// the model's context, or an option is out of range.</exception>
    public RolloutResult Generate(IReadOnlyList<long[]> prompts, SamplingOptions options)
    {
        options.Validate();
        Check(prompts, options);
        int n = options.SamplesPerPrompt, rows = prompts.Count * n;
        int width = prompts.Max(p => p.Length);
        int context = model.Config.MaxPositionEmbeddings;
        bool recordRouting = options.RecordRouting && model.Config.HasMoeLayers;

        var samples = Enumerable.Range(0, rows).Select(r => new SampleState(r / n, r % n, prompts[r / n],
            Math.Min(options.MaxNewTokens, context - prompts[r / n].Length), options.Seed, options.FirstPromptIndex)).ToArray();
        using var noGrad = no_grad();
        using var fusion = model.FuseProjections();   // weights do not change during a generation
        using var callScope = NewDisposeScope();
        using var cache = model.NewCache(prompts.Count, width + options.MaxNewTokens, maxRows: rows);
        using var routing = recordRouting ? new RoutingTrace(model.Config, prompts, n, options.MaxNewTokens) : null;

        var clock = Stopwatch.StartNew();
        var (ids, mask) = PaddedRows.Build(prompts, width, PaddingSide.Left, model.Device);
        var prefillRouting = routing is null ? null : RoutingContext.Recording(model.Config.NumHiddenLayers);
        var hidden = model.Forward(ids, mask, cache, prefillRouting);
        var logits = model.Logits(hidden.narrow(1, width - 1, 1).squeeze(1));
        var shared = Scalars.Arange(prompts.Count, model.Device).repeat_interleave(n);
        cache.SelectRows(shared);                                  // n samples share each prompt's prefill
        logits = logits.index_select(0, shared).DetachFromDisposeScope();
        if (prefillRouting is not null) routing!.AddPrompts(prefillRouting.Record!);
        double prefill = clock.Elapsed.TotalSeconds;

        var active = Enumerable.Range(0, rows).ToList();          // sample indices, in cache row order
        for (int step = 0; active.Count > 0; step++)
        {
            using var stepScope = NewDisposeScope();
            var uniforms = active.Select(r => samples[r].Random.NextUniform()).ToArray();
            var (tokens, logProbs) = TokenSampler.Sample(logits, options, uniforms);
            var tokenValues = tokens.cpu().data<long>().ToArray();
            var logProbValues = logProbs.to_type(ScalarType.Float32).cpu().data<float>().ToArray();
            for (int i = 0; i < active.Count; i++)
            {
                var sample = samples[active[i]];
                sample.Append(tokenValues[i], logProbValues[i], options, decode);
                OnToken?.Invoke(sample.Prompt, sample.Index, tokenValues[i]);
            }
            var keep = Enumerable.Range(0, active.Count).Where(i => samples[active[i]].Finish is null).ToList();
            logits.Dispose();
            if (keep.Count == 0) break;
            var next = tokens;
            if (keep.Count < active.Count)
            {
                var index = tensor(keep.Select(i => (long)i).ToArray(), device: model.Device);
                cache.SelectRows(index);
                next = tokens.index_select(0, index);
                active = keep.Select(i => active[i]).ToList();
            }
            var stepRouting = routing is null ? null : RoutingContext.Recording(model.Config.NumHiddenLayers);
            hidden = model.Forward(next.unsqueeze(1), cache: cache, routing: stepRouting);
            if (stepRouting is not null) routing!.AddStep(stepRouting.Record!, active, step);
            logits = model.Logits(hidden.squeeze(1)).DetachFromDisposeScope();
        }
        double decodeSeconds = clock.Elapsed.TotalSeconds - prefill;

        var completions = samples.Select((s, r) => new Completion(s.Prompt, s.Index, s.PromptIds, s.Tokens.ToArray(),
            decode?.Invoke(s.Tokens) ?? "", s.Finish ?? FinishReason.Length, s.LogProbs.ToArray())
        {
            Routing = routing?.ForSample(r, s.PromptIds.Length, s.Tokens.Count),
        }).ToList();
        return new RolloutResult(completions, prefill, decodeSeconds);
    }

    void Check(IReadOnlyList<long[]> prompts, SamplingOptions options)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompts to generate for.");
        if (options.StopStrings.Count > 0 && decode is null)
            throw new ArgumentException("stop strings need a tokenizer to decode the completions.");
        int context = model.Config.MaxPositionEmbeddings;
        for (int i = 0; i < prompts.Count; i++)
        {
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty.");
            if (prompts[i].Length >= context)
                throw new ArgumentException($"prompt {i} has {prompts[i].Length} tokens; the model's context is {context}, leaving no room to generate.");
            foreach (var id in prompts[i])
                if (id < 0 || id >= model.Config.VocabSize)
                    throw new ArgumentException($"prompt {i} has token id {id}, outside the vocabulary [0, {model.Config.VocabSize}).");
        }
    }

    /// <summary>Everything one sample accumulates.</summary>
    sealed class SampleState(int prompt, int index, long[] promptIds, int maxNew, long seed, int firstPrompt)
    {
        public int Prompt { get; } = prompt;
        public int Index { get; } = index;
        public long[] PromptIds { get; } = promptIds;
        public SampleRandom Random { get; } = new(seed, firstPrompt + prompt, index);
        public List<long> Tokens { get; } = new();
        public List<float> LogProbs { get; } = new();
        public FinishReason? Finish { get; private set; }

        public void Append(long token, float logProb, SamplingOptions options, Func<IReadOnlyList<long>, string>? decode)
        {
            Tokens.Add(token);
            LogProbs.Add(logProb);
            if (options.EosTokenIds.Contains(token)) Finish = FinishReason.Stop;
            else if (options.StopStrings.Count > 0 && decode!(Tokens) is var text && options.StopStrings.Any(s => text.Contains(s, StringComparison.Ordinal)))
                Finish = FinishReason.Stop;
            else if (Tokens.Count >= maxNew) Finish = FinishReason.Length;
        }
    }
}
