using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;

namespace GspoSharp.Tests.Models.Architecture;

public class ModelConfigTests
{
    static JsonObject Qwen3Json() => TinyConfigs.Create(ModelType.Qwen3, ModelSize.Tiny, 100).ToJson();

    static string Error(Action<JsonObject> edit)
    {
        var json = Qwen3Json();
        edit(json);
        return Assert.Throws<ModelFormatException>(() => ModelConfig.FromJson(json, "m/config.json")).Message;
    }

    [Fact]
    public void Unimplemented_values_are_refused_naming_the_file_and_field()
    {
        Assert.Equal("m/config.json: field \"model_type\" is \"mistral\"; supported: qwen3, qwen3_moe, qwen2, llama.", Error(j => j["model_type"] = "mistral"));
        Assert.Contains("field \"use_sliding_window\" is true", Error(j => j["use_sliding_window"] = true));
        Assert.Contains("field \"rope_scaling\" has rope_type \"yarn\"", Error(j => j["rope_scaling"] = new JsonObject { ["rope_type"] = "yarn", ["factor"] = 4.0 }));
        Assert.Contains("field \"hidden_act\" is \"gelu\"", Error(j => j["hidden_act"] = "gelu"));
        Assert.Contains("field \"num_key_value_heads\" is 3; it must divide num_attention_heads (4)", Error(j => j["num_key_value_heads"] = 3));
        Assert.Contains("field \"attention_dropout\" is not 0", Error(j => j["attention_dropout"] = 0.1));
        Assert.Contains("field \"hidden_size\" is missing", Error(j => j.Remove("hidden_size")));
        Assert.Contains("field \"vocab_size\" must be a number; got \"many\"", Error(j => j["vocab_size"] = "many"));
        Assert.Contains("field \"num_hidden_layers\" must be an integer; got 2.5", Error(j => j["num_hidden_layers"] = 2.5));
        Assert.Contains("field \"head_dim\" is 15", Error(j => j["head_dim"] = 15));
    }

    [Fact]
    public void Moe_fields_are_read_and_checked()
    {
        var json = TinyConfigs.Create(ModelType.Qwen3Moe, ModelSize.Tiny, 100).ToJson();
        json["mlp_only_layers"] = new JsonArray(1);
        json["decoder_sparse_step"] = 1;
        var config = ModelConfig.FromJson(json, "moe");
        Assert.Equal(new[] { true, false, true, true }, Enumerable.Range(0, 4).Select(config.IsMoeLayer));
        json["num_experts_per_tok"] = 9;
        Assert.Contains("field \"num_experts_per_tok\" is 9 but num_experts is 8",
            Assert.Throws<ModelFormatException>(() => ModelConfig.FromJson(json, "moe")).Message);
    }

    [Fact]
    public void Real_config_files_of_the_supported_families_parse()
    {
        // Field sets as published with Qwen3-0.6B, Qwen2.5-0.5B-Instruct and Llama-3.2-1B (values abridged).
        var qwen3 = ModelConfig.FromJson(JsonNode.Parse("""
            {"architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 151643,
             "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024, "initializer_range": 0.02,
             "intermediate_size": 3072, "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
             "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
             "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
             "torch_dtype": "bfloat16", "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false,
             "vocab_size": 151936}
            """)!.AsObject(), "qwen3");
        Assert.Equal(128, qwen3.HeadDim);
        Assert.True(qwen3.QkNorm && qwen3.TieWordEmbeddings && !qwen3.QkvBias);
        Assert.Equal(596_049_920, qwen3.ParameterCount());   // Qwen3-0.6B: 0.6B with the tied embedding counted once

        var qwen25 = ModelConfig.FromJson(JsonNode.Parse("""
            {"architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643, "eos_token_id": 151645,
             "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02, "intermediate_size": 4864,
             "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "qwen2", "num_attention_heads": 14,
             "num_hidden_layers": 24, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
             "sliding_window": 32768, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true,
             "use_sliding_window": false, "vocab_size": 151936}
            """)!.AsObject(), "qwen2.5");
        Assert.Equal(64, qwen25.HeadDim);
        Assert.True(qwen25.QkvBias && !qwen25.OutputBias && !qwen25.QkNorm);
        Assert.Equal(494_032_768, qwen25.ParameterCount());  // Qwen2.5-0.5B: "0.49B"

        var llama = ModelConfig.FromJson(JsonNode.Parse("""
            {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0, "bos_token_id": 128000,
             "eos_token_id": [128001, 128008, 128009], "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
             "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
             "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8, "pretraining_tp": 1,
             "rms_norm_eps": 1e-05, "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
             "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "rope_theta": 500000.0,
             "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 128256}
            """)!.AsObject(), "llama-3.2");
        Assert.Equal(new[] { 128001, 128008, 128009 }, llama.EosTokenIds);
        Assert.Equal("llama3", llama.RopeScaling!.Type);
        Assert.Equal(1_235_814_400, llama.ParameterCount());  // Llama-3.2-1B: 1.24B
    }

    [Fact]
    public void Saving_writes_every_field_back()
    {
        var json = Qwen3Json();
        json["transformers_version"] = "4.51.0";
        json["custom_field"] = new JsonObject { ["kept"] = true };
        var written = ModelConfig.FromJson(json, "c").ToJson();
        Assert.True(JsonNode.DeepEquals(json, written), written.ToJsonString());
    }

    [Fact]
    public void Missing_or_malformed_files_are_named()
    {
        using var dir = new TempDirectory();
        Assert.Contains("config.json: file not found", Assert.Throws<ModelFormatException>(() => ModelConfig.Load(Path.Combine(dir.Path, "config.json"))).Message);
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), "{\n  \"model_type\": \"qwen3\",\n  oops\n}");
        Assert.Contains("config.json: invalid JSON at line 3", Assert.Throws<ModelFormatException>(() => ModelConfig.Load(Path.Combine(dir.Path, "config.json"))).Message);
    }
}
