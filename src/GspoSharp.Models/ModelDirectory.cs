using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Models.TestHooks;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models;

/// <summary>
/// Hugging Face model directories: <c>config.json</c>, safetensors weights (single or sharded),
/// and the companion files (tokenizer, generation config) that travel with them. A model saved
/// here opens unchanged in the Python ecosystem, and any such directory of a supported
/// architecture loads here.
/// </summary>
public static class ModelDirectory
{
    /// <summary>The model's configuration file.</summary>
    public const string ConfigFileName = "config.json";

    /// <summary>Sampling defaults and end-of-sequence ids.</summary>
    public const string GenerationConfigFileName = "generation_config.json";

    /// <summary>Files copied along with the weights when saving: the tokenizer and generation settings.</summary>
    public static readonly IReadOnlyList<string> CompanionFiles = new[]
    {
        GenerationConfigFileName, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja",
    };

    /// <summary>
    /// Loads the model in <paramref name="directory"/>: validates config.json, checks that the
    /// checkpoint holds exactly the model's tensors with the right shapes, converts them to
    /// <paramref name="dtype"/> and places them on <paramref name="device"/>. With <paramref name="projectionWeightDtype"/>,
    /// the projection weights (attention, MLP, MoE) are built and read directly in that dtype and frozen (the
    /// half-precision base of a LoRA run, <see cref="ProjectionLinear.WeightsStoredIn"/>), never held in float32.
    /// </summary>
    /// <exception cref="ModelFormatException">A file is missing or malformed, or a tensor is missing,
    /// unexpected or wrongly shaped; the message names the file and the tensor or field.</exception>
    public static CausalLm Load(string directory, ScalarType dtype = ScalarType.Float32, Device? device = null,
        ScalarType? projectionWeightDtype = null)
    {
        if (!Directory.Exists(directory)) throw new ModelFormatException($"{directory}: the model directory does not exist.");
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFileName));
        using var checkpoint = HfSafetensorsCheckpoint.Open(directory);
        CheckSizes(config, checkpoint, Path.Combine(directory, ConfigFileName));
        NativeAllocatorSettings.ModelLoading(config.ParameterCountEstimate());
        CausalLm model;
        using (projectionWeightDtype is { } stored ? ProjectionLinear.WeightsStoredIn(stored) : null)
            model = new CausalLm(config, dtype);
        try
        {
            var parameters = model.named_parameters().ToList();
            var names = parameters.Select(p => p.name).ToHashSet(StringComparer.Ordinal);
            var missing = names.Where(n => !checkpoint.Contains(n)).ToList();
            if (missing.Count > 0)
                throw new ModelFormatException($"{directory}: the checkpoint lacks {missing.Count} tensor(s) the {ModelConfig.Name(config.ModelType)} " +
                                               $"config needs: {Describe(missing)}.");
            var unexpected = checkpoint.Entries.Select(e => e.Name).Where(n => !names.Contains(n) && !Ignorable(n, config)).ToList();
            if (unexpected.Count > 0)
                throw new ModelFormatException($"{directory}: the checkpoint has {unexpected.Count} tensor(s) the config does not use: " +
                                               $"{Describe(unexpected)}.");
            using var noGrad = no_grad();
            foreach (var (name, parameter) in parameters)
            {
                var entry = checkpoint.GetEntry(name);
                if (!entry.Shape.SequenceEqual(parameter.shape))
                    throw new ModelFormatException($"{entry.File}: tensor {name} has shape [{string.Join(", ", entry.Shape)}] " +
                                                   $"but the config implies [{string.Join(", ", parameter.shape)}].");
                using var scope = NewDisposeScope();
                parameter.copy_(checkpoint.ReadTensor(name, parameter.dtype));   // dtype, or the projections' stored dtype
            }
            if (device is not null && device.type != DeviceType.CPU) model.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Building the model allocates every parameter the config implies before a weight is read, so
    /// a config whose sizes are wrong (vocab_size 2147483647, num_hidden_layers 10^9) would ask for
    /// terabytes. Every parameter must be one of the checkpoint's tensors, whose sizes the file's
    /// length bounds: a config implying far more parameters than the checkpoint holds values is
    /// refused first. A config needing only a little more (a tensor missing from the checkpoint) is
    /// left to the checks below, which name the tensor; the model they build is then at most about
    /// twice the checkpoint's size.
    /// </summary>
    static void CheckSizes(ModelConfig config, HfSafetensorsCheckpoint checkpoint, string configPath)
    {
        double needed = config.ParameterCountEstimate();
        long stored = checkpoint.Entries.Sum(e => e.ElementCount);
        if (needed > 2.0 * stored + (1 << 20))
            throw new ModelFormatException(
                $"{configPath}: the sizes (vocab_size {config.VocabSize}, hidden_size {config.HiddenSize}, intermediate_size {config.IntermediateSize}, " +
                $"num_hidden_layers {config.NumHiddenLayers}, num_attention_heads {config.NumAttentionHeads}, head_dim {config.HeadDim}" +
                (config.ModelType == ModelType.Qwen3Moe ? $", num_experts {config.NumExperts}, moe_intermediate_size {config.MoeIntermediateSize}" : "") +
                $") imply {needed:N0} parameters, but the checkpoint holds {stored:N0} values.");
    }

    /// <summary>Tensors a checkpoint may hold that the model rightly does not load: a tied output head
    /// stored anyway, and RoPE frequency buffers of older exports.</summary>
    static bool Ignorable(string name, ModelConfig config) =>
        (config.TieWordEmbeddings && name == "lm_head.weight") || name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal);

    static string Describe(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(5)) + (names.Count > 5 ? $" and {names.Count - 5} more" : "");

    /// <summary>The generation config of <paramref name="directory"/>, or null when it has none.</summary>
    public static GenerationConfig? LoadGenerationConfig(string directory)
    {
        string path = Path.Combine(directory, GenerationConfigFileName);
        return File.Exists(path) ? GenerationConfig.Load(path) : null;
    }

    /// <summary>
    /// Saves <paramref name="model"/> to <paramref name="directory"/> in Hugging Face format: config.json
    /// (every original field kept, <c>torch_dtype</c> set to the storage dtype), the weights as
    /// safetensors in <paramref name="storageDtype"/> (sharded above <paramref name="maxShardBytes"/>),
    /// and the <see cref="CompanionFiles"/> found in <paramref name="companionsFrom"/>. Everything is
    /// written to a temporary directory beside the target and renamed into place; an existing
    /// non-empty target is replaced only with <paramref name="overwrite"/>.
    /// </summary>
    public static void Save(CausalLm model, string directory, string? companionsFrom = null,
        ScalarType storageDtype = ScalarType.Float32, long maxShardBytes = HfSafetensorsCheckpoint.DefaultMaxShardBytes,
        bool overwrite = false)
    {
        string target = Path.GetFullPath(directory);
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !overwrite)
            throw new IOException($"{directory}: already exists and is not empty; choose another directory or allow overwriting.");
        string parent = Path.GetDirectoryName(target)!;
        Directory.CreateDirectory(parent);
        string staging = Path.Combine(parent, $".{Path.GetFileName(target)}.partial-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(staging);
            var config = model.Config with { TorchDtype = DtypeName(storageDtype) };
            File.WriteAllText(Path.Combine(staging, ConfigFileName),
                config.ToJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            using (var scope = NewDisposeScope())
            {
                var tensors = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach().cpu());
                HfSafetensorsCheckpoint.Save(staging, tensors, storageDtype, maxShardBytes);
            }
            if (companionsFrom is not null)
                foreach (var file in CompanionFiles)
                    if (File.Exists(Path.Combine(companionsFrom, file)))
                        File.Copy(Path.Combine(companionsFrom, file), Path.Combine(staging, file));
            Publish(staging, target);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>Moves a complete staging directory to <paramref name="target"/>, replacing what is there.</summary>
    static void Publish(string staging, string target)
    {
        if (!Directory.Exists(target))
        {
            Directory.Move(staging, target);
            return;
        }
        // Hidden, like the staging directory: a crash between the two renames leaves no
        // visible directory that looks like a model.
        string old = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.old-{Guid.NewGuid():N}");
        Directory.Move(target, old);
        CrashPoints.Hit(CrashPoints.ModelSwap, target);   // test only
        Directory.Move(staging, target);
        Directory.Delete(old, recursive: true);
    }

    /// <summary>
    /// The dtype the weights of <paramref name="directory"/> are stored in, read from the safetensors
    /// headers of the tensors the model loads (RoPE buffers and a stored tied head are not looked at):
    /// float32, bfloat16 or float16. Weights stored in more than one of these, or in float64, give
    /// float32, so that saving in it rounds nothing the directory held exactly.
    /// </summary>
    /// <exception cref="ModelFormatException">config.json or the checkpoint is missing or malformed.</exception>
    public static ScalarType StorageDtype(string directory)
    {
        if (!Directory.Exists(directory)) throw new ModelFormatException($"{directory}: the model directory does not exist.");
        var config = ModelConfig.Load(Path.Combine(directory, ConfigFileName));
        using var checkpoint = HfSafetensorsCheckpoint.Open(directory);
        var stored = checkpoint.Entries
            .Where(e => !Ignorable(e.Name, config) && e.Dtype is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64)
            .Select(e => e.Dtype).Distinct().ToList();
        return stored is [var only] && only != ScalarType.Float64 ? only : ScalarType.Float32;
    }

    /// <summary>The config.json name of a storage dtype.</summary>
    public static string DtypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        _ => throw new ArgumentException($"weights are stored as float32, bfloat16 or float16, not {dtype}."),
    };
}
