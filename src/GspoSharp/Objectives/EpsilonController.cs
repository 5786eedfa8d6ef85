namespace GspoSharp.Objectives;

/// <summary>
/// A controller that adapts the clip range every RL step to hold the fraction of clipped responses
/// near a target (config <c>epsilon_target_clip_fraction</c>). The paper's GSPO range (3e-4 / 4e-4)
/// is tight enough that its clipped fraction drifts with model size, learning rate and response
/// length; instead of tuning ε per setting, ε follows the measured fraction:
/// <code>
///   f_k        = fraction of responses with a clipped position in RL step k (clip_fraction/sequences/region)
///   c_{k+1}    = clamp( c_k · exp( η · (f_k − f*) ), 10⁻², 10² ),   c_1 = 1
///   ε_low,k    = min( c_k · ε_low , 0.99 )        ε_high,k = c_k · ε_high
/// </code>
/// More clipping than the target widens the band, less narrows it; the multiplicative step keeps
/// ε positive and its asymmetry (ε_high/ε_low) fixed, and log c moves by at most η per step. f* and η
/// are the options; the bounds keep a run whose fraction cannot reach the target (e.g. every response
/// clipped by a broken update) from moving ε without limit. No published controller of this form is
/// known to us; it is a proportional controller on log ε.
/// </summary>
public static class EpsilonController
{
    /// <summary>Smallest factor on the configured ε.</summary>
    public const double MinScale = 1e-2;

    /// <summary>Largest factor on the configured ε.</summary>
    public const double MaxScale = 1e2;

    /// <summary>Largest ε_low: the lower edge 1 − ε_low of the band must stay above 0.</summary>
    public const double MaxEpsilonLow = 0.99;

    /// <summary>Default rate η: log ε moves by η × (f − f*) per step.</summary>
    public const double DefaultRate = 1.0;

    /// <summary>The factor c_{k+1} after a step with clipped fraction <paramref name="clippedFraction"/>.</summary>
    public static double Next(double scale, double clippedFraction, double target, double rate)
    {
        if (!double.IsFinite(clippedFraction)) return scale;   // a step without an update leaves ε as it was
        return Math.Clamp(scale * Math.Exp(rate * (clippedFraction - target)), MinScale, MaxScale);
    }

    /// <summary>The options with the clip range scaled by <paramref name="scale"/> (ε_low capped at <see cref="MaxEpsilonLow"/>).</summary>
    public static PolicyObjectiveOptions Apply(PolicyObjectiveOptions options, double scale) => options with
    {
        Epsilon = Math.Min(options.ClipLow * scale, MaxEpsilonLow),
        EpsilonHigh = options.ClipHigh * scale,
    };
}
