using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Rotary position embedding (Su et al. 2021) in the rotate-half convention of the Hugging Face
/// Llama/Qwen code: dimension i pairs with i + d/2, frequencies θ^(−2i/d), optionally rescaled by
/// <c>rope_scaling</c> ("linear" or "llama3").
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly double[] inverseFrequencies;

    /// <summary>Frequencies for heads of <see cref="ModelConfig.HeadDim"/> dimensions.</summary>
    public RotaryEmbedding(ModelConfig config)
    {
        int half = config.HeadDim / 2;
        var inv = new double[half];
        for (int i = 0; i < half; i++) inv[i] = 1.0 / Math.Pow(config.RopeTheta, 2.0 * i / config.HeadDim);
        if (config.RopeScaling is { } s) Rescale(inv, s);
        inverseFrequencies = inv;
    }

    static void Rescale(double[] inv, RopeScaling s)
    {
        if (s.Type == "linear")
        {
            for (int i = 0; i < inv.Length; i++) inv[i] /= s.Factor;
            return;
        }
        // llama3: long wavelengths are slowed down by the factor, short ones kept, the band between
        // interpolated smoothly (Llama 3.1 report; HF _compute_llama3_parameters).
        double lowWavelength = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highWavelength = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        for (int i = 0; i < inv.Length; i++)
        {
            double wavelength = 2 * Math.PI / inv[i];
            if (wavelength > lowWavelength) inv[i] /= s.Factor;
            else if (wavelength >= highWavelength)
            {
                double smooth = (s.OriginalMaxPositionEmbeddings / wavelength - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                inv[i] = (1 - smooth) * inv[i] / s.Factor + smooth * inv[i];
            }
        }
    }

    /// <summary>
    /// cos and sin for <paramref name="positions"/> [B, T], each [B, 1, T, head_dim], in float32
    /// (float64 for a float64 model). The sin comes with the sign of rotate-half folded in (its first
    /// half negated), which is the form <see cref="Apply"/> takes. Both are rows of a table computed
    /// once (grown when a longer position is asked for), so a forward pass looks them up in two
    /// operations instead of computing them in six. <paramref name="positionBound"/>, if given, is a
    /// number no position reaches (it saves reading the largest position back from the device).
    /// </summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions, ScalarType modelDtype, long? positionBound = null)
    {
        var dtype = Precision.Accumulate(modelDtype);
        long bound = positionBound ?? (positions.numel() == 0 ? 1 : positions.max().item<long>() + 1);
        // Two threads may run passes of one model at once (RowSplit): the table is grown, and the old one
        // released, only while no lookup reads it.
        lock (tableLock)
        {
            var (cosTable, sinTable) = Table(dtype, positions.device, bound);
            long b = positions.shape[0], t = positions.shape[1], d = cosTable.shape[1];
            using var scope = NewDisposeScope();
            var flat = positions.reshape(-1);
            return (cosTable.index_select(0, flat).view(b, 1, t, d).MoveToOuterDisposeScope(),
                    sinTable.index_select(0, flat).view(b, 1, t, d).MoveToOuterDisposeScope());
        }
    }

    readonly object tableLock = new();
    Tensor? cosTable, sinTable;

    (Tensor Cos, Tensor Sin) Table(ScalarType dtype, Device device, long bound)
    {
        if (cosTable is not null && cosTable.dtype == dtype && cosTable.device_type == device.type && cosTable.device_index == device.index && cosTable.shape[0] >= bound)
            return (cosTable, sinTable!);
        long size = Math.Max(256, (long)BitOperations.RoundUpToPowerOf2((ulong)bound));
        using var scope = NewDisposeScope();
        var inv = tensor(inverseFrequencies, dtype, device);
        var freqs = Scalars.Arange(size, device).to_type(dtype).unsqueeze(-1) * inv;   // [P, d/2]
        var emb = cat(new[] { freqs, freqs }, -1);                                       // [P, d]
        var sin = emb.sin();
        long half = inverseFrequencies.Length;
        var signedSin = cat(new[] { -sin.narrow(1, 0, half), sin.narrow(1, half, half) }, -1);
        cosTable?.Dispose();
        sinTable?.Dispose();
        cosTable = emb.cos().DetachFromDisposeScope();
        sinTable = signedSin.DetachFromDisposeScope();
        return (cosTable, sinTable);
    }

    /// <summary>Releases the angle tables.</summary>
    public void Dispose()
    {
        cosTable?.Dispose();
        sinTable?.Dispose();
        cosTable = sinTable = null;
    }

    /// <summary>x·cos + rotate_half(x)·sin for x [B, H, T, head_dim], with the sign-folded sin of
    /// <see cref="Angles"/>: rotate_half(x)·sin = [x₂, x₁]·[−sin₁, sin₂]. Angles cast to x's dtype.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        if (cos.dtype != x.dtype) (cos, sin) = (cos.to_type(x.dtype), sin.to_type(x.dtype));
        var swapped = cat(new[] { x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
        return (x * cos).add_(swapped * sin, Scalars.One).MoveToOuterDisposeScope();
    }
}
