using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Keys and values of every layer for incremental decoding: allocated once for a batch and a
/// capacity (prompt + new tokens), filled by a prefill, then one position per decoding step.
/// All rows share the same column layout (prompts are left-padded), so a step appends one
/// column for the whole batch; <see cref="KeyMask"/> marks which columns hold real tokens.
/// The cache owns its tensors (they belong to no dispose scope); dispose it when done.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys;
    readonly Tensor[] values;
    Tensor keyMask;
    Tensor nextPosition;

    /// <summary>An empty cache for <paramref name="batch"/> rows and <paramref name="capacity"/> positions.</summary>
    public KvCache(ModelConfig config, long batch, long capacity, ScalarType dtype, Device device)
    {
        if (batch < 1 || capacity < 1) throw new ArgumentException($"a KV cache needs batch ≥ 1 and capacity ≥ 1; got {batch} and {capacity}.");
        Capacity = capacity;
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros(new[] { batch, config.NumKeyValueHeads, capacity, config.HeadDim }, dtype, device).DetachFromDisposeScope();
            values[i] = zeros(new[] { batch, config.NumKeyValueHeads, capacity, config.HeadDim }, dtype, device).DetachFromDisposeScope();
        }
        keyMask = zeros(new[] { batch, capacity }, ScalarType.Bool, device).DetachFromDisposeScope();
        nextPosition = zeros(new[] { batch }, ScalarType.Int64, device).DetachFromDisposeScope();
    }

    /// <summary>Positions the cache can hold.</summary>
    public long Capacity { get; }

    /// <summary>Positions filled so far.</summary>
    public long Length { get; private set; }

    /// <summary>Rows in the cache.</summary>
    public long Batch => keyMask.shape[0];

    /// <summary>[B, Length] true where a cached position holds a real (not padding) token.</summary>
    public Tensor KeyMask => keyMask.narrow(1, 0, Length);

    /// <summary>[B] the RoPE position the next real token of each row will take.</summary>
    public Tensor NextPosition => nextPosition;

    /// <summary>Writes a layer's new keys/values [B, Hkv, t, D] after the filled part and returns the
    /// keys and values of all positions so far, [B, Hkv, Length + t, D] views.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {t} positions exceed its capacity {Capacity}.");
        keys[layer].narrow(2, Length, t).copy_(k);
        values[layer].narrow(2, Length, t).copy_(v);
        return (keys[layer].narrow(2, 0, Length + t), values[layer].narrow(2, 0, Length + t));
    }

    /// <summary>Records that <paramref name="mask"/> [B, t] positions were appended to every layer.</summary>
    internal void Advance(Tensor mask)
    {
        long t = mask.shape[1];
        keyMask.narrow(1, Length, t).copy_(mask);
        nextPosition.add_(mask.to_type(ScalarType.Int64).sum(1));
        Length += t;
    }

    /// <summary>Keeps only the rows <paramref name="index"/> (e.g. unfinished samples, or each prompt
    /// repeated n times to share one prefill among n samples).</summary>
    public void SelectRows(Tensor index)
    {
        using var scope = NewDisposeScope();
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = Replace(keys[i], keys[i].index_select(0, index));
            values[i] = Replace(values[i], values[i].index_select(0, index));
        }
        keyMask = Replace(keyMask, keyMask.index_select(0, index));
        nextPosition = Replace(nextPosition, nextPosition.index_select(0, index));
    }

    static Tensor Replace(Tensor old, Tensor replacement)
    {
        old.Dispose();
        return replacement.DetachFromDisposeScope();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
        keyMask.Dispose();
        nextPosition.Dispose();
    }
}
