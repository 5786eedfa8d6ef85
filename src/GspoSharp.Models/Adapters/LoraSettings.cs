namespace GspoSharp.Models.Adapters;

/// <summary>
/// The hyper-parameters of a LoRA adapter, named as PEFT's <c>LoraConfig</c> (and TRL's
/// <c>lora_*</c> options): rank r, α, dropout, the target projections and rank-stabilised scaling.
/// </summary>
/// <param name="Rank">r, the inner width of B A.</param>
/// <param name="Alpha">α; the update is scaled by α / r (α / √r with <paramref name="UseRslora"/>).</param>
/// <param name="Dropout">Dropout probability on the adapter's input, in training mode only.</param>
/// <param name="TargetModules">Projection names (<c>q_proj</c>, …, <c>down_proj</c>), or <c>all-linear</c>.</param>
/// <param name="UseRslora">Rank-stabilised LoRA (Kalajdzievski 2023): s = α / √r.</param>
public sealed record LoraSettings(int Rank, double Alpha, double Dropout, IReadOnlyList<string> TargetModules, bool UseRslora)
{
    /// <summary>PEFT's shorthand for every linear layer except the output head.</summary>
    public const string AllLinear = "all-linear";

    /// <summary>The projection names a decoder layer has (attention and dense MLP).</summary>
    public static readonly IReadOnlyList<string> ProjectionNames =
        new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" };

    /// <summary>s = α / r, or α / √r with rsLoRA (PEFT's <c>scaling</c>).</summary>
    public double Scaling => UseRslora ? Alpha / Math.Sqrt(Rank) : Alpha / Rank;

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the key (<paramref name="prefix"/> +
    /// PEFT name, e.g. <c>lora_r</c> or <c>r</c>).</summary>
    public void Validate(string prefix = "lora_")
    {
        if (Rank < 1) throw new ArgumentException($"{prefix}r: is {Rank}; the rank must be ≥ 1.");
        if (!(Alpha > 0) || !double.IsFinite(Alpha)) throw new ArgumentException($"{prefix}alpha: is {Alpha}; must be > 0.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"{prefix}dropout: is {Dropout}; must lie in [0, 1).");
        string key = prefix == "lora_" ? "lora_target_modules" : "target_modules";
        if (TargetModules.Count == 0) throw new ArgumentException($"{key}: is empty; name at least one of {string.Join(", ", ProjectionNames)}, or {AllLinear}.");
        if (TargetModules.Contains(AllLinear) && TargetModules.Count > 1)
            throw new ArgumentException($"{key}: {AllLinear} already covers every projection; give it alone.");
        foreach (var name in TargetModules)
            if (name != AllLinear && !ProjectionNames.Contains(name) && name != "gate")
                throw new ArgumentException($"{key}: unknown module '{name}'; use {string.Join(", ", ProjectionNames)}, or {AllLinear}.");
        if (TargetModules.Distinct().Count() != TargetModules.Count) throw new ArgumentException($"{key}: names a module twice.");
    }
}
