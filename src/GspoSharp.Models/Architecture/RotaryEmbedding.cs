using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// Rotary position embedding (Su et al. 2021) in the rotate-half convention of the Hugging Face
/// Llama/Qwen code: dimension i pairs with i + d/2, frequencies θ^(−2i/d), optionally rescaled by
/// <c>rope_scaling</c> ("linear" or "llama3").
/// </summary>
public sealed class RotaryEmbedding
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

    /// <summary>cos and sin for <paramref name="positions"/> [B, T], each [B, 1, T, head_dim], in
    /// float32 (float64 for a float64 model).</summary>
    public (Tensor Cos, Tensor Sin) Angles(Tensor positions, ScalarType modelDtype)
    {
        using var scope = NewDisposeScope();
        var dtype = Precision.Accumulate(modelDtype);
        var inv = tensor(inverseFrequencies, dtype, positions.device);
        var freqs = positions.to_type(dtype).unsqueeze(-1) * inv;                     // [B, T, d/2]
        var emb = cat(new[] { freqs, freqs }, -1).unsqueeze(1);                       // [B, 1, T, d]
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin for x [B, H, T, head_dim]; angles cast to x's dtype.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var rotated = cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
        return (x * cos.to_type(x.dtype)).add(rotated * sin.to_type(x.dtype), Scalars.One).MoveToOuterDisposeScope();
    }
}
