using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Objectives;

/// <summary>
/// SAPO's soft gate (Gao et al. 2025, "Soft Adaptive Policy Optimization", arXiv 2511.20347; TRL
/// <c>loss_type="sapo"</c>), which replaces the hard clip of the surrogate with a smooth one:
/// <code>
///   g_τ(r) = (4/τ) · σ( τ (r − 1) )              τ = τ_pos when Â &gt; 0, τ_neg otherwise
///   ℓ      = −g_τ(r) · Â
///   ∂ℓ/∂r  = −4 σ(τ(r−1)) (1 − σ(τ(r−1))) · Â    = −Â at r = 1 (the unclipped gradient), → 0 as |r − 1| grows
/// </code>
/// The paper gates the token ratio (GRPO's w_{i,t}); here it gates whichever ratio the level uses:
/// w_{i,t} (token), GSPO's s_i (sequence) or s_{i,t} (sequence_token). The paper's τ_pos = 1, τ_neg = 1.05
/// attenuate a token ratio of 1.5 to a gradient weight of 0.94; GSPO's s_i moves ~10⁻³ per update, so
/// with those temperatures the gate is practically open — sequence ratios need τ of order 1/ε (10³).
/// </summary>
public static class SoftGate
{
    /// <summary>The paper's (and TRL's) temperature for positive advantages.</summary>
    public const double TemperaturePos = 1.0;

    /// <summary>The paper's (and TRL's) temperature for negative advantages (a faster decay: negative
    /// updates raise the logits of many unsampled tokens and are the less stable side).</summary>
    public const double TemperatureNeg = 1.05;

    /// <summary>g_τ(r)·Â per position, with τ chosen by the sign of Â (broadcast: ratio [B, 1] or [B, T], advantages likewise).</summary>
    public static Tensor Surrogate(Tensor ratio, Tensor advantages, double temperaturePos, double temperatureNeg)
    {
        using var tauPos = temperaturePos.ToScalar();
        using var tauNeg = temperatureNeg.ToScalar();
        using var fourOverPos = (4.0 / temperaturePos).ToScalar();
        using var fourOverNeg = (4.0 / temperatureNeg).ToScalar();
        var shifted = ratio.sub(Scalars.One);   // Scalars: held constants (docs/decisions/0005)
        var gatePos = shifted.mul(tauPos).sigmoid().mul(fourOverPos);
        var gateNeg = shifted.mul(tauNeg).sigmoid().mul(fourOverNeg);
        var positive = advantages.gt(Scalars.Zero);
        return where(positive, gatePos, gateNeg) * advantages;
    }
}
