using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Tests.Models.Architecture;

namespace GspoSharp.Tests.Models;

public class ModelDirectoryTests
{
    [Theory]
    [InlineData(ModelType.Qwen3)]
    [InlineData(ModelType.Qwen3Moe)]
    [InlineData(ModelType.Qwen2)]
    [InlineData(ModelType.Llama)]
    public void Save_then_load_is_bit_exact(ModelType type)
    {
        using var dir = new TempDirectory();
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(type));
        string path = Path.Combine(dir.Path, "model");
        ModelDirectory.Save(lm, path);
        using var loaded = ModelDirectory.Load(path);

        Assert.Equal(lm.Config.ToJson().ToJsonString(), loaded.Config.ToJson().ToJsonString());
        var expected = ModelTestKit.Parameters(lm);
        foreach (var (name, p) in loaded.named_parameters())
            Assert.True(expected[name].eq(p).all().item<bool>(), $"{type}: {name} differs after the round trip");
        Assert.Equal(expected.Count, loaded.named_parameters().Count());
    }

    [Fact]
    public void Sharded_bfloat16_checkpoints_with_companion_files_round_trip()
    {
        using var dir = new TempDirectory();
        string source = Path.Combine(dir.Path, "source");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "tokenizer.json"), "{\"model\": {}}");
        File.WriteAllText(Path.Combine(source, "generation_config.json"), "{\"eos_token_id\": [7, 9], \"temperature\": 0.6}");
        File.WriteAllText(Path.Combine(source, "notes.txt"), "not a companion file");

        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3Moe));
        string path = Path.Combine(dir.Path, "bf16");
        ModelDirectory.Save(lm, path, companionsFrom: source, storageDtype: ScalarType.BFloat16, maxShardBytes: 20_000);
        Assert.True(File.Exists(Path.Combine(path, HfSafetensorsCheckpoint.IndexFileName)));
        Assert.True(Directory.GetFiles(path, "model-*-of-*.safetensors").Length > 2);
        Assert.True(File.Exists(Path.Combine(path, "tokenizer.json")));
        Assert.False(File.Exists(Path.Combine(path, "notes.txt")));
        Assert.Equal("bfloat16", JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))!["torch_dtype"]!.GetValue<string>());
        Assert.Equal(new[] { 7, 9 }, ModelDirectory.LoadGenerationConfig(path)!.EosTokenIds);

        using var loaded = ModelDirectory.Load(path);
        var expected = ModelTestKit.Parameters(lm);
        foreach (var (name, p) in loaded.named_parameters())
            Assert.True(expected[name].to_type(ScalarType.BFloat16).to_type(ScalarType.Float32).eq(p).all().item<bool>(), name);
    }

    static string SavedModel(TempDirectory dir, Action<Dictionary<string, Tensor>>? editTensors = null, Action<JsonObject>? editConfig = null)
    {
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));
        string path = Path.Combine(dir.Path, "m");
        ModelDirectory.Save(lm, path);
        if (editTensors is not null)
        {
            var tensors = new Dictionary<string, Tensor>();
            using (var checkpoint = HfSafetensorsCheckpoint.Open(path))
                foreach (var e in checkpoint.Entries) tensors[e.Name] = checkpoint.ReadTensor(e.Name);
            editTensors(tensors);
            HfSafetensorsCheckpoint.Save(path, tensors);
        }
        if (editConfig is not null)
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))!.AsObject();
            editConfig(json);
            File.WriteAllText(Path.Combine(path, "config.json"), json.ToJsonString());
        }
        return path;
    }

    static string LoadError(string path) => Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(path).Dispose()).Message;

    [Fact]
    public void Missing_unexpected_and_misshapen_tensors_are_named()
    {
        using var dir = new TempDirectory();
        Assert.Contains("lacks 1 tensor(s) the qwen3 config needs: model.layers.1.mlp.up_proj.weight",
            LoadError(SavedModel(dir, t => t.Remove("model.layers.1.mlp.up_proj.weight"))));
        using var dir2 = new TempDirectory();
        Assert.Contains("does not use: model.layers.2.mlp.up_proj.weight",
            LoadError(SavedModel(dir2, t => t["model.layers.2.mlp.up_proj.weight"] = zeros(3))));
        using var dir3 = new TempDirectory();
        Assert.Contains("tensor model.norm.weight has shape [65] but the config implies [64]",
            LoadError(SavedModel(dir3, t => t["model.norm.weight"] = zeros(65))));
        using var dir4 = new TempDirectory();
        Assert.Contains("config.json: field \"hidden_size\" must be a number",
            LoadError(SavedModel(dir4, editConfig: j => j["hidden_size"] = "wide")));
        // A tied model may still carry lm_head.weight, and old exports carry RoPE buffers: both ignored.
        using var dir5 = new TempDirectory();
        ModelDirectory.Load(SavedModel(dir5, t =>
        {
            t["lm_head.weight"] = t["model.embed_tokens.weight"].clone();
            t["model.layers.0.self_attn.rotary_emb.inv_freq"] = ones(8);
        })).Dispose();
    }

    [Fact]
    public void Missing_directories_files_and_pickles_are_reported()
    {
        using var dir = new TempDirectory();
        Assert.Contains("the model directory does not exist", LoadError(Path.Combine(dir.Path, "nowhere")));
        Directory.CreateDirectory(Path.Combine(dir.Path, "empty"));
        Assert.Contains("config.json: file not found", LoadError(Path.Combine(dir.Path, "empty")));
        string pickled = SavedModel(dir);
        foreach (var f in Directory.GetFiles(pickled, "*.safetensors")) File.Delete(f);
        File.WriteAllText(Path.Combine(pickled, "pytorch_model.bin"), "pickle");
        Assert.Contains("pytorch_model.bin", LoadError(pickled));
    }

    [Fact]
    public void Saving_over_an_existing_model_needs_consent_and_never_leaves_partial_directories()
    {
        using var dir = new TempDirectory();
        string path = SavedModel(dir);
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Llama), seed: 9);
        Assert.Contains("already exists and is not empty", Assert.Throws<IOException>(() => ModelDirectory.Save(lm, path)).Message);
        ModelDirectory.Save(lm, path, overwrite: true);
        using var loaded = ModelDirectory.Load(path);
        Assert.Equal(ModelType.Llama, loaded.Config.ModelType);
        Assert.Equal(new[] { "m" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void The_storage_dtype_is_read_from_the_weights_and_written_to_config_json(ScalarType dtype)
    {
        using var dir = new TempDirectory();
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));
        string path = Path.Combine(dir.Path, "m");
        ModelDirectory.Save(lm, path, storageDtype: dtype);
        Assert.Equal(dtype, ModelDirectory.StorageDtype(path));
        string name = new Dictionary<ScalarType, string> { [ScalarType.Float32] = "float32", [ScalarType.BFloat16] = "bfloat16", [ScalarType.Float16] = "float16" }[dtype];
        Assert.Equal(name, JsonNode.Parse(File.ReadAllText(Path.Combine(path, "config.json")))!["torch_dtype"]!.GetValue<string>());
        Assert.Equal(name, ModelDirectory.DtypeName(dtype));
    }

    [Fact]
    public void Buffers_the_model_does_not_load_do_not_decide_the_storage_dtype_and_mixed_weights_give_float32()
    {
        using var dir = new TempDirectory();
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));
        var tensors = lm.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach());
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToList();
        string path = Path.Combine(dir.Path, "m");
        ModelDirectory.Save(lm, path);

        // Rewrites the weights as shards, each stored in its own dtype.
        void Shards(params (ScalarType Dtype, IReadOnlyList<string> Names)[] shards)
        {
            foreach (var f in Directory.GetFiles(path, "*.safetensors*")) File.Delete(f);
            var map = new Dictionary<string, string>();
            using var scope = NewDisposeScope();
            for (int i = 0; i < shards.Length; i++)
            {
                string file = $"model-{i + 1:D5}-of-{shards.Length:D5}.safetensors";
                SafetensorsWriter.Write(Path.Combine(path, file),
                    shards[i].Names.ToDictionary(n => n, n => tensors.TryGetValue(n, out var t) ? t : ones(8)), shards[i].Dtype);
                foreach (var n in shards[i].Names) map[n] = file;
            }
            using var index = File.Create(Path.Combine(path, HfSafetensorsCheckpoint.IndexFileName));
            HfCheckpointIndex.Write(index, 0, map);
        }

        // An old export's float32 RoPE buffer beside bfloat16 weights: still bfloat16.
        Shards((ScalarType.BFloat16, names), (ScalarType.Float32, ["model.layers.0.self_attn.rotary_emb.inv_freq"]));
        Assert.Equal(ScalarType.BFloat16, ModelDirectory.StorageDtype(path));
        ModelDirectory.Load(path).Dispose();   // a valid model directory
        // Weights in two dtypes: float32, so that saving rounds nothing the directory held exactly.
        Shards((ScalarType.BFloat16, names.Take(3).ToList()), (ScalarType.Float16, names.Skip(3).ToList()));
        Assert.Equal(ScalarType.Float32, ModelDirectory.StorageDtype(path));
        Shards((ScalarType.Float32, names.Take(3).ToList()), (ScalarType.BFloat16, names.Skip(3).ToList()));
        Assert.Equal(ScalarType.Float32, ModelDirectory.StorageDtype(path));
    }

    [Fact]
    public void Config_json_dtype_and_torch_dtype_are_read_as_transformers_does_and_written_consistently()
    {
        using var dir = new TempDirectory();
        // transformers ≥ 4.56 writes "dtype" and prefers it when both are present.
        string path = SavedModel(dir, editConfig: j =>
        {
            j["torch_dtype"] = "bfloat16";
            j["dtype"] = "float16";
        });
        using var loaded = ModelDirectory.Load(path);
        Assert.Equal("float16", loaded.Config.TorchDtype);
        string saved = Path.Combine(dir.Path, "saved");
        ModelDirectory.Save(loaded, saved, storageDtype: ScalarType.BFloat16);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(saved, "config.json")))!;
        Assert.Equal(("bfloat16", "bfloat16"), (json["torch_dtype"]!.GetValue<string>(), json["dtype"]!.GetValue<string>()));

        // A config with only torch_dtype gets no dtype field added: the file changes no more than it must.
        using var dir2 = new TempDirectory();
        using var plain = ModelDirectory.Load(SavedModel(dir2));
        string saved2 = Path.Combine(dir2.Path, "saved");
        ModelDirectory.Save(plain, saved2, storageDtype: ScalarType.Float16);
        var json2 = JsonNode.Parse(File.ReadAllText(Path.Combine(saved2, "config.json")))!.AsObject();
        Assert.Equal("float16", json2["torch_dtype"]!.GetValue<string>());
        Assert.False(json2.ContainsKey("dtype"));
    }

    [Fact]
    public void Token_ids_outside_the_vocabulary_are_refused()
    {
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3, vocab: 50));
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => lm.Forward(tensor(new long[] { 3, 50 }).unsqueeze(0)));
        Assert.Contains("token ids must lie in [0, 50); got values from 3 to 50", error.Message);
    }
}
