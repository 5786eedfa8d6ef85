using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>Which side of a row its padding goes on.</summary>
public enum PaddingSide
{
    /// <summary>Padding first, the row ends at the last column: prompts, so generation continues every row at the same column.</summary>
    Left,
    /// <summary>The row first, padding after it: completions and scored sequences, so token j of every row is in column j.</summary>
    Right,
}

/// <summary>
/// Token rows of different lengths laid out as one [N, width] batch: ids (0 at padding) and a mask
/// (true at real tokens). The one place the batch layouts of the rollout engine, the scorer and the
/// training batches are written.
/// </summary>
public static class PaddedRows
{
    /// <summary>Lays <paramref name="rows"/> out in <paramref name="width"/> columns padded on <paramref name="side"/>;
    /// the tensors belong to the current dispose scope.</summary>
    /// <exception cref="ArgumentException">A row is longer than <paramref name="width"/>.</exception>
    public static (Tensor Ids, Tensor Mask) Build(IReadOnlyList<long[]> rows, int width, PaddingSide side, Device? device = null)
    {
        var ids = new long[rows.Count * width];
        var mask = new bool[rows.Count * width];
        for (int i = 0; i < rows.Count; i++)
        {
            if (rows[i].Length > width) throw new ArgumentException($"row {i} has {rows[i].Length} tokens, more than the {width} columns.");
            int offset = i * width + (side == PaddingSide.Left ? width - rows[i].Length : 0);
            Array.Copy(rows[i], 0, ids, offset, rows[i].Length);
            Array.Fill(mask, true, offset, rows[i].Length);
        }
        long[] shape = { rows.Count, width };
        return (tensor(ids, shape, device: device), tensor(mask, shape, device: device));
    }
}
