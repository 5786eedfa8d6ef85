using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>The decoder stack: token embedding, layers, final norm (HF "model.*").</summary>
public sealed class DecoderStack : nn.Module
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    internal readonly Embedding embed_tokens;
    internal readonly ModuleList<DecoderLayer> layers;
    internal readonly RmsNorm norm;
#pragma warning restore IDE1006

    internal DecoderStack(ModelConfig config, ScalarType dtype) : base(nameof(DecoderStack))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize, dtype: dtype);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers)
            .Select(i => new DecoderLayer(config, i, dtype)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps, dtype);
        RegisterComponents();
    }
}

/// <summary>
/// A causal language model — Qwen3, Qwen3-MoE, Qwen2 or Llama, chosen by the config — with the
/// Hugging Face parameter names (<c>model.layers.0.self_attn.q_proj.weight</c>, …). Forward passes
/// return hidden states; <see cref="Logits"/> and <see cref="ScoreTokens"/> turn them into
/// next-token distributions. With <c>tie_word_embeddings</c> the output head is the embedding
/// parameter itself (one tensor, one optimizer entry).
/// </summary>
public sealed class CausalLm : nn.Module
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    readonly DecoderStack model;
    readonly Linear? lm_head;
#pragma warning restore IDE1006
    readonly RotaryEmbedding rotary;

    /// <summary>A model with uninitialised weights; load them or call <see cref="InitializeWeights"/>.</summary>
    public CausalLm(ModelConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(CausalLm))
    {
        Config = config;
        DType = dtype;
        model = new DecoderStack(config, dtype);
        if (!config.TieWordEmbeddings) lm_head = nn.Linear(config.HiddenSize, config.VocabSize, hasBias: false, dtype: dtype);
        rotary = new RotaryEmbedding(config);
        RegisterComponents();
    }

    /// <summary>The validated config.json.</summary>
    public ModelConfig Config { get; }

    /// <summary>Parameter and compute dtype (RMSNorm, softmax and log-probs are always float32).</summary>
    public ScalarType DType { get; }

    /// <summary>Recompute each decoder layer in the backward pass instead of keeping its activations
    /// (gradient checkpointing): less memory for about one more forward pass. Only affects passes
    /// that record gradients.</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>The device of the parameters.</summary>
    public Device Device
    {
        get
        {
            // TorchSharp's Embedding.weight wraps the native parameter in a new Parameter on every read:
            // release that wrapper at once rather than leave it to a dispose scope or the finalizer.
            using var weight = model.embed_tokens.weight!;
            return weight.device;
        }
    }

    /// <summary>[V, d] output projection: lm_head, or the embedding when tied.</summary>
    public Tensor OutputWeight => (lm_head?.weight ?? model.embed_tokens.weight)!;

    /// <summary>Initialises like Hugging Face (normal(0, <paramref name="std"/>) weights, zero biases,
    /// unit norms) from its own generator, so the result depends only on <paramref name="seed"/>.</summary>
    public void InitializeWeights(long seed, double std = 0.02)
    {
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed, Device);
        using var stdScalar = std.ToScalar();
        foreach (var (name, p) in named_parameters())
        {
            using var scope = NewDisposeScope();
            if (name.EndsWith("norm.weight", StringComparison.Ordinal)) p.fill_(Scalars.One);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            // randn·std + 0, the operations torch.normal(0, std, …) runs, with both operands held: TorchSharp's
            // normal(double, double, …) converts them to temporary Scalars (docs/decisions/0005).
            else p.copy_(randn(p.shape, p.dtype, p.device, generator: generator).mul_(stdScalar).add_(Scalars.Zero, Scalars.One));
        }
    }

    /// <summary>Every linear projection of the decoder (attention, MLP, MoE router) with its Hugging Face
    /// module name, e.g. <c>model.layers.0.self_attn.q_proj</c>, in module order.</summary>
    public IReadOnlyList<(string Name, ProjectionLinear Layer)> Projections() =>
        named_modules().Where(m => m.module is ProjectionLinear).Select(m => (m.name, (ProjectionLinear)m.module)).ToList();

    /// <summary>Whether any projection carries an adapter.</summary>
    public bool HasAdapters => Projections().Any(p => p.Layer.Adapter is not null);

    /// <summary>
    /// The parameters training updates, named: with adapters, only their factors
    /// (<c>{module}.lora_A.weight</c>, <c>{module}.lora_B.weight</c>, module order) and the base is frozen;
    /// without, every parameter of the model. The optimizer takes exactly this list.
    /// </summary>
    public IReadOnlyList<(string Name, Parameter Parameter)> TrainableParameters()
    {
        var adapted = Projections().Where(p => p.Layer.Adapter is not null).ToList();
        if (adapted.Count == 0) return named_parameters().Select(p => (p.name, p.parameter)).ToList();
        return adapted.SelectMany(p => new[] { ($"{p.Name}.lora_A.weight", p.Layer.Adapter!.A), ($"{p.Name}.lora_B.weight", p.Layer.Adapter!.B) }).ToList();
    }

    /// <summary>Switches every adapter on or off; off, the model computes exactly its base (the KL reference).</summary>
    public void SetAdaptersEnabled(bool enabled)
    {
        foreach (var (_, layer) in Projections()) layer.AdapterEnabled = enabled;
    }

    /// <summary>
    /// Until the returned handle is disposed, passes that record no gradient compute q, k and v with
    /// one GEMM on a concatenated copy of the three weights, and normalise and rotate q and k in one
    /// call, and the dense MLPs' gate and up with one GEMM on their stacked weights (the rollout
    /// engine does this for each generation; the copies take as much memory as those weights). The copies are taken now:
    /// weights must not change while the handle lives. Projections with an enabled adapter, and passes
    /// that record gradients, use the separate weights as always. Parameters, their names and
    /// checkpoints are unaffected. Nested calls share the first call's copies.
    /// </summary>
    public IDisposable FuseProjections()
    {
        lock (fusionLock)   // two halves of a split pass (RowSplit) each take the fusion its caller already holds
            if (fusionDepth++ == 0)
                foreach (var layer in model.layers)
                {
                    layer.SelfAttention.Fuse(DType);
                    layer.DenseMlp?.Fuse(DType);
                }
        return new Unfusion(this);
    }

    readonly object fusionLock = new();
    int fusionDepth;

    sealed class Unfusion(CausalLm owner) : IDisposable
    {
        bool done;

        public void Dispose()
        {
            if (done) return;
            done = true;
            lock (owner.fusionLock)
                if (--owner.fusionDepth == 0)
                    foreach (var layer in owner.model.layers)
                    {
                        layer.SelfAttention.Unfuse();
                        layer.DenseMlp?.Unfuse();
                    }
        }
    }

    /// <summary>A KV cache with <paramref name="rows"/> live rows (room for <paramref name="maxRows"/>) and
    /// <paramref name="capacity"/> positions.</summary>
    public KvCache NewCache(long rows, long capacity, long? maxRows = null) => new(Config, rows, capacity, DType, Device, maxRows);

    /// <summary>
    /// Hidden states after the final norm, [B, t, d], for <paramref name="inputIds"/> [B, t].
    /// <paramref name="attentionMask"/> [B, t] marks real tokens (padding may be on either side;
    /// positions count real tokens only). With a <paramref name="cache"/>, the tokens continue the
    /// cached ones and are appended to it.
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? attentionMask = null, KvCache? cache = null,
        RoutingContext? routing = null, bool groupedExperts = true)
    {
        if (inputIds.dim() != 2 || inputIds.dtype != ScalarType.Int64)
            throw new ArgumentException($"inputIds must be an int64 [B, T] tensor; got {inputIds.dtype} [{string.Join(", ", inputIds.shape)}].");
        if (attentionMask is not null && !attentionMask.shape.SequenceEqual(inputIds.shape))
            throw new ArgumentException($"attentionMask [{string.Join(", ", attentionMask.shape)}] must match inputIds [{string.Join(", ", inputIds.shape)}].");
        if (cache is not null && cache.Batch != inputIds.shape[0])
            throw new ArgumentException($"the KV cache holds {cache.Batch} rows but inputIds has {inputIds.shape[0]}.");

        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1], past = cache?.Length ?? 0;
        // Out-of-range ids: on the CPU the embedding's own bounds check refuses them (caught below), so
        // the common case costs no host synchronisation; other devices would fail asynchronously or
        // not at all, so they are checked up front.
        if (inputIds.device_type != DeviceType.CPU) CheckVocabulary(inputIds);
        Tensor cos, sin, allowed;
        Tensor? mask = null;
        if (cache is not null && attentionMask is null && t == 1)
        {
            // A decoding step: one real token per row, at the row's next position, attending every real
            // cached token and itself — the general case below reduces to this, in 4 operations instead of ~20.
            (cos, sin) = rotary.Angles(cache.NextPosition.unsqueeze(1), DType, past + 1);
            allowed = cache.DecodeMask();
        }
        else
        {
            mask = attentionMask?.to_type(ScalarType.Bool) ?? ones(new[] { b, t }, ScalarType.Bool, inputIds.device);

            // RoPE positions count real tokens only, so left padding does not shift them.
            var positions = mask.to_type(ScalarType.Int64).cumsum(1).sub(Scalars.OneInt).clamp_min(Scalars.ZeroInt);
            if (cache is not null) positions = positions.add(cache.NextPosition.unsqueeze(1), Scalars.OneInt);
            (cos, sin) = rotary.Angles(positions, DType, past + t);

            // A query attends earlier real keys, and always itself so that padded rows stay finite.
            var keyValid = cache is null ? mask : cat(new[] { cache.KeyMask, mask }, 1);
            var queryIndex = Scalars.Arange(past, past + t, inputIds.device).unsqueeze(1);
            var keyIndex = Scalars.Arange(past + t, inputIds.device).unsqueeze(0);
            allowed = (keyIndex <= queryIndex).unsqueeze(0).logical_and(keyValid.unsqueeze(1))
                .logical_or((keyIndex == queryIndex).unsqueeze(0)).unsqueeze(1);     // [B, 1, t, past + t]
        }

        Tensor h;
        try
        {
            h = model.embed_tokens.forward(inputIds);
        }
        catch (Exception e) when (e is not ArgumentException && inputIds.device_type == DeviceType.CPU)
        {
            CheckVocabulary(inputIds);
            throw;
        }
        bool recompute = GradientCheckpointing && cache is null && is_grad_enabled();
        foreach (var layer in model.layers)
            h = recompute
                ? LayerRecompute.Run((x, c, s, m) => layer.Forward(x, c, s, m, null, routing, groupedExperts), h, cos, sin, allowed)
                : layer.Forward(h, cos, sin, allowed, cache, routing, groupedExperts);
        if (cache is not null)
        {
            if (mask is null) cache.AdvanceOne();
            else cache.Advance(mask);
        }
        return model.norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) rotary.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Refuses token ids outside [0, V) with the range found (two host reads: only where needed).</summary>
    void CheckVocabulary(Tensor inputIds)
    {
        if (inputIds.numel() == 0) return;
        using var scope = NewDisposeScope();
        long min = inputIds.min().item<long>(), max = inputIds.max().item<long>();
        if (min < 0 || max >= Config.VocabSize)
            throw new ArgumentException($"token ids must lie in [0, {Config.VocabSize}); got values from {min} to {max}.");
    }

    /// <summary>Logits [.., V] (float32, or float64 for a float64 model) for hidden states [.., d]. For a few positions (sampling, tests);
    /// use <see cref="ScoreTokens"/> for log-probs of whole sequences.</summary>
    public Tensor Logits(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var logits = FewRowsLinear.Apply(hidden, OutputWeight);   // a decoding step of a few rows: see FewRowsLinear
        var accumulate = Precision.Accumulate(hidden.dtype);
        return (logits.dtype == accumulate ? logits : logits.to_type(accumulate)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// log p(ids[t] | ids[&lt;t]) at temperature τ for the next-token predictions selected by
    /// <paramref name="targetMask"/> [B, T−1] (true where ids[:, t+1] is scored), as [B, T−1] float32
    /// (float64 for a float64 model) with zeros elsewhere, and the entropies of those distributions. Differentiable w.r.t. the
    /// parameters; never materialises more than a chunk of float32 logits.
    /// </summary>
    public TokenScores ScoreTokens(Tensor inputIds, Tensor attentionMask, Tensor targetMask, double temperature = 1.0,
        RoutingContext? routing = null)
    {
        long b = inputIds.shape[0], t = inputIds.shape[1];
        if (t < 2) throw new ArgumentException("scoring needs sequences of at least 2 positions.");
        if (!targetMask.shape.SequenceEqual(new[] { b, t - 1 }))
            throw new ArgumentException($"targetMask must be [{b}, {t - 1}]; got [{string.Join(", ", targetMask.shape)}].");
        if (!(temperature > 0)) throw new ArgumentException($"temperature must be > 0; got {temperature}.");

        using var scope = NewDisposeScope();
        var selected = targetMask.to_type(ScalarType.Bool);
        var hidden = Forward(inputIds, attentionMask, routing: routing).narrow(1, 0, t - 1);
        var rows = hidden[selected];                                      // [N, d]
        var targets = inputIds.narrow(1, 1, t - 1)[selected];             // [N]
        var (logProbs, entropy) = SelectedLogProbs.Compute(rows, OutputWeight, targets, temperature);
        var zeros = torch.zeros(new[] { b, t - 1 }, logProbs.dtype, inputIds.device);
        return new TokenScores(zeros.masked_scatter(selected, logProbs).MoveToOuterDisposeScope(),
            zeros.masked_scatter(selected, entropy).MoveToOuterDisposeScope());
    }
}

/// <summary>Per-position log-probs and entropies, [B, T−1] each, zero where not scored.</summary>
public sealed record TokenScores(Tensor LogProbs, Tensor Entropy) : IDisposable
{
    /// <inheritdoc />
    public void Dispose() { LogProbs.Dispose(); Entropy.Dispose(); }
}
