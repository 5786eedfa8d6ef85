using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;

namespace GspoSharp.Serving.Engine;

/// <summary>
/// The LoRA adapters a server holds, by name, and which one is on the model. A model carries one
/// adapter per projection, so the batch samples with one adapter at a time: the worker switches
/// between batches (see <see cref="BatchWorker"/>). Worker thread only.
/// </summary>
internal sealed class AdapterRegistry : IDisposable
{
    readonly Dictionary<string, (string Path, Dictionary<string, LoraAdapter> Layers)> adapters = new(StringComparer.Ordinal);

    /// <summary>The adapter on the model (null: the base).</summary>
    public string? Active { get; private set; }

    /// <summary>Names and directories, for /v1/models.</summary>
    public IReadOnlyList<(string Name, string Path)> List() => adapters.Select(a => (a.Key, a.Value.Path)).ToList();

    public bool Contains(string name) => adapters.ContainsKey(name);

    /// <summary>Reads a PEFT adapter directory (errors name the file) and keeps it under <paramref name="name"/>,
    /// replacing one of that name.</summary>
    public void Load(CausalLm model, string name, string directory)
    {
        Activate(model, null);
        try
        {
            PeftAdapter.Load(model, directory);
        }
        catch
        {
            foreach (var (_, layer) in model.Projections()) layer.Detach()?.Dispose();
            throw;
        }
        var layers = new Dictionary<string, LoraAdapter>(StringComparer.Ordinal);
        foreach (var (projection, layer) in model.Projections())
            if (layer.Detach() is { } adapter) layers[projection] = adapter;
        Remove(name);
        adapters[name] = (directory, layers);
    }

    /// <summary>Forgets an adapter; false when there is none of that name.</summary>
    public bool Remove(string name)
    {
        if (!adapters.Remove(name, out var entry)) return false;
        if (Active == name) Active = null;
        foreach (var adapter in entry.Layers.Values) adapter.Dispose();
        return true;
    }

    /// <summary>Puts adapter <paramref name="name"/> (null: none) on the model.</summary>
    public void Activate(CausalLm model, string? name)
    {
        if (Active == name) return;
        foreach (var (_, layer) in model.Projections()) layer.Detach();   // owned here, not disposed
        Active = null;
        if (name is null) return;
        var layers = adapters[name].Layers;
        foreach (var (projection, layer) in model.Projections())
            if (layers.TryGetValue(projection, out var adapter)) layer.Attach(adapter);
        Active = name;
    }

    public void Dispose()
    {
        foreach (var entry in adapters.Values)
            foreach (var adapter in entry.Layers.Values) adapter.Dispose();
        adapters.Clear();
    }
}
