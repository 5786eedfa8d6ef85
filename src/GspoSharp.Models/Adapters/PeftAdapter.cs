using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using static TorchSharp.torch;

namespace GspoSharp.Models.Adapters;

/// <summary>
/// LoRA adapters in PEFT's directory format, which TRL, PEFT and vLLM read and write:
/// <c>adapter_config.json</c> (<c>peft_type: "LORA"</c>, <c>r</c>, <c>lora_alpha</c>, <c>target_modules</c>, …) and
/// <c>adapter_model.safetensors</c> with one pair per adapted module,
/// <c>base_model.model.{module}.lora_A.weight</c> [r, in] and <c>….lora_B.weight</c> [out, r]
/// (PEFT's <c>get_peft_model_state_dict</c> names, the adapter name removed).
/// Features this implementation does not compute (DoRA, extra trained modules, biases, per-layer
/// ranks) are refused rather than silently dropped.
/// </summary>
public static class PeftAdapter
{
    /// <summary>The adapter's configuration file.</summary>
    public const string ConfigFileName = "adapter_config.json";

    /// <summary>The adapter's tensors.</summary>
    public const string WeightsFileName = "adapter_model.safetensors";

    const string Prefix = "base_model.model.";

    /// <summary>Whether <paramref name="directory"/> holds an adapter (has adapter_config.json).</summary>
    public static bool IsAdapter(string directory) => File.Exists(Path.Combine(directory, ConfigFileName));

