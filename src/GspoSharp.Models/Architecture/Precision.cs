using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>Where a reduction must not run in half precision (norms, softmaxes, log-probs).</summary>
internal static class Precision
{
    /// <summary>float32 for float16/bfloat16 inputs, the input dtype otherwise (float32 or float64).</summary>
    public static ScalarType Accumulate(ScalarType dtype) =>
        dtype is ScalarType.Float16 or ScalarType.BFloat16 ? ScalarType.Float32 : dtype;
}
