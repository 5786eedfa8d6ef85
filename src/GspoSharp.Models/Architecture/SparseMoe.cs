using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Qwen3-MoE sparse block: router <c>gate</c> → softmax in (at least) float32 → top-k experts → optional
/// renormalisation (<c>norm_topk_prob</c>) → weighted sum of the chosen experts' SwiGLU outputs.
/// Each expert runs only on the tokens routed to it (grouped execution), not on every token.
/// </summary>
public sealed class SparseMoe : nn.Module
{
#pragma warning disable IDE1006 // field names are the Hugging Face state-dict names
    readonly ProjectionLinear gate;
    readonly ModuleList<SwiGlu> experts;
#pragma warning restore IDE1006
    readonly int topK;
    readonly bool normalize;

    /// <summary>A block with <see cref="ModelConfig.NumExperts"/> experts of width <see cref="ModelConfig.MoeIntermediateSize"/>.</summary>
    public SparseMoe(ModelConfig config, ScalarType dtype) : base(nameof(SparseMoe))
    {
        gate = new ProjectionLinear(config.HiddenSize, config.NumExperts, hasBias: false, dtype);
        experts = new ModuleList<SwiGlu>(Enumerable.Range(0, config.NumExperts)
            .Select(_ => new SwiGlu(config.HiddenSize, config.MoeIntermediateSize, bias: false, dtype)).ToArray());
        topK = config.NumExpertsPerTok;
        normalize = config.NormTopkProb;
        RegisterComponents();
    }

    /// <summary>x [B, T, d] → [B, T, d]; records or replays the routing of layer <paramref name="layer"/>.</summary>
    public Tensor Forward(Tensor x, int layer, RoutingContext? routing, bool groupedExperts = true)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        var tokens = x.reshape(-1, d);
        var probabilities = gate.forward(tokens).to_type(Precision.Accumulate(x.dtype)).softmax(-1);   // [N, E]

        Tensor ids, weights;
        if (routing?.Mode == RoutingMode.Replay)
        {
            ids = routing.Record!.ExpertIds[layer]?.reshape(-1, topK)
                  ?? throw new ArgumentException($"the routing record has no entry for MoE layer {layer}.");
            if (ids.shape[0] != tokens.shape[0])
                throw new ArgumentException($"MoE layer {layer}: the record routes {ids.shape[0]} tokens but the input has {tokens.shape[0]}.");
            weights = probabilities.gather(1, ids);
        }
        else
            (weights, ids) = probabilities.topk(topK, dim: 1);
        if (normalize) weights = weights / weights.sum(-1, keepdim: true);
        weights = weights.to_type(x.dtype);
        if ((routing?.Mode == RoutingMode.Record ? routing.Record : routing?.Applied) is { } record)
            record.Set(layer, ids.reshape(b, t, topK), weights.reshape(b, t, topK));

        var output = groupedExperts ? Grouped(tokens, ids, weights) : EveryExpert(tokens, ids, weights);
        return output.reshape(b, t, d).MoveToOuterDisposeScope();
    }

    /// <summary>Sort the (token, slot) assignments by expert and run each expert once on its tokens.</summary>
    Tensor Grouped(Tensor tokens, Tensor ids, Tensor weights)
    {
        var flatIds = ids.reshape(-1);
        var order = flatIds.sort(stable: true).Indices;   // stable: each expert sees its tokens in input order, run after run
        var counts = flatIds.bincount(null, experts.Count).cpu().data<long>().ToArray();   // one host read
        using var k = ((long)topK).ToScalar();
        var tokenOf = order.div(k, rounding_mode: RoundingMode.floor);
        var weightOf = weights.reshape(-1).index_select(0, order).unsqueeze(1);
        var output = zeros_like(tokens);
        long start = 0;
        for (int e = 0; e < counts.Length; e++)
        {
            if (counts[e] == 0) continue;
            var rows = tokenOf.narrow(0, start, counts[e]);
            var y = experts[e].forward(tokens.index_select(0, rows)) * weightOf.narrow(0, start, counts[e]);
            output = output.index_add(0, rows, y, Scalars.OneInt);
            start += counts[e];
        }
        return output;
    }

    /// <summary>The naive reference: every expert on every token, weighted by a dense [N, E] gate
    /// matrix that is zero outside the chosen experts. Same result, E/k times the compute; kept for
    /// the grouped-versus-naive benchmark and as the parity check of <see cref="Grouped"/>.</summary>
    Tensor EveryExpert(Tensor tokens, Tensor ids, Tensor weights)
    {
        var dense = zeros(new[] { tokens.shape[0], (long)experts.Count }, weights.dtype, tokens.device).scatter_add(1, ids, weights);
        var output = zeros_like(tokens);
        for (int e = 0; e < experts.Count; e++)
            output = output.add(experts[e].forward(tokens) * dense.narrow(1, e, 1), Scalars.One);
        return output;
    }
}
