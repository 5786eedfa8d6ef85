using System.Text.Json.Nodes;
using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>The TorchSharp decoder against the float64 loop implementation, from the same raw weights.</summary>
public class ReferenceParityTests
{
    public static TheoryData<string, ModelType, string> Cases => new()
    {
        { "qwen3, one layer", ModelType.Qwen3, "{}" },
        { "qwen3 with attention bias, untied head", ModelType.Qwen3, """{"attention_bias": true, "tie_word_embeddings": false}""" },
        { "qwen3_moe, one sparse layer, top-2 of 8, renormalised", ModelType.Qwen3Moe, "{}" },
        { "qwen3_moe, not renormalised, top-3", ModelType.Qwen3Moe, """{"norm_topk_prob": false, "num_experts_per_tok": 3}""" },
        { "qwen2 (q/k/v biases), MQA", ModelType.Qwen2, """{"num_key_value_heads": 1}""" },
        { "llama with llama3 RoPE scaling", ModelType.Llama, """{"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 16}, "rope_theta": 500000.0}""" },
        { "llama with linear RoPE scaling and mlp bias", ModelType.Llama, """{"rope_scaling": {"type": "linear", "factor": 2.0}, "mlp_bias": true, "attention_bias": true}""" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void One_layer_logits_equal_the_float64_reference(string name, ModelType type, string overrides)
    {
        var config = Config(type, edit: json =>
        {
            json["num_hidden_layers"] = 1;
            foreach (var (key, value) in JsonNode.Parse(overrides)!.AsObject()) json[key] = value?.DeepClone();
        });
        using var lm = RandomModel(config);
        int[] ids = { 5, 17, 3, 60, 42, 8, 8, 29, 0, 33, 11 };
        using var scope = NewDisposeScope();
        var logits = lm.Logits(lm.Forward(tensor(ids.Select(i => (long)i).ToArray()).unsqueeze(0)))[0];
        var expected = new ReferenceDecoder(config, Parameters(lm)).Logits(ids);

        double largest = expected.SelectMany(r => r).Max(Math.Abs);
        Assert.True(largest > 1, $"{name}: logits must be far from zero for the comparison to bite (max {largest})");
        for (int t = 0; t < ids.Length; t++)
        {
            var actual = Row(logits[t]);
            for (int v = 0; v < config.VocabSize; v++)
                Assert.True(Math.Abs(actual[v] - expected[t][v]) <= 1e-4 * Math.Max(1, Math.Abs(expected[t][v])),
                    $"{name}: logit [{t}, {v}] = {actual[v]}, reference {expected[t][v]}");
        }
    }
}