    /// <summary>
    /// Writes the adapters of <paramref name="model"/> to <paramref name="directory"/> (created if needed;
    /// both files are written under temporary names and then renamed into place) in float32.
    /// </summary>
    public static void Save(CausalLm model, LoraSettings settings, string directory, string? baseModelNameOrPath)
    {
        var adapted = model.Projections().Where(p => p.Layer.Adapter is not null).ToList();
        if (adapted.Count == 0) throw new ArgumentException("the model carries no adapters to save.");
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModelNameOrPath,
            ["r"] = settings.Rank,
            ["lora_alpha"] = settings.Alpha,
            ["lora_dropout"] = settings.Dropout,
            ["target_modules"] = new JsonArray(adapted.Select(p => Lora.LastName(p.Name)).Distinct().Select(n => (JsonNode?)n).ToArray()),
            ["bias"] = "none",
            ["use_rslora"] = settings.UseRslora,
            ["use_dora"] = false,
            ["fan_in_fan_out"] = false,
            ["modules_to_save"] = null,
            ["init_lora_weights"] = true,
            ["inference_mode"] = true,
        };
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, layer) in adapted)
        {
            tensors[$"{Prefix}{name}.lora_A.weight"] = layer.Adapter!.A.detach().cpu();
            tensors[$"{Prefix}{name}.lora_B.weight"] = layer.Adapter.B.detach().cpu();
        }
        Directory.CreateDirectory(directory);
        var layout = SafetensorsLayout.Plan(tensors, ScalarType.Float32, new Dictionary<string, string> { ["format"] = "pt" });
        using var staged = new StagedFiles();
        staged.Stage(Path.Combine(directory, WeightsFileName), layout.WriteTo);
        staged.Stage(Path.Combine(directory, ConfigFileName), stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            writer.Write(config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        });
        staged.Publish(Path.Combine(directory, WeightsFileName));
        staged.Publish(Path.Combine(directory, ConfigFileName));
    }

    /// <summary>Reads and checks adapter_config.json of <paramref name="directory"/>.</summary>
    /// <exception cref="ModelFormatException">The file is missing or malformed, or asks for a feature not computed here.</exception>
    public static (LoraSettings Settings, string? BaseModel) ReadConfig(string directory)
    {
        string path = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: not found; {directory} is not a PEFT adapter directory.");
        JsonObject json;
        try
        {
            json = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new ModelFormatException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: {e.Message}");
        }
        ModelFormatException Bad(string key, string message) => new($"{path}: {key}: {message}");
        T Get<T>(string key, T fallback)
        {
            if (json[key] is not { } node || node.GetValueKind() == JsonValueKind.Null) return fallback;
            try { return node.GetValue<T>(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException) { throw Bad(key, $"has the wrong type ({node.ToJsonString()})."); }
        }
        if (Get<string?>("peft_type", null) is var type && type != "LORA") throw Bad("peft_type", $"is '{type}'; only LORA adapters are supported.");
        if (Get("use_dora", false)) throw Bad("use_dora", "is true; DoRA adapters are not supported (merge the adapter with PEFT first).");
        if (json["modules_to_save"] is JsonArray { Count: > 0 } saved)
            throw Bad("modules_to_save", $"lists {saved.ToJsonString()}; adapters that fully train extra modules are not supported.");
        if (Get("bias", "none") is var bias && bias != "none") throw Bad("bias", $"is '{bias}'; only \"none\" is supported.");
        if (Get("fan_in_fan_out", false)) throw Bad("fan_in_fan_out", "is true; only [out, in] weights (nn.Linear) are supported.");
        foreach (var key in new[] { "rank_pattern", "alpha_pattern" })
            if (json[key] is JsonObject { Count: > 0 }) throw Bad(key, "is set; per-module ranks and alphas are not supported.");
        if (json["layers_to_transform"] is { } layers && layers.GetValueKind() != JsonValueKind.Null)
            throw Bad("layers_to_transform", "is set; adapters on a subset of layers are not supported.");
        var targets = json["target_modules"] switch
        {
            JsonArray array => array.Select(n => n?.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : throw Bad("target_modules", "must list module names.")).ToList(),
            JsonValue v when v.GetValueKind() == JsonValueKind.String && v.GetValue<string>() == LoraSettings.AllLinear => new List<string> { LoraSettings.AllLinear },
            JsonValue v => throw Bad("target_modules", $"is {v.ToJsonString()}; regular expressions are not supported, list the module names."),
            _ => throw Bad("target_modules", "is missing."),
        };
        var settings = new LoraSettings(Get("r", 8), Get("lora_alpha", 8.0), Get("lora_dropout", 0.0), targets, Get("use_rslora", false));
        try
        {
            settings.Validate(prefix: "");
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException($"{path}: {e.Message}");
        }
        return (settings, Get<string?>("base_model_name_or_path", null));
    }

    /// <summary>
    /// Puts the adapter in <paramref name="directory"/> on <paramref name="model"/> (frozen base) and
    /// returns its settings. Every tensor must name a projection of the model with the config's rank.
    /// </summary>
    /// <exception cref="ModelFormatException">A file, key, tensor name or shape does not fit; the message names it.</exception>
    public static LoraSettings Load(CausalLm model, string directory)
    {
        var (settings, _) = ReadConfig(directory);
        string configPath = Path.Combine(directory, ConfigFileName);
        try
        {
            Lora.Targets(model, settings, "target_modules");
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException($"{configPath}: {e.Message}");
        }
        string path = Path.Combine(directory, WeightsFileName);
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: not found.");
        var projections = model.Projections().ToDictionary(p => p.Name, p => p.Layer, StringComparer.Ordinal);
        using var reader = SafetensorsReader.Open(path);
        var factors = new Dictionary<string, (SafetensorsEntry? A, SafetensorsEntry? B)>(StringComparer.Ordinal);
        foreach (var entry in reader.Entries)
        {
            string name = entry.Name;
            bool isA = name.EndsWith(".lora_A.weight", StringComparison.Ordinal), isB = name.EndsWith(".lora_B.weight", StringComparison.Ordinal);
            if (!name.StartsWith(Prefix, StringComparison.Ordinal) || !(isA || isB))
                throw new ModelFormatException($"{path}: tensor {name} is not a LoRA factor (expected {Prefix}<module>.lora_A.weight or .lora_B.weight).");
            string module = name[Prefix.Length..^".lora_A.weight".Length];
            if (!projections.TryGetValue(module, out var layer))
                throw new ModelFormatException($"{path}: tensor {name} targets module {module}, which the {ModelConfig.Name(model.Config.ModelType)} model lacks.");
            var expected = isA ? new[] { (long)settings.Rank, layer.InFeatures } : new[] { layer.OutFeatures, (long)settings.Rank };
            if (!entry.Shape.SequenceEqual(expected))
                throw new ModelFormatException($"{path}: tensor {name} has shape [{string.Join(", ", entry.Shape)}] but r = {settings.Rank} and the model imply [{string.Join(", ", expected)}].");
            var pair = factors.GetValueOrDefault(module);
            factors[module] = isA ? pair with { A = entry } : pair with { B = entry };
        }
        if (factors.Count == 0) throw new ModelFormatException($"{path}: holds no LoRA tensors.");
        foreach (var (module, (a, b)) in factors)
            if (a is null || b is null)
                throw new ModelFormatException($"{path}: module {module} has lora_{(a is null ? "A" : "B")}.weight missing.");
        foreach (var (module, (a, b)) in factors)
        {
            var layer = projections[module];
            var dtype = layer.ComputeDtype;
            projections[module].Attach(new LoraAdapter(reader.ReadTensor(a!.Name, dtype, model.Device), reader.ReadTensor(b!.Name, dtype, model.Device),
                settings.Scaling, settings.Dropout));
        }
        Lora.Freeze(model);
        model.eval();   // dropout only where the trainer switches to training mode
        return settings;
    }
}
