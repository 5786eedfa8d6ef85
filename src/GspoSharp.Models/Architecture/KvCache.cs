using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Keys and values of every layer for incremental decoding, allocated once for at most
/// <see cref="MaxRows"/> rows and <see cref="Capacity"/> positions (prompt + new tokens): filled
/// by a prefill, then one position per decoding step. All rows share the same column layout
/// (prompts are left-padded), so a step appends one column for the whole batch;
/// <see cref="KeyMask"/> marks which columns hold real tokens. The live rows are the first
/// <see cref="Batch"/> of the buffers: <see cref="SelectRows"/> rearranges them in place (to share
/// one prefill among n samples, or to drop finished samples) without reallocating. The cache
/// owns its tensors (they belong to no dispose scope); dispose it when done.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys;
    readonly Tensor[] values;
    readonly Tensor keyMask;
    readonly Tensor nextPosition;

    /// <summary>An empty cache with <paramref name="rows"/> live rows, room for <paramref name="maxRows"/>
    /// (default: the same) and <paramref name="capacity"/> positions.</summary>
    public KvCache(ModelConfig config, long rows, long capacity, ScalarType dtype, Device device, long? maxRows = null)
    {
        MaxRows = maxRows ?? rows;
        if (rows < 1 || capacity < 1 || MaxRows < rows)
            throw new ArgumentException($"a KV cache needs 1 ≤ rows ≤ maxRows and capacity ≥ 1; got {rows}, {MaxRows} and {capacity}.");
        Capacity = capacity;
        Batch = rows;
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros(new[] { MaxRows, config.NumKeyValueHeads, capacity, config.HeadDim }, dtype, device).DetachFromDisposeScope();
            values[i] = zeros(new[] { MaxRows, config.NumKeyValueHeads, capacity, config.HeadDim }, dtype, device).DetachFromDisposeScope();
        }
        keyMask = zeros(new[] { MaxRows, capacity }, ScalarType.Bool, device).DetachFromDisposeScope();
        nextPosition = zeros(new[] { MaxRows }, ScalarType.Int64, device).DetachFromDisposeScope();
    }

    /// <summary>Rows the buffers can hold.</summary>
    public long MaxRows { get; }

    /// <summary>Positions the cache can hold.</summary>
    public long Capacity { get; }

    /// <summary>Positions filled so far.</summary>
    public long Length { get; private set; }

    /// <summary>Live rows.</summary>
    public long Batch { get; private set; }

    /// <summary>[B, Length] true where a cached position holds a real (not padding) token.</summary>
    public Tensor KeyMask => keyMask.narrow(0, 0, Batch).narrow(1, 0, Length);

    /// <summary>[B] the RoPE position the next real token of each row will take.</summary>
    public Tensor NextPosition => nextPosition.narrow(0, 0, Batch);

    /// <summary>Writes a layer's new keys/values [B, Hkv, t, D] after the filled part and returns the
    /// keys and values of all positions so far, [B, Hkv, Length + t, D] views.</summary>
    internal (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        long t = k.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {t} positions exceed its capacity {Capacity}.");
        var layerKeys = keys[layer].narrow(0, 0, Batch);
        var layerValues = values[layer].narrow(0, 0, Batch);
        layerKeys.narrow(2, Length, t).copy_(k);
        layerValues.narrow(2, Length, t).copy_(v);
        return (layerKeys.narrow(2, 0, Length + t), layerValues.narrow(2, 0, Length + t));
    }

    /// <summary>Records that <paramref name="mask"/> [B, t] positions were appended to every layer.</summary>
    internal void Advance(Tensor mask)
    {
        long t = mask.shape[1];
        keyMask.narrow(0, 0, Batch).narrow(1, Length, t).copy_(mask);
        NextPosition.add_(mask.to_type(ScalarType.Int64).sum(1), Scalars.OneInt);
        Length += t;
    }

    /// <summary>For a decoding step (one real token per row, no padding): marks the next position as real
    /// and returns which keys each query may attend, [B, 1, 1, Length + 1], a view of the cache's own
    /// mask: every real cached token and the new one. Follow the step with <see cref="AdvanceOne"/>.</summary>
    internal Tensor DecodeMask()
    {
        if (Length + 1 > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + 1 positions exceed its capacity {Capacity}.");
        var mask = keyMask.narrow(0, 0, Batch).narrow(1, 0, Length + 1);
        mask.narrow(1, Length, 1).fill_(Scalars.One);
        return mask.unsqueeze(1).unsqueeze(1);
    }

    /// <summary>Records a decoding step: one real token appended to every row of every layer.</summary>
    internal void AdvanceOne()
    {
        using var next = nextPosition.narrow(0, 0, Batch);
        next.add_(Scalars.OneInt, Scalars.OneInt);
        Length += 1;
    }

    /// <summary>Makes the live rows the current rows <paramref name="index"/> [n] (e.g. the unfinished
    /// samples, or each prompt repeated n times to share one prefill), in place.</summary>
    public void SelectRows(Tensor index)
    {
        long rows = index.shape[0];
        if (rows < 1 || rows > MaxRows)
            throw new ArgumentException($"cannot select {rows} rows in a KV cache of at most {MaxRows}.");
        using var scope = NewDisposeScope();
        // Only the filled positions move: the rest of the capacity holds nothing yet.
        foreach (var buffer in keys.Concat(values))
        {
            var gathered = buffer.narrow(0, 0, Batch).narrow(2, 0, Length).index_select(0, index);   // a copy: safe to write back
            buffer.narrow(0, 0, rows).narrow(2, 0, Length).copy_(gathered);
        }
        keyMask.narrow(0, 0, rows).narrow(1, 0, Length).copy_(keyMask.narrow(0, 0, Batch).narrow(1, 0, Length).index_select(0, index));
        nextPosition.narrow(0, 0, rows).copy_(nextPosition.narrow(0, 0, Batch).index_select(0, index));
        Batch = rows;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
        keyMask.Dispose();
        nextPosition.Dispose();
    }
}
