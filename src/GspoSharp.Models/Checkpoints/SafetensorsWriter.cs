using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// Writes named tensors to one .safetensors file in the layout of the reference implementation:
/// tensors ordered by alignment then name, header padded with spaces to a multiple of 8 bytes.
/// The file is written under a temporary name in the same directory and renamed into place, so
/// the path holds either the previous file or the complete new one, never a partial file.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>
    /// Writes <paramref name="tensors"/> to <paramref name="path"/>. Floating-point tensors are
    /// stored as <paramref name="storageDtype"/> (Float32, Float16 or BFloat16, rounded to nearest
    /// even by LibTorch); integer and bool tensors keep their own element type. Tensors may live
    /// on any device; each is copied to the CPU one at a time.
    /// </summary>
    /// <param name="path">The destination file; its directory must exist.</param>
    /// <param name="tensors">Name → tensor. Names must be non-empty and not <c>__metadata__</c>.</param>
    /// <param name="storageDtype">The element type floating-point tensors are stored in.</param>
    /// <param name="metadata">Optional strings written as the header's <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">A name, tensor or the storage dtype is invalid; nothing is written.</exception>
    public static void Write(
        string path,
        IReadOnlyDictionary<string, Tensor> tensors,
        ScalarType storageDtype = ScalarType.Float32,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var layout = SafetensorsLayout.Plan(tensors, storageDtype, metadata);
        using var staged = new StagedFiles();
        staged.Stage(path, layout.WriteTo);
        staged.Publish(path);
    }
}
