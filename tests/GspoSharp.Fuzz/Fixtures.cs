using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Training;

namespace GspoSharp.Fuzz;

/// <summary>
/// The valid files the fuzz targets start from, made the way the tests make them: tiny model
/// directories written by <see cref="TinyModels"/> (config.json, safetensors, tokenizer files,
/// generation_config.json), a sharded checkpoint, the repository's recipes and experiment
/// matrices, and the test suite's JSON Lines sample. Everything lives under one temporary
/// directory, deleted on dispose; each target works in a subdirectory of its own.
/// </summary>
public sealed class Fixtures : IDisposable
{
    readonly Lazy<string> _dense, _moe;
    readonly Lazy<LanguageModel> _policy, _chatPolicy;

    public Fixtures(string? root = null)
    {
        Root = root ?? Path.Combine(Path.GetTempPath(), "gspo-fuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        _dense = new(() => Model("dense", ModelType.Qwen3));
        _moe = new(() => Model("moe", ModelType.Qwen3Moe));
        _policy = new(() => LanguageModel.Load(DenseModel, chatTemplate: false));
        _chatPolicy = new(() => LanguageModel.Load(DenseModel, chatTemplate: true));
    }

    /// <summary>The working directory.</summary>
    public string Root { get; }

    /// <summary>A tiny Qwen3 model directory (read-only: targets copy what they mutate).</summary>
    public string DenseModel => _dense.Value;

    /// <summary>A tiny Qwen3-MoE model directory.</summary>
    public string MoeModel => _moe.Value;

    /// <summary>The tiny Qwen3 model with its tokenizer, plain prompts as text.</summary>
    public LanguageModel LanguageModel => _policy.Value;

    /// <summary>The same, plain prompts through the chat template.</summary>
    public LanguageModel ChatPolicy => _chatPolicy.Value;

    /// <summary>The repository's root (recipes/, experiments/, tests/): found above the program, as the tests find it.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>A fresh directory for one target, optionally holding a copy of <paramref name="copyOf"/>'s files.</summary>
    public string WorkDirectory(string name, string? copyOf = null)
    {
        string dir = Path.Combine(Root, "targets", name);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        if (copyOf is not null)
            foreach (var file in Directory.EnumerateFiles(copyOf))
                File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        return dir;
    }

    /// <summary>The bytes of repository files matching <paramref name="pattern"/> under <paramref name="folder"/>.</summary>
    public static List<byte[]> RepositoryFiles(string folder, string pattern) =>
        Directory.EnumerateFiles(Path.Combine(RepositoryRoot, folder), pattern).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();

    string Model(string name, ModelType type)
    {
        string dir = Path.Combine(Root, "models", name);
        if (!File.Exists(Path.Combine(dir, ModelDirectory.ConfigFileName)))
            TinyModels.Create(dir, type, ModelSize.Tiny, seed: 1);
        return dir;
    }

    /// <summary>A config.json of another architecture with the optional fields set, for seeds.</summary>
    public static byte[] ConfigJson(ModelType type, Action<JsonObject>? edit = null)
    {
        var json = TinyConfigs.Create(type, ModelSize.Tiny, TinyModels.VocabSize, eosTokenId: 2, padTokenId: 0).ToJson();
        edit?.Invoke(json);
        return System.Text.Encoding.UTF8.GetBytes(json.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
    }

    static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GspoSharp.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (GspoSharp.slnx) is not above the program.");
    }

    public void Dispose()
    {
        if (_policy.IsValueCreated) _policy.Value.Dispose();
        if (_chatPolicy.IsValueCreated) _chatPolicy.Value.Dispose();
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
