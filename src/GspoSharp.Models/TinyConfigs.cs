using System.Text.Json.Nodes;
using GspoSharp.Models.Architecture;

namespace GspoSharp.Models;

/// <summary>Model sizes GspoSharp can create from scratch.</summary>
public enum ModelSize
{
    /// <summary>~0.1–0.5 M parameters: tests and the built-in demo (learns in minutes on a CPU).</summary>
    Tiny,
    /// <summary>~1–3 M parameters: a larger policy for the synthetic tasks, still fast on 2 cores.</summary>
    Small,
    /// <summary>The 50M-class shape of the benchmarks, where matmuls dominate: ~48 M parameters with a
    /// 32000-token vocabulary (as the benchmarks use), ~32 M with the 512-token vocabulary of init-model.</summary>
    Bench50M,
}

/// <summary>
/// Changes to the shape of a created model, each null to keep the size's value: deeper models and
/// MoE models with more (and more active) experts, for studies of expert-routing volatility.
/// </summary>
/// <param name="NumHiddenLayers">Decoder layers (config.json <c>num_hidden_layers</c>).</param>
/// <param name="NumExperts">MoE only: experts per layer (<c>num_experts</c>).</param>
/// <param name="NumExpertsPerTok">MoE only: experts each token uses, top-k (<c>num_experts_per_tok</c>).</param>
/// <param name="MoeIntermediateSize">MoE only: width of each expert (<c>moe_intermediate_size</c>).</param>
public sealed record ModelShape(int? NumHiddenLayers = null, int? NumExperts = null, int? NumExpertsPerTok = null, int? MoeIntermediateSize = null)
{
    /// <summary>No change.</summary>
    public static ModelShape Default { get; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> whose message starts with the config.json key of an impossible value.</summary>
    public void Validate(ModelType type)
    {
        if (NumHiddenLayers is < 1 or > 256) throw new ArgumentException($"num_hidden_layers is {NumHiddenLayers}; must be in 1..256.");
        bool moe = type == ModelType.Qwen3Moe;
        string? moeKey = NumExperts is not null ? "num_experts" : NumExpertsPerTok is not null ? "num_experts_per_tok"
            : MoeIntermediateSize is not null ? "moe_intermediate_size" : null;
        if (!moe && moeKey is not null)
            throw new ArgumentException($"{moeKey} applies to qwen3_moe models only, not {ModelConfig.Name(type)}.");
        if (NumExperts is < 1 or > 1024) throw new ArgumentException($"num_experts is {NumExperts}; must be in 1..1024.");
        if (NumExpertsPerTok is < 1) throw new ArgumentException($"num_experts_per_tok is {NumExpertsPerTok}; must be ≥ 1.");
        if (MoeIntermediateSize is < 1) throw new ArgumentException($"moe_intermediate_size is {MoeIntermediateSize}; must be ≥ 1.");
    }
}

/// <summary>Configs of small models in each architecture, written exactly like real config.json files.</summary>
public static class TinyConfigs
{
    /// <summary>The size called <paramref name="name"/> ("tiny", "small", "50m"), or null.</summary>
    public static ModelSize? ParseSize(string name) => name switch
    {
        "tiny" => ModelSize.Tiny,
        "small" => ModelSize.Small,
        "50m" => ModelSize.Bench50M,
        _ => null,
    };

    /// <summary>The config of a <paramref name="size"/> model of <paramref name="type"/> for a vocabulary of <paramref name="vocabSize"/>.</summary>
    /// <remarks><paramref name="shape"/> overrides the depth and the experts of the size.</remarks>
    public static ModelConfig Create(ModelType type, ModelSize size, int vocabSize, int? eosTokenId = null, int? padTokenId = null, ModelShape? shape = null)
    {
        shape ??= ModelShape.Default;
        shape.Validate(type);
        var (hidden, layers, heads, kvHeads, intermediate, experts, moeIntermediate) = size switch
        {
            ModelSize.Tiny => (64, 2, 4, 2, 128, 8, 32),
            ModelSize.Small => (128, 4, 4, 2, 384, 8, 96),
            _ => (512, 10, 8, 4, 1536, 16, 384),
        };
        if (type == ModelType.Qwen3Moe && size == ModelSize.Tiny) layers = 4;   // several MoE layers
        layers = shape.NumHiddenLayers ?? layers;
        experts = shape.NumExperts ?? experts;
        moeIntermediate = shape.MoeIntermediateSize ?? moeIntermediate;
        int topK = shape.NumExpertsPerTok ?? 2;
        if (type == ModelType.Qwen3Moe && topK > experts)
            throw new ArgumentException($"num_experts_per_tok is {topK} but the model has {experts} experts.");
        var json = new JsonObject
        {
            ["architectures"] = new JsonArray(Architecture(type)),
            ["model_type"] = ModelConfig.Name(type),
            ["vocab_size"] = vocabSize,
            ["hidden_size"] = hidden,
            ["intermediate_size"] = intermediate,
            ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = heads,
            ["num_key_value_heads"] = kvHeads,
            ["head_dim"] = hidden / heads,
            ["hidden_act"] = "silu",
            ["max_position_embeddings"] = 2048,
            ["rms_norm_eps"] = 1e-6,
            ["rope_theta"] = 10000.0,
            ["rope_scaling"] = null,
            ["tie_word_embeddings"] = true,
            ["attention_dropout"] = 0.0,
            ["initializer_range"] = 0.02,
            ["torch_dtype"] = "float32",
            ["use_cache"] = true,
        };
        if (type != ModelType.Qwen2) json["attention_bias"] = false;
        if (type == ModelType.Qwen2) json["use_sliding_window"] = false;
        if (type == ModelType.Llama) json["mlp_bias"] = false;
        if (eosTokenId is { } eos) json["eos_token_id"] = eos;
        if (padTokenId is { } pad) json["pad_token_id"] = pad;
        if (type == ModelType.Qwen3Moe)
        {
            json["num_experts"] = experts;
            json["num_experts_per_tok"] = topK;
            json["moe_intermediate_size"] = moeIntermediate;
            json["decoder_sparse_step"] = 1;
            json["mlp_only_layers"] = new JsonArray();
            json["norm_topk_prob"] = true;
            json["router_aux_loss_coef"] = 0.001;
        }
        return ModelConfig.FromJson(json, "built-in " + ModelConfig.Name(type) + " config");
    }

    static string Architecture(ModelType type) => type switch
    {
        ModelType.Qwen3 => "Qwen3ForCausalLM",
        ModelType.Qwen3Moe => "Qwen3MoeForCausalLM",
        ModelType.Qwen2 => "Qwen2ForCausalLM",
        _ => "LlamaForCausalLM",
    };
}
