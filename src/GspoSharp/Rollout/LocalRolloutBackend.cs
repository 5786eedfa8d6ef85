using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Rollout;

/// <summary>
/// The in-process backend: the <see cref="RolloutEngine"/> on the policy's own model, or — with a
/// sampling dtype other than the model's (<c>rollout_dtype: bfloat16</c>) — on a copy of it in that
/// dtype, refreshed from the policy on every <see cref="WeightsChangedAsync"/>: sampling in half
/// precision while training in float32, the precision mismatch real deployments have.
/// It runs synchronously on the caller's thread (the thread that owns the model: TorchSharp's
/// dispose scopes and grad mode are thread-local), so the returned tasks are already complete.
/// <para>Models below <see cref="IntraOpThreads.SingleThreadParameters"/> parameters sample on one LibTorch
/// thread unless <see cref="Threads"/> says otherwise (<see cref="IntraOpThreads.For"/>); larger dense ones
/// under 100 M parameters without adapters, when the process has two threads and no count is asked for, sample under a
/// <see cref="ProductSplit"/> (the large products split across the two, the rest on one). The process's count is restored when
/// the call returns.</para>
/// <para>Models that sample on one thread by that rule, dense and without adapters, sample their prompts in two halves
/// at once when the process has two threads or more (<see cref="RowSplit"/>): the first half on the calling thread, the
/// second on the process's second thread. Every prompt keeps its random stream, so the split changes no sample beyond
/// float rounding (the same as <see cref="BatchPrompts"/> of half the prompts).</para>
/// </summary>
public sealed class LocalRolloutBackend : IRolloutBackend
{
    readonly CausalLm model;
    readonly CausalLm? copy;   // the sampling copy, when its dtype differs from the model's
    readonly Func<IReadOnlyList<long>, string>? decode;

    /// <summary>Samples from <paramref name="model"/>, or from a copy of it in <paramref name="samplingDtype"/>
    /// (Float32, BFloat16 or Float16) when that differs from the model's dtype.</summary>
    public LocalRolloutBackend(CausalLm model, Func<IReadOnlyList<long>, string>? decode = null, ScalarType? samplingDtype = null)
    {
        this.model = model;
        this.decode = decode;
        var dtype = samplingDtype ?? model.DType;
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"the sampling dtype must be float32, bfloat16 or float16; got {dtype}.", nameof(samplingDtype));
        if (dtype == model.DType) return;
        copy = new CausalLm(model.Config, dtype);
        copy.to(model.Device);
        copy.eval();
        foreach (var p in copy.parameters()) p.requires_grad_(false);
        Refresh();
    }

    /// <summary>Prompts per engine call (its KV cache holds this many × n sequences); null: all at once.
    /// Every prompt keeps its random stream, so the split changes no sample.</summary>
    public int? BatchPrompts { get; init; }

    /// <summary>Called with (prompt index, sample index, token) as each token is sampled (for streaming).</summary>
    public Action<int, int, long>? OnToken { get; init; }

    /// <summary>LibTorch intra-op threads while sampling; null: one for models below
    /// <see cref="IntraOpThreads.SingleThreadParameters"/> parameters, else the process's count, with the products of
    /// dense models under 100 M parameters without adapters split across the two threads when it is 2 (<see cref="ProductSplit.ForSampling"/>;
    /// <c>rollout_threads</c>).</summary>
    public int? Threads { get; init; }

    /// <summary>The model that samples: the policy's, or its copy in the sampling dtype.</summary>
    public CausalLm SamplingModel => copy ?? model;

    /// <inheritdoc />
    public string Description => $"in process ({Name(SamplingModel.DType)})";

    /// <inheritdoc />
    public Task<RolloutResult> GenerateAsync(IReadOnlyList<long[]> prompts, SamplingOptions options, CancellationToken cancellation = default)
    {
        // Observed before each engine call (one batch of BatchPrompts prompts): an engine call runs to its end.
        cancellation.ThrowIfCancellationRequested();
        // A small model's prompts split in two halves sampled at once on two threads (RowSplit); not while streaming,
        // whose callback expects one thread.
        bool split = RowSplit.Applies(SamplingModel, Threads) && OnToken is null && prompts.Count >= 2;
        using var threads = ProductSplit.ForSampling(SamplingModel, Threads);
        if (!split) return Task.FromResult(Generate(prompts, 0, options, cancellation));
        using var noGrad = no_grad();
        using var fusion = SamplingModel.FuseProjections();   // built here once, for both halves
        var (firstPrompts, secondPrompts) = RowSplit.Halves(prompts);
        int half = firstPrompts.Count;
        var (first, second) = RowSplit.Run(
            () => Generate(firstPrompts, 0, options, cancellation),
            () => Generate(secondPrompts, half, options, cancellation));
        // The halves ran at once: each phase counts as long as the longer half's.
        return Task.FromResult(new RolloutResult(
            first.Completions.Concat(second.Completions.Select(c => c with { PromptIndex = c.PromptIndex + half })).ToList(),
            Math.Max(first.PrefillSeconds, second.PrefillSeconds), Math.Max(first.DecodeSeconds, second.DecodeSeconds)));
    }

    /// <summary>Samples <paramref name="prompts"/> (the batch's prompts from <paramref name="offset"/> on) in engine calls
    /// of <see cref="BatchPrompts"/> prompts; prompt indices in the result count from 0.</summary>
    RolloutResult Generate(IReadOnlyList<long[]> prompts, int offset, SamplingOptions options, CancellationToken cancellation)
    {
        var engine = new RolloutEngine(SamplingModel, decode) { OnToken = OnToken };
        options = options with { FirstPromptIndex = options.FirstPromptIndex + offset };
        int chunk = BatchPrompts ?? prompts.Count;
        if (chunk >= prompts.Count) return engine.Generate(prompts, options);
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
        return new RolloutResult(
            parts.SelectMany((p, i) => p.Completions.Select(c => c with { PromptIndex = c.PromptIndex + i * chunk })).ToList(),
            parts.Sum(p => p.PrefillSeconds), parts.Sum(p => p.DecodeSeconds));
    }

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, double>> WeightsChangedAsync(int version, CancellationToken cancellation = default)
    {
        var metrics = new Dictionary<string, double>();
        if (copy is not null)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Refresh();
            metrics["time/weight_sync"] = clock.Elapsed.TotalSeconds;
        }
        return Task.FromResult<IReadOnlyDictionary<string, double>>(metrics);
    }

    /// <summary>Copies the policy's weights into the sampling copy, rounded to nearest even; a projection
    /// carrying an enabled LoRA adapter gets its merged weight W + s·B·A (computed in float64).</summary>
    void Refresh()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, target) in copy!.named_parameters()) target.copy_(source[name].detach());
        var adapted = model.Projections().Where(p => p.Layer.Adapter is not null && p.Layer.AdapterEnabled).ToDictionary(p => p.Name, p => p.Layer);
        foreach (var (name, target) in copy.Projections())
            if (adapted.TryGetValue(name, out var layer))
                target.Weight.copy_(layer.Weight.detach().to_type(ScalarType.Float64).add(layer.Adapter!.DeltaWeight().to(layer.Weight.device), Scalars.One));
    }

    static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => "float32",
    };

    /// <inheritdoc />
    public void Dispose() => copy?.Dispose();
}
