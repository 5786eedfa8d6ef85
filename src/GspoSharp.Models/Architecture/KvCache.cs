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

    /// <summary>Makes the live rows the current rows <paramref name="index"/> [n] (e.g. the unfinished
    /// samples, or each prompt repeated n times to share one prefill), in place.</summary>
    public void SelectRows(Tensor index)
    {
        long rows = index.shape[0];
        if (rows < 1 || rows > MaxRows)
            throw new ArgumentException($"cannot select {rows} rows in a KV cache of at most {MaxRows}.");
        using var scope = NewDisposeScope();
        foreach (var buffer in keys.Concat(values).Append(keyMask).Append(nextPosition))
        {
            var gathered = buffer.narrow(0, 0, Batch).index_select(0, index);   // a copy: safe to write back
            buffer.narrow(0, 0, rows).copy_(gathered);
        }
        Batch = rows;
    }

    /// <summary>
    /// Appends the live rows of <paramref name="incoming"/> after this cache's live rows, both aligned
    /// on their last column (left padding, as a prefill leaves them): if the incoming rows are longer,
    /// the existing rows move right. For a server whose requests join a running batch at any step
    /// (continuous batching). Needs room for the rows and for the longer of the two lengths.
    /// </summary>
    public void Join(KvCache incoming)
    {
        long rows = Batch + incoming.Batch, length = Math.Max(Length, incoming.Length);
        if (rows > MaxRows || length > Capacity || incoming.keys.Length != keys.Length)
            throw new ArgumentException($"cannot join {incoming.Batch} rows of {incoming.Length} positions to a KV cache of {Batch}/{MaxRows} rows and {Length}/{Capacity} positions.");
        using var scope = NewDisposeScope();
        ShiftRight(length - Length);
        long offset = length - incoming.Length;
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i].narrow(0, Batch, incoming.Batch).narrow(2, offset, incoming.Length).copy_(incoming.keys[i].narrow(0, 0, incoming.Batch).narrow(2, 0, incoming.Length));
            values[i].narrow(0, Batch, incoming.Batch).narrow(2, offset, incoming.Length).copy_(incoming.values[i].narrow(0, 0, incoming.Batch).narrow(2, 0, incoming.Length));
        }
        var newMask = keyMask.narrow(0, Batch, incoming.Batch);
        newMask.narrow(1, 0, offset).fill_(Scalars.Zero);
        newMask.narrow(1, offset, incoming.Length).copy_(incoming.keyMask.narrow(0, 0, incoming.Batch).narrow(1, 0, incoming.Length));
        nextPosition.narrow(0, Batch, incoming.Batch).copy_(incoming.nextPosition.narrow(0, 0, incoming.Batch));
        Batch = rows;
        Length = length;
    }

    /// <summary>Drops the leading columns that no live row uses (padding only) and returns how many:
    /// keeps a long-running batch, whose oldest rows leave, within its capacity.</summary>
    public long TrimLeft()
    {
        if (Length == 0) return 0;
        using var scope = NewDisposeScope();
        var used = KeyMask.any(0);                                   // [Length]
        long first = used.any().item<bool>() ? used.to_type(ScalarType.Int64).argmax().item<long>() : Length;
        if (first == 0) return 0;
        long kept = Length - first;
        foreach (var buffer in keys.Concat(values))
        {
            var live = buffer.narrow(0, 0, Batch);
            var moved = live.narrow(2, first, kept).clone();
            live.narrow(2, 0, kept).copy_(moved);
        }
        var mask = keyMask.narrow(0, 0, Batch);
        var movedMask = mask.narrow(1, first, kept).clone();
        mask.narrow(1, 0, kept).copy_(movedMask);
        Length = kept;
        return first;
    }

    /// <summary>A cache with the same live rows and positions and room for <paramref name="maxRows"/> rows and
    /// <paramref name="capacity"/> positions (this one is left unchanged; dispose it).</summary>
    public KvCache Resized(long maxRows, long capacity)
    {
        if (maxRows < Batch || capacity < Length)
            throw new ArgumentException($"a KV cache of {Batch} rows and {Length} positions does not fit {maxRows} rows and {capacity} positions.");
        var resized = new KvCache(keys.Length, keys[0].shape[1], keys[0].shape[3], keys[0].dtype, keys[0].device, Batch, capacity, maxRows);
        using var scope = NewDisposeScope();
        for (int i = 0; i < keys.Length; i++)
        {
            resized.keys[i].narrow(0, 0, Batch).narrow(2, 0, Length).copy_(keys[i].narrow(0, 0, Batch).narrow(2, 0, Length));
            resized.values[i].narrow(0, 0, Batch).narrow(2, 0, Length).copy_(values[i].narrow(0, 0, Batch).narrow(2, 0, Length));
        }
        resized.keyMask.narrow(0, 0, Batch).narrow(1, 0, Length).copy_(KeyMask);
        resized.nextPosition.narrow(0, 0, Batch).copy_(NextPosition);
        resized.Length = Length;
        return resized;
    }

    KvCache(int layers, long kvHeads, long headDim, ScalarType dtype, Device device, long rows, long capacity, long maxRows)
    {
        MaxRows = maxRows;
        Capacity = capacity;
        Batch = rows;
        keys = new Tensor[layers];
        values = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            keys[i] = zeros(new[] { maxRows, kvHeads, capacity, headDim }, dtype, device).DetachFromDisposeScope();
            values[i] = zeros(new[] { maxRows, kvHeads, capacity, headDim }, dtype, device).DetachFromDisposeScope();
        }
        keyMask = zeros(new[] { maxRows, capacity }, ScalarType.Bool, device).DetachFromDisposeScope();
        nextPosition = zeros(new[] { maxRows }, ScalarType.Int64, device).DetachFromDisposeScope();
    }

    /// <summary>Moves the live rows' positions <paramref name="by"/> columns right, padding on the left.</summary>
    void ShiftRight(long by)
    {
        if (by == 0 || Batch == 0) return;
        foreach (var buffer in keys.Concat(values))
        {
            var live = buffer.narrow(0, 0, Batch);
            var moved = live.narrow(2, 0, Length).clone();
            live.narrow(2, by, Length).copy_(moved);
        }
        var mask = keyMask.narrow(0, 0, Batch);
        var movedMask = mask.narrow(1, 0, Length).clone();
        mask.narrow(1, by, Length).copy_(movedMask);
        mask.narrow(1, 0, by).fill_(Scalars.Zero);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var t in keys.Concat(values)) t.Dispose();
        keyMask.Dispose();
        nextPosition.Dispose();
    }
}
