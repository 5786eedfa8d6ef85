using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// One tensor as a safetensors header describes it, already validated: its element type is
/// supported, its byte range lies inside the file's data section and holds exactly
/// <see cref="ElementCount"/> elements.
/// </summary>
/// <param name="Name">The tensor's name, e.g. <c>model.layers.0.mlp.up_proj.weight</c>.</param>
/// <param name="Dtype">The element type the file stores it in (F32 → Float32, BF16 → BFloat16, …).</param>
/// <param name="Shape">The shape; empty for a scalar.</param>
/// <param name="File">The path of the .safetensors file that holds it.</param>
/// <param name="DataBegin">Start of its bytes, relative to the first byte after the header (the file's <c>data_offsets[0]</c>).</param>
/// <param name="DataEnd">End (exclusive) of its bytes, relative to the first byte after the header.</param>
public sealed record SafetensorsEntry(
    string Name, ScalarType Dtype, IReadOnlyList<long> Shape, string File, long DataBegin, long DataEnd)
{
    /// <summary>The number of elements: the product of <see cref="Shape"/> (1 for a scalar).</summary>
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);

    /// <summary>The number of bytes the tensor occupies in the file.</summary>
    public long ByteCount => DataEnd - DataBegin;

    /// <summary>The safetensors dtype name, e.g. <c>BF16</c>.</summary>
    public string DtypeName => SafetensorsDtypes.Name(Dtype);

    /// <summary>For messages: <c>name (BF16 [2, 3])</c>.</summary>
    public override string ToString() => $"{Name} ({DtypeName} [{string.Join(", ", Shape)}])";
}
