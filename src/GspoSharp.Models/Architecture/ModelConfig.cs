using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models.Json;

namespace GspoSharp.Models.Architecture;

/// <summary>Decoder families GspoSharp implements, by <c>config.json</c> <c>model_type</c>.</summary>
public enum ModelType
{
    /// <summary>Qwen3: q/k RMSNorm, optional attention bias.</summary>
    Qwen3,
    /// <summary>Qwen3-MoE: Qwen3 with sparse mixture-of-experts MLPs.</summary>
    Qwen3Moe,
    /// <summary>Qwen2 / Qwen2.5: q/k/v biases, no q/k norm.</summary>
    Qwen2,
    /// <summary>Llama family (Llama 3.x, SmolLM2, …): no biases unless configured.</summary>
    Llama,
}

/// <summary>
/// RoPE frequency scaling from <c>rope_scaling</c>: none, "linear" (positions divided by a factor),
/// or "llama3" (Llama 3.1/3.2's wavelength-dependent scaling).
/// </summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4,
    int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// A Hugging Face <c>config.json</c> for the decoders GspoSharp implements, validated: an unknown
/// <c>model_type</c>, or any field whose value changes the computation in a way not implemented
/// here (sliding windows, other RoPE scalings, activations other than SiLU, dropout), is refused
/// with an error naming the file and field rather than silently computing something else. The
/// original JSON is kept so that saving writes back every field unchanged.
/// </summary>
public sealed record ModelConfig
{
    /// <summary><c>model_type</c>.</summary>
    public required ModelType ModelType { get; init; }
    /// <summary><c>vocab_size</c>: rows of the embedding and of the output head.</summary>
    public required int VocabSize { get; init; }
    /// <summary><c>hidden_size</c>: the residual stream width d.</summary>
    public required int HiddenSize { get; init; }
    /// <summary>Width of the dense SwiGLU MLP.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary><c>num_hidden_layers</c>.</summary>
    public required int NumHiddenLayers { get; init; }
    /// <summary><c>num_attention_heads</c>: query heads.</summary>
    public required int NumAttentionHeads { get; init; }
    /// <summary><c>num_key_value_heads</c>: key/value heads (grouped-query attention when fewer than query heads).</summary>
    public required int NumKeyValueHeads { get; init; }
    /// <summary><c>head_dim</c>, or hidden_size / num_attention_heads when absent.</summary>
    public required int HeadDim { get; init; }
    /// <summary><c>rms_norm_eps</c>.</summary>
    public double RmsNormEps { get; init; } = 1e-6;
    /// <summary><c>rope_theta</c>: RoPE base.</summary>
    public double RopeTheta { get; init; } = 10000;
    /// <summary><c>rope_scaling</c>, null for plain RoPE.</summary>
    public RopeScaling? RopeScaling { get; init; }
    /// <summary><c>max_position_embeddings</c>: the context length.</summary>
    public int MaxPositionEmbeddings { get; init; } = 4096;
    /// <summary><c>tie_word_embeddings</c>: the output head is the embedding matrix (one parameter).</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q, k, v (and o for Qwen3 / Llama <c>attention_bias</c>; Qwen2 has q/k/v bias, no o bias).</summary>
    public bool QkvBias { get; init; }
    /// <summary>Bias on o_proj (<c>attention_bias</c> for Qwen3 and Llama).</summary>
    public bool OutputBias { get; init; }
    /// <summary>Llama <c>mlp_bias</c>.</summary>
    public bool MlpBias { get; init; }
    /// <summary>Per-head RMSNorm on q and k before RoPE (Qwen3, Qwen3-MoE).</summary>
    public bool QkNorm { get; init; }
    /// <summary><c>num_experts</c> (Qwen3-MoE).</summary>
    public int NumExperts { get; init; }
    /// <summary><c>num_experts_per_tok</c>: k of the top-k routing.</summary>
    public int NumExpertsPerTok { get; init; }
    /// <summary><c>moe_intermediate_size</c>: width of each expert's SwiGLU MLP.</summary>
    public int MoeIntermediateSize { get; init; }
    /// <summary><c>decoder_sparse_step</c>: every n-th layer is sparse.</summary>
    public int DecoderSparseStep { get; init; } = 1;
    /// <summary><c>mlp_only_layers</c>: layers kept dense.</summary>
    public IReadOnlyList<int> MlpOnlyLayers { get; init; } = Array.Empty<int>();
    /// <summary><c>norm_topk_prob</c>: renormalise the top-k router probabilities to sum to 1.</summary>
    public bool NormTopkProb { get; init; }
    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; }
    /// <summary><c>eos_token_id</c> (one id or several).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    /// <summary><c>pad_token_id</c>.</summary>
    public int? PadTokenId { get; init; }
    /// <summary>The checkpoint's storage dtype name, e.g. "bfloat16": <c>dtype</c> (what transformers ≥ 4.56 writes), else
    /// <c>torch_dtype</c> (earlier versions), the order in which transformers reads them.</summary>
    public string TorchDtype { get; init; } = "float32";
    /// <summary>The config.json object as read (or as built), written back by <see cref="ToJson"/>.</summary>
    public JsonObject Json { get; init; } = new();

    /// <summary>True for layer <paramref name="layer"/> when it uses a sparse MoE block (HF Qwen3-MoE rule).</summary>
    public bool IsMoeLayer(int layer) =>
        ModelType == ModelType.Qwen3Moe && NumExperts > 0 && !MlpOnlyLayers.Contains(layer) &&
        (layer + 1) % DecoderSparseStep == 0;

    /// <summary>True when any layer uses a sparse MoE block (<see cref="IsMoeLayer"/>): the model routes tokens to experts.</summary>
    public bool HasMoeLayers => MoeLayerCount() > 0;

    /// <summary>The "model_type" string of <paramref name="type"/>.</summary>
    public static string Name(ModelType type) => type switch
    {
        ModelType.Qwen3 => "qwen3",
        ModelType.Qwen3Moe => "qwen3_moe",
        ModelType.Qwen2 => "qwen2",
        _ => "llama",
    };

    /// <summary>The model type called <paramref name="name"/> ("qwen3", "qwen3_moe", "qwen2", "llama"), or null.</summary>
    public static ModelType? ParseType(string name) => name switch
    {
        "qwen3" => ModelType.Qwen3,
        "qwen3_moe" => ModelType.Qwen3Moe,
        "qwen2" => ModelType.Qwen2,
        "llama" => ModelType.Llama,
        _ => null,
    };

    /// <summary>Reads and validates <paramref name="path"/> (a config.json).</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found.");
        JsonNode? node;
        try
        {
            node = StrictJson.Node(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
        if (node is not JsonObject json) throw new ModelFormatException($"{path}: expected a JSON object.");
        return FromJson(json, path);
    }

    /// <summary>Validates a parsed config.json; <paramref name="source"/> names it in errors.</summary>
    public static ModelConfig FromJson(JsonObject json, string source)
    {
        var f = new ConfigFields(json, source);
        string typeName = f.String("model_type") ?? throw f.Error("model_type", "is missing");
        ModelType type = ParseType(typeName) ?? throw f.Error("model_type", $"is \"{typeName}\"; supported: qwen3, qwen3_moe, qwen2, llama");

        string act = f.String("hidden_act") ?? "silu";
        if (act != "silu") throw f.Error("hidden_act", $"is \"{act}\"; only silu (SwiGLU) is implemented");
        if (f.Bool("use_sliding_window") == true) throw f.Error("use_sliding_window", "is true; sliding-window attention is not implemented");
        foreach (var dropout in new[] { "attention_dropout", "hidden_dropout" })
            if (f.Double(dropout) is > 0) throw f.Error(dropout, "is not 0; dropout is not implemented (it would make log-probs random)");
        if (f.Int("pretraining_tp") is > 1 && type != ModelType.Llama) throw f.Error("pretraining_tp", "is not 1");

        int hidden = f.Positive("hidden_size");
        int heads = f.Positive("num_attention_heads");
        int kvHeads = f.Int("num_key_value_heads") ?? heads;
        if (kvHeads <= 0 || heads % kvHeads != 0)
            throw f.Error("num_key_value_heads", $"is {kvHeads}; it must divide num_attention_heads ({heads})");
        int headDim = f.Int("head_dim") ?? (hidden % heads == 0 ? hidden / heads : throw f.Error("hidden_size", "is not a multiple of num_attention_heads and head_dim is missing"));
        if (headDim <= 0 || headDim % 2 != 0) throw f.Error("head_dim", $"is {headDim}; RoPE needs a positive even head dimension");

        bool attentionBias = f.Bool("attention_bias") ?? false;
        var config = new ModelConfig
        {
            ModelType = type,
            VocabSize = f.Positive("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = f.Positive("intermediate_size"),
            NumHiddenLayers = f.Positive("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = f.Double("rms_norm_eps") ?? 1e-6,
            RopeTheta = f.Double("rope_theta") ?? 10000,
            RopeScaling = ParseRopeScaling(f),
            MaxPositionEmbeddings = f.Int("max_position_embeddings") ?? 4096,
            TieWordEmbeddings = f.Bool("tie_word_embeddings") ?? false,
            QkvBias = type == ModelType.Qwen2 || attentionBias,
            OutputBias = type != ModelType.Qwen2 && attentionBias,
            MlpBias = type == ModelType.Llama && (f.Bool("mlp_bias") ?? false),
            QkNorm = type is ModelType.Qwen3 or ModelType.Qwen3Moe,
            BosTokenId = f.Int("bos_token_id"),
            EosTokenIds = f.Ints("eos_token_id") ?? Array.Empty<int>(),
            PadTokenId = f.Int("pad_token_id"),
            TorchDtype = f.String("dtype") ?? f.String("torch_dtype") ?? "float32",
            Json = (JsonObject)json.DeepClone(),
        };
        if (type == ModelType.Qwen3Moe)
        {
            config = config with
            {
                NumExperts = f.Positive("num_experts"),
                NumExpertsPerTok = f.Positive("num_experts_per_tok"),
                MoeIntermediateSize = f.Positive("moe_intermediate_size"),
                DecoderSparseStep = f.Int("decoder_sparse_step") ?? 1,
                MlpOnlyLayers = f.Ints("mlp_only_layers") ?? Array.Empty<int>(),
                NormTopkProb = f.Bool("norm_topk_prob") ?? false,
            };
            if (config.NumExpertsPerTok > config.NumExperts)
                throw f.Error("num_experts_per_tok", $"is {config.NumExpertsPerTok} but num_experts is {config.NumExperts}");
            if (config.DecoderSparseStep < 1) throw f.Error("decoder_sparse_step", "must be ≥ 1");
        }
        return config;
    }

    static RopeScaling? ParseRopeScaling(ConfigFields f)
    {
        var node = f.Node("rope_scaling");
        if (node is null) return null;
        if (node is not JsonObject o) throw f.Error("rope_scaling", "must be an object or null");
        var r = f.Nested(o, "rope_scaling");
        string? type = r.String("rope_type") ?? r.String("type");
        // Values the frequencies are divided by: a factor that is not positive and finite, or a
        // llama3 high_freq_factor not above low_freq_factor (the smoothing divides by their
        // difference), would make every rotation NaN (transformers only warns about these).
        double Factor(double fallback)
        {
            double factor = r.Double("factor") ?? fallback;
            return factor > 0 && double.IsFinite(factor) ? factor : throw r.Error("factor", "must be positive and finite");
        }
        switch (type)
        {
            case null or "default":
                return null;
            case "linear":
                return new RopeScaling("linear", Factor(1));
            case "llama3":
                double low = r.Double("low_freq_factor") ?? 1, high = r.Double("high_freq_factor") ?? 4;
                if (!(low > 0)) throw r.Error("low_freq_factor", "must be positive");
                if (!(high > low) || double.IsInfinity(high)) throw r.Error("high_freq_factor", "must be finite and greater than low_freq_factor");
                int original = r.Int("original_max_position_embeddings") ?? 8192;
                if (original <= 0) throw r.Error("original_max_position_embeddings", "must be positive");
                return new RopeScaling("llama3", Factor(8), low, high, original);
            default:
                throw f.Error("rope_scaling", $"has rope_type \"{type}\"; implemented: default, linear, llama3");
        }
    }

    /// <summary>The config as config.json: the original object with every field this record owns updated.</summary>
    public JsonObject ToJson()
    {
        var json = (JsonObject)Json.DeepClone();
        json["model_type"] = Name(ModelType);
        json["vocab_size"] = VocabSize;
        json["hidden_size"] = HiddenSize;
        json["intermediate_size"] = IntermediateSize;
        json["num_hidden_layers"] = NumHiddenLayers;
        json["num_attention_heads"] = NumAttentionHeads;
        json["num_key_value_heads"] = NumKeyValueHeads;
        json["head_dim"] = HeadDim;
        json["rms_norm_eps"] = RmsNormEps;
        json["rope_theta"] = RopeTheta;
        json["max_position_embeddings"] = MaxPositionEmbeddings;
        json["tie_word_embeddings"] = TieWordEmbeddings;
        json["hidden_act"] = "silu";
        // Every transformers version reads torch_dtype (newer ones map it to dtype); a dtype field the
        // file already has is updated too, since it wins over torch_dtype when both are present.
        json["torch_dtype"] = TorchDtype;
        if (json.ContainsKey("dtype")) json["dtype"] = TorchDtype;
        if (ModelType != ModelType.Qwen2) json["attention_bias"] = QkvBias;
        if (ModelType == ModelType.Llama) json["mlp_bias"] = MlpBias;
        if (BosTokenId is { } bos) json["bos_token_id"] = bos;
        if (EosTokenIds.Count == 1) json["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) json["eos_token_id"] = new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (PadTokenId is { } pad) json["pad_token_id"] = pad;
        if (ModelType == ModelType.Qwen3Moe)
        {
            json["num_experts"] = NumExperts;
            json["num_experts_per_tok"] = NumExpertsPerTok;
            json["moe_intermediate_size"] = MoeIntermediateSize;
            json["decoder_sparse_step"] = DecoderSparseStep;
            json["mlp_only_layers"] = new JsonArray(MlpOnlyLayers.Select(i => (JsonNode)i).ToArray());
            json["norm_topk_prob"] = NormTopkProb;
        }
        if (RopeScaling is { } r)
            json["rope_scaling"] = r.Type == "linear"
                ? new JsonObject { ["rope_type"] = "linear", ["factor"] = r.Factor }
                : new JsonObject
                {
                    ["rope_type"] = "llama3", ["factor"] = r.Factor, ["low_freq_factor"] = r.LowFreqFactor,
                    ["high_freq_factor"] = r.HighFreqFactor, ["original_max_position_embeddings"] = r.OriginalMaxPositionEmbeddings,
                };
        return json;
    }

    /// <summary>Number of parameters (embedding counted once when tied).</summary>
    /// <exception cref="OverflowException">The sizes imply more than <see cref="long.MaxValue"/> parameters.</exception>
    public long ParameterCount() => checked((long)ParameterCountEstimate());

    /// <summary>
    /// The number of parameters as a double: exact below 2^53, never overflowing, and computed in
    /// closed form (no loop over layers), so it is safe on sizes nobody has checked yet.
    /// </summary>
    internal double ParameterCountEstimate()
    {
        double d = HiddenSize, q = (double)NumAttentionHeads * HeadDim, kv = (double)NumKeyValueHeads * HeadDim;
        double attention = d * q * 2 + d * kv * 2 + (QkNorm ? 2.0 * HeadDim : 0)
                           + (QkvBias ? q + 2 * kv : 0) + (OutputBias ? d : 0);
        double dense = 3 * d * IntermediateSize + (MlpBias ? 2.0 * IntermediateSize + d : 0);
        double moe = (double)NumExperts * 3 * d * MoeIntermediateSize + (double)NumExperts * d;
        double moeLayers = MoeLayerCount();
        return (double)VocabSize * d * (TieWordEmbeddings ? 1 : 2) + d
               + (double)NumHiddenLayers * (attention + 2 * d) + moeLayers * moe + (NumHiddenLayers - moeLayers) * dense;
    }

    /// <summary>How many layers <see cref="IsMoeLayer"/> holds for: every DecoderSparseStep-th layer, less the mlp_only_layers among them.</summary>
    int MoeLayerCount()
    {
        if (ModelType != ModelType.Qwen3Moe || NumExperts <= 0 || DecoderSparseStep < 1) return 0;
        int sparse = NumHiddenLayers / DecoderSparseStep;
        return sparse - MlpOnlyLayers.Distinct().Count(l => l >= 0 && l < NumHiddenLayers && (l + 1) % DecoderSparseStep == 0);
    }
}
