using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>What a forward pass does with MoE routing.</summary>
public enum RoutingMode
{
    /// <summary>Route by the current router, record nothing.</summary>
    Free,
    /// <summary>Route by the current router and record the chosen experts.</summary>
    Record,
    /// <summary>Use the experts of a previous recording (Routing Replay). The gate weights are the
    /// current router's probabilities at those experts, so the router still gets gradient.</summary>
    Replay,
}

/// <summary>
/// The experts chosen for every token of every MoE layer in one forward pass: per layer,
/// ids [B, T, k] and gate weights [B, T, k], aligned with the pass's input ids (null for dense
/// layers). Owns its tensors.
/// </summary>
public sealed class RoutingRecord : IDisposable
{
    /// <summary>Per layer: expert ids [B, T, k] (int64), or null for a dense layer.</summary>
    public Tensor?[] ExpertIds { get; }

    /// <summary>Per layer: gate weights [B, T, k] as applied to the experts' outputs, or null.</summary>
    public Tensor?[] Weights { get; }

    /// <summary>An empty record for a model with <paramref name="layers"/> layers.</summary>
    public RoutingRecord(int layers)
    {
        ExpertIds = new Tensor?[layers];
        Weights = new Tensor?[layers];
    }

    internal void Set(int layer, Tensor ids, Tensor weights)
    {
        ExpertIds[layer]?.Dispose();
        Weights[layer]?.Dispose();
        ExpertIds[layer] = ids.detach().DetachFromDisposeScope();
        Weights[layer] = weights.detach().DetachFromDisposeScope();
    }

    /// <summary>Records joined along the token dimension, e.g. the steps of incremental decoding.</summary>
    public static RoutingRecord Concat(IReadOnlyList<RoutingRecord> parts)
    {
        var result = new RoutingRecord(parts[0].ExpertIds.Length);
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < result.ExpertIds.Length; layer++)
            if (parts[0].ExpertIds[layer] is not null)
                result.Set(layer, cat(parts.Select(p => p.ExpertIds[layer]!).ToArray(), 1),
                    cat(parts.Select(p => p.Weights[layer]!).ToArray(), 1));
        return result;
    }

    /// <summary>A new record holding rows <paramref name="index"/> of this one.</summary>
    public RoutingRecord SelectRows(Tensor index)
    {
        var result = new RoutingRecord(ExpertIds.Length);
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < ExpertIds.Length; layer++)
            if (ExpertIds[layer] is { } ids)
                result.Set(layer, ids.index_select(0, index), Weights[layer]!.index_select(0, index));
        return result;
    }

    /// <summary>
    /// Expert-activation volatility between two routings of the same tokens: the fraction of
    /// activated experts (over MoE layers, tokens where <paramref name="tokenMask"/> [B, T] is
    /// true, and the k slots) of <paramref name="before"/> that are not among the experts
    /// <paramref name="after"/> activates for the same token. The order of the k choices does not
    /// matter. The GSPO paper reports ≈ 10% per update on Qwen3-30B-A3B.
    /// </summary>
    public static double Volatility(RoutingRecord before, RoutingRecord after, Tensor tokenMask)
    {
        using var scope = NewDisposeScope();
        double changed = 0, total = 0;
        for (int layer = 0; layer < before.ExpertIds.Length; layer++)
        {
            if (before.ExpertIds[layer] is not { } a) continue;
            var b = after.ExpertIds[layer] ?? throw new ArgumentException($"layer {layer} is recorded in one routing only.");
            if (!a.shape.SequenceEqual(b.shape))
                throw new ArgumentException($"layer {layer}: routings of shapes [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}] differ.");
            var kept = (a.unsqueeze(-1) == b.unsqueeze(-2)).any(-1);        // [B, T, k]
            var valid = tokenMask.to_type(ScalarType.Bool).unsqueeze(-1).expand_as(kept);
            changed += (kept.logical_not() & valid).sum().item<long>();
            total += valid.sum().item<long>();
        }
        return total == 0 ? 0 : changed / total;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in ExpertIds.Concat(Weights)) t?.Dispose();
    }
}

/// <summary>Routing instructions for one forward pass.</summary>
public sealed class RoutingContext
{
    RoutingContext(RoutingMode mode, RoutingRecord? record, RoutingRecord? applied)
    {
        Mode = mode;
        Record = record;
        Applied = applied;
    }

    /// <summary>What the pass does.</summary>
    public RoutingMode Mode { get; }

    /// <summary>The record filled (Record) or followed (Replay).</summary>
    public RoutingRecord? Record { get; }

    /// <summary>When replaying with capture: the experts and gate weights the pass actually applied.</summary>
    public RoutingRecord? Applied { get; }

    /// <summary>Route freely and record into a new record for <paramref name="layers"/> layers.</summary>
    public static RoutingContext Recording(int layers) => new(RoutingMode.Record, new RoutingRecord(layers), null);

    /// <summary>Use the experts of <paramref name="record"/>; with <paramref name="capture"/>, also keep
    /// what was applied in <see cref="Applied"/>.</summary>
    public static RoutingContext Replaying(RoutingRecord record, bool capture = false) =>
        new(RoutingMode.Replay, record, capture ? new RoutingRecord(record.ExpertIds.Length) : null);
}
