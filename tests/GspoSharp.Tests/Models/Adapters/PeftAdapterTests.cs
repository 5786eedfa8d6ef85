using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Adapters;

/// <summary>PEFT's adapter directory: names, shapes and config fields as PEFT and vLLM read them, both ways.</summary>
public class PeftAdapterTests
{
    static readonly LoraSettings Settings = new(4, 8, 0.1, new[] { "q_proj", "v_proj", "down_proj" }, true);

    static CausalLm Adapted()
    {
        var lm = RandomModel(Config(ModelType.Qwen3));
        Lora.Attach(lm, Settings, seed: 2);
        LoraTests.Randomize(lm, 0.1);
        return lm;
    }

    [Fact]
    public void Files_hold_peft_names_shapes_and_config_and_read_back_exactly()
    {
        using var dir = new TempDirectory();
        using var lm = Adapted();
        PeftAdapter.Save(lm, Settings, dir.Path, "Qwen/Qwen3-0.6B");

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "adapter_config.json")))!.AsObject();
        Assert.Equal("LORA", (string?)config["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)config["task_type"]);
        Assert.Equal("Qwen/Qwen3-0.6B", (string?)config["base_model_name_or_path"]);
        Assert.Equal(4, (int)config["r"]!);
        Assert.Equal(8.0, (double)config["lora_alpha"]!);
        Assert.Equal(0.1, (double)config["lora_dropout"]!);
        Assert.Equal("none", (string?)config["bias"]);
        Assert.True((bool)config["use_rslora"]!);
        Assert.Equal(new[] { "q_proj", "v_proj", "down_proj" }, config["target_modules"]!.AsArray().Select(n => (string)n!).ToArray());

        using (var reader = SafetensorsReader.Open(Path.Combine(dir.Path, "adapter_model.safetensors")))
        {
            var shapes = reader.Entries.ToDictionary(e => e.Name, e => e.Shape.ToArray());
            Assert.Equal(2 * 3 * 2, shapes.Count);   // 2 layers × 3 modules × (A, B)
            Assert.Equal(new long[] { 4, 64 }, shapes["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]);
            Assert.Equal(new long[] { 4 * 16, 4 }, shapes["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"]);
            Assert.Equal(new long[] { 4, 128 }, shapes["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"]);
            Assert.Equal(new long[] { 64, 4 }, shapes["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"]);
            Assert.Equal("pt", reader.Metadata["format"]);
        }

        using var other = RandomModel(Config(ModelType.Qwen3));
        var read = PeftAdapter.Load(other, dir.Path);
        Assert.Equal(Settings.Scaling, read.Scaling);
        Assert.Equal(Settings.TargetModules, read.TargetModules);
        var mine = lm.TrainableParameters().ToDictionary(p => p.Name, p => Row(p.Parameter));
        var theirs = other.TrainableParameters();
        Assert.Equal(mine.Count, theirs.Count);
        foreach (var (name, p) in theirs) Assert.Equal(mine[name], Row(p));
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 3, 5, 7, 11, 13 }, new long[] { 1, 5 });
        Assert.Equal(0, MaxDiff(lm.Forward(ids), other.Forward(ids)));
    }

    [Theory]
    [InlineData("use_dora", "true", "adapter_config.json: use_dora: is true")]
    [InlineData("modules_to_save", "[\"lm_head\"]", "adapter_config.json: modules_to_save: lists")]
    [InlineData("bias", "\"lora_only\"", "adapter_config.json: bias: is 'lora_only'")]
    [InlineData("peft_type", "\"IA3\"", "adapter_config.json: peft_type: is 'IA3'")]
    [InlineData("target_modules", "[\"q_proj\", \"gate\"]", "adapter_config.json: target_modules: the qwen3 model has no module 'gate'")]
    [InlineData("target_modules", "\".*q_proj\"", "adapter_config.json: target_modules: is \".*q_proj\"; regular expressions")]
    [InlineData("r", "8", "adapter_model.safetensors: tensor base_model.model.model.layers.0.mlp.down_proj.lora_A.weight has shape [4, 128] but r = 8")]
    public void Unsupported_or_mismatched_adapters_are_refused_naming_file_and_key(string key, string json, string message)
    {
        using var dir = new TempDirectory();
        using (var lm = Adapted()) PeftAdapter.Save(lm, Settings, dir.Path, null);
        string path = Path.Combine(dir.Path, "adapter_config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config[key] = JsonNode.Parse(json);
        File.WriteAllText(path, config.ToJsonString());
        using var model = RandomModel(Config(ModelType.Qwen3));
        var error = Assert.Throws<ModelFormatException>(() => PeftAdapter.Load(model, dir.Path));
        Assert.Contains(message, error.Message);
        Assert.False(model.HasAdapters);
    }

    [Fact]
    public void An_adapter_for_modules_the_model_lacks_is_refused()
    {
        using var dir = new TempDirectory();
        using (var lm = Adapted()) PeftAdapter.Save(lm, Settings, dir.Path, null);
        using var shallow = RandomModel(Config(ModelType.Qwen3, edit: j => j["num_hidden_layers"] = 1));
        var error = Assert.Throws<ModelFormatException>(() => PeftAdapter.Load(shallow, dir.Path));
        Assert.Contains("adapter_model.safetensors: tensor base_model.model.model.layers.1.", error.Message);
        Assert.Contains("which the qwen3 model lacks", error.Message);
    }

    [Fact]
    public void Merging_folds_the_adapter_into_the_weights_and_the_saved_model_computes_the_same()
    {
        using var dir = new TempDirectory();
        using var lm = Adapted();
        using var noGrad = no_grad();
        var ids = tensor(new long[] { 3, 5, 7, 11, 13, 2, 40 }, new long[] { 1, 7 });
        var adapted = lm.Logits(lm.Forward(ids));
        Lora.Merge(lm);
        Assert.False(lm.HasAdapters);
        ModelDirectory.Save(lm, dir.Path);
        using var merged = ModelDirectory.Load(dir.Path);
        Assert.True(MaxDiff(adapted, merged.Logits(merged.Forward(ids))) < 1e-5);
    }
}
