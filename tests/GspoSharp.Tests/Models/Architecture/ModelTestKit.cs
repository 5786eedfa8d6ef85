using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>Small models with weights far from initialisation, so that numerical checks bite.</summary>
internal static class ModelTestKit
{
    public static readonly ModelType[] AllTypes = { ModelType.Qwen3, ModelType.Qwen3Moe, ModelType.Qwen2, ModelType.Llama };

    /// <summary>A tiny config of <paramref name="type"/> with fields overridden.</summary>
    public static ModelConfig Config(ModelType type, int vocab = 61, Action<JsonObject>? edit = null)
    {
        var json = TinyConfigs.Create(type, ModelSize.Tiny, vocab).ToJson();
        edit?.Invoke(json);
        return ModelConfig.FromJson(json, "test config");
    }

    /// <summary>A model whose every parameter is random: weights N(0, 0.25), norm weights 1 ± 0.2, biases N(0, 0.1).</summary>
    public static CausalLm RandomModel(ModelConfig config, long seed = 3, ScalarType dtype = ScalarType.Float32)
    {
        var lm = new CausalLm(config, dtype);
        using var noGrad = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var (name, p) in lm.named_parameters())
        {
            using var scope = NewDisposeScope();
            var noise = randn(p.shape, generator: generator).to_type(dtype);
            if (name.EndsWith("norm.weight")) p.copy_(1 + 0.2 * noise);
            else if (name.EndsWith(".bias")) p.copy_(0.1 * noise);
            else p.copy_(0.25 * noise);
        }
        return lm;
    }

    public static Dictionary<string, Tensor> Parameters(CausalLm lm) =>
        lm.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);

    public static double[] Row(Tensor t) => t.to_type(ScalarType.Float64).cpu().data<double>().ToArray();

    /// <summary>max |a − b| over two tensors of the same shape.</summary>
    public static double MaxDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return (a.to_type(ScalarType.Float64) - b.to_type(ScalarType.Float64)).abs().max().item<double>();
    }
}
