using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Adapters;

/// <summary>
/// Puts LoRA adapters on a <see cref="CausalLm"/>, as PEFT's <c>get_peft_model</c> does: every
/// projection whose last name matches a target gets A (Kaiming-uniform) and B (zeros), and the base
/// weights are frozen (no gradients, no optimizer state).
/// </summary>
public static class Lora
{
    /// <summary>The projections <paramref name="settings"/> targets on <paramref name="model"/>, with their module
    /// names. <c>all-linear</c> means every projection (the MoE router included, as PEFT does; the output head never).</summary>
    /// <exception cref="ArgumentException">A named target matches no projection of the model.</exception>
    public static IReadOnlyList<(string Name, ProjectionLinear Layer)> Targets(CausalLm model, LoraSettings settings, string key = "lora_target_modules")
    {
        var projections = model.Projections();
        if (settings.TargetModules.Contains(LoraSettings.AllLinear)) return projections;
        foreach (var target in settings.TargetModules)
            if (!projections.Any(p => LastName(p.Name) == target))
                throw new ArgumentException($"{key}: the {ModelConfig.Name(model.Config.ModelType)} model has no module '{target}'.");
        return projections.Where(p => settings.TargetModules.Contains(LastName(p.Name))).ToList();
    }

    /// <summary>The distinct last names of the targeted projections, in module order (PEFT writes these as target_modules).</summary>
    public static IReadOnlyList<string> TargetNames(CausalLm model, LoraSettings settings) =>
        Targets(model, settings).Select(p => LastName(p.Name)).Distinct().ToList();

    /// <summary>
    /// Attaches fresh adapters of <paramref name="settings"/> to <paramref name="model"/> and freezes
    /// its base; A is drawn from a generator seeded with <paramref name="seed"/>, projection after
    /// projection in module order, so the adapter depends only on the seed. Returns the adapted count.
    /// </summary>
    public static int Attach(CausalLm model, LoraSettings settings, long seed)
    {
        settings.Validate();
        var targets = Targets(model, settings);
        var generator = new Generator((ulong)seed, model.Device);
        foreach (var (_, layer) in targets)
            layer.Attach(LoraAdapter.Initialize(layer.InFeatures, layer.OutFeatures, settings.Rank, settings.Scaling, settings.Dropout,
                layer.ComputeDtype, model.Device, generator));
        Freeze(model);
        model.eval();   // dropout only where the trainer switches to training mode
        return targets.Count;
    }

    /// <summary>
    /// Stores the weight of every projection of <paramref name="model"/> (attention, MLP, MoE router and experts) in
    /// <paramref name="dtype"/>, rounded to nearest even, and freezes them: the frozen base of a LoRA run in half precision
    /// (<c>base_dtype</c>). The layers still compute in the model's dtype. Embeddings, norms and the output head keep theirs.
    /// </summary>
    public static void StoreBase(CausalLm model, ScalarType dtype)
    {
        foreach (var (_, layer) in model.Projections()) layer.StoreWeightAs(dtype);
    }

    /// <summary>Stops gradients to every base parameter (the adapters alone train).</summary>
    public static void Freeze(CausalLm model)
    {
        foreach (var p in model.parameters()) p.requires_grad_(false);
    }

    /// <summary>Folds every adapter into its base weight (W ← W + s·B·A, computed in float64, stored in W's dtype)
    /// and removes the adapters: the result is a plain model that computes what the adapted one did.</summary>
    public static void Merge(CausalLm model)
    {
        using var noGrad = no_grad();
        foreach (var (_, layer) in model.Projections())
        {
            if (layer.Detach() is not { } adapter) continue;
            using var scope = NewDisposeScope();
            using (adapter)
            {
                var merged = layer.Weight.detach().to_type(ScalarType.Float64).add(adapter.DeltaWeight().to(layer.Weight.device), Scalars.One);
                layer.Weight.copy_(merged.to_type(layer.Weight.dtype));
            }
        }
    }

    /// <summary>The last dotted segment of a module name (<c>q_proj</c> of <c>model.layers.0.self_attn.q_proj</c>).</summary>
    public static string LastName(string moduleName) => moduleName[(moduleName.LastIndexOf('.') + 1)..];
}
