using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Tests.Models.Architecture;

namespace GspoSharp.Tests.Models;

/// <summary>
/// Sizes read from config.json decide how much memory the model takes before any weight is read.
/// Inputs found by the parser fuzzer and by reading what it exercises: sizes far beyond the
/// checkpoint are refused before allocating, and rope_scaling fields are typed like the rest.
/// </summary>
public class ModelSizeRefusalTests
{
    static string SavedModel(TempDirectory dir, Action<JsonObject> editConfig)
    {
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));
        string path = Path.Combine(dir.Path, "m");
        ModelDirectory.Save(lm, path);
        string config = Path.Combine(path, ModelDirectory.ConfigFileName);
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        editConfig(json);
        File.WriteAllText(config, json.ToJsonString());
        return path;
    }

    [Theory]
    [InlineData("vocab_size", 2147483647)]          // 2^31 − 1 rows of the embedding: 512 GiB in float32
    [InlineData("num_hidden_layers", 1000000000)]   // also: no loop over a billion layers to count them
    [InlineData("intermediate_size", 2000000000)]
    public void Sizes_beyond_the_checkpoint_are_refused_before_the_model_is_built(string field, int value)
    {
        using var dir = new TempDirectory();
        string path = SavedModel(dir, j => j[field] = value);
        var e = Assert.Throws<ModelFormatException>(() => ModelDirectory.Load(path).Dispose());
        Assert.StartsWith(Path.Combine(path, ModelDirectory.ConfigFileName) + ": the sizes (", e.Message);
        Assert.Contains($"{field} {value}", e.Message);
        Assert.Contains("but the checkpoint holds", e.Message);
    }

    [Fact]
    public void Parameter_count_in_closed_form_matches_the_modules_of_sparse_and_dense_layer_mixes()
    {
        // Every other layer sparse, layer 1 forced dense (listed twice), layer 9 listed though absent.
        var config = ModelTestKit.Config(ModelType.Qwen3Moe, edit: j =>
        {
            j["num_hidden_layers"] = 4;
            j["decoder_sparse_step"] = 2;
            j["mlp_only_layers"] = new JsonArray(1, 1, 9);
        });
        Assert.Equal(new[] { false, false, false, true }, Enumerable.Range(0, 4).Select(config.IsMoeLayer));
        using var lm = new CausalLm(config);
        Assert.Equal(lm.parameters().Sum(p => p.numel()), config.ParameterCount());
    }

    [Fact]
    public void A_parameter_count_past_long_overflows_instead_of_wrapping()
    {
        var config = ModelTestKit.Config(ModelType.Qwen3) with { HiddenSize = int.MaxValue, IntermediateSize = int.MaxValue, NumHiddenLayers = int.MaxValue };
        Assert.Throws<OverflowException>(() => config.ParameterCount());
    }

    [Theory]
    [InlineData("{\"rope_type\": 5}", "field \"rope_scaling.rope_type\" must be a string")]
    [InlineData("{\"type\": \"linear\", \"factor\": \"2\"}", "field \"rope_scaling.factor\" must be a number")]
    [InlineData("{\"type\": \"linear\", \"factor\": 0}", "field \"rope_scaling.factor\" must be positive and finite")]
    [InlineData("{\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 4, \"high_freq_factor\": 4}", "field \"rope_scaling.high_freq_factor\" must be finite and greater than low_freq_factor")]
    [InlineData("{\"rope_type\": \"llama3\", \"original_max_position_embeddings\": 1.5}", "field \"rope_scaling.original_max_position_embeddings\" must be an integer")]
    [InlineData("{\"rope_type\": \"llama3\", \"original_max_position_embeddings\": [8192]}", "field \"rope_scaling.original_max_position_embeddings\" must be a number")]
    public void Rope_scaling_fields_are_typed_and_checked(string ropeScaling, string message)
    {
        var json = TinyConfigs.Create(ModelType.Llama, ModelSize.Tiny, 61).ToJson();
        json["rope_scaling"] = JsonNode.Parse(ropeScaling);
        var e = Assert.Throws<ModelFormatException>(() => ModelConfig.FromJson(json, "config.json"));
        Assert.StartsWith("config.json: ", e.Message);
        Assert.Contains(message, e.Message);
    }
}
