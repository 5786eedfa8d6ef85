using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// y = x Wᵀ + b for gradient-free passes over a few rows (decoding steps of a small batch). LibTorch's
/// CPU GEMM multiplies 2–32 rows by a large transposed weight at a fraction of the memory bandwidth it
/// reaches on one row; computing (W xᵀ)ᵀ instead reads the same weight once, streaming its rows.
/// Measured on the Qwen3-0.6B shape at 8 rows: the 151,936-row output head 1.5–1.8× faster, a
/// [3072, 1024] projection 1.1–2× (docs/performance.md). The sums run in another order, so the
/// result differs from <c>linear</c> in the last bits (float32: ~1e-6 relative). Under a
/// <see cref="ProductSplit"/> every large product of a gradient-free pass, of any row count, is split.
/// </summary>
internal static class FewRowsLinear
{
    /// <summary>Row counts from 2 up to this use the transposed product.</summary>
    public const long MaxRows = 32;

    /// <summary>Weights smaller than this (elements) stay with <c>linear</c>: for them the extra
    /// calls cost more than the product saves.</summary>
    public const long MinWeightElements = 1 << 20;

    /// <summary>x [.., in] → [.., out].</summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor? bias = null)
    {
        long inFeatures = x.shape[^1];
        long rows = inFeatures == 0 ? 0 : x.numel() / inFeatures;
        bool gradientFree = !is_grad_enabled() && x.device_type == DeviceType.CPU;
        if (rows < 2 || rows > MaxRows || weight.numel() < MinWeightElements || !gradientFree)
            return (gradientFree ? ProductSplit.Linear(x, weight, bias) : null) ?? nn.functional.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        var columns = x.reshape(rows, inFeatures).t();
        var product = (ProductSplit.Matmul(weight, columns) ?? weight.matmul(columns)).t();   // [rows, out], a transposed view
        var y = bias is null ? product.contiguous() : product.contiguous().add_(bias, Scalars.One);
        var shape = x.shape.ToArray();
        shape[^1] = weight.shape[0];
        return y.view(shape).MoveToOuterDisposeScope();
    }
}
