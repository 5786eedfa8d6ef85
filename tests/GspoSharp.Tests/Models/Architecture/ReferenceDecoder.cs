using GspoSharp.Models.Architecture;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>
/// An independent float64 implementation of the decoder, written from the Hugging Face model
/// definitions with plain loops over arrays (no TorchSharp), for one unpadded sequence. Reads the
/// raw weights by their checkpoint names.
/// </summary>
internal sealed class ReferenceDecoder(ModelConfig config, IReadOnlyDictionary<string, Tensor> parameters)
{
    double[] W(string name) => parameters[name].to_type(ScalarType.Float64).data<double>().ToArray();
    bool Has(string name) => parameters.ContainsKey(name);

    /// <summary>Logits [T][V] for token ids [T].</summary>
    public double[][] Logits(int[] ids)
    {
        int d = config.HiddenSize, T = ids.Length;
        var embed = W("model.embed_tokens.weight");
        var x = ids.Select(id => embed.Skip(id * d).Take(d).ToArray()).ToArray();
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            string p = $"model.layers.{layer}.";
            var normed = x.Select(v => RmsNorm(v, W(p + "input_layernorm.weight"))).ToArray();
            var attention = Attention(normed, p + "self_attn.");
            for (int t = 0; t < T; t++) x[t] = Add(x[t], attention[t]);
            var normed2 = x.Select(v => RmsNorm(v, W(p + "post_attention_layernorm.weight"))).ToArray();
            for (int t = 0; t < T; t++)
                x[t] = Add(x[t], config.IsMoeLayer(layer) ? Moe(normed2[t], p + "mlp.") : Mlp(normed2[t], p + "mlp."));
        }
        var head = Has("lm_head.weight") ? W("lm_head.weight") : embed;
        return x.Select(v => Linear(RmsNorm(v, W("model.norm.weight")), head, null, config.VocabSize)).ToArray();
    }

    double[] RmsNorm(double[] v, double[] weight)
    {
        double ms = v.Sum(a => a * a) / v.Length;
        double scale = 1 / Math.Sqrt(ms + config.RmsNormEps);
        return v.Select((a, i) => a * scale * weight[i]).ToArray();
    }

    static double[] Linear(double[] v, double[] weight, double[]? bias, int outputs)
    {
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double s = bias?[o] ?? 0;
            for (int i = 0; i < v.Length; i++) s += weight[o * v.Length + i] * v[i];
            y[o] = s;
        }
        return y;
    }

    double[]? Bias(string name) => Has(name) ? W(name) : null;

    static double[] Add(double[] a, double[] b) => a.Select((v, i) => v + b[i]).ToArray();

    double[][] Attention(double[][] x, string p)
    {
        int T = x.Length, H = config.NumAttentionHeads, Hkv = config.NumKeyValueHeads, D = config.HeadDim;
        double[][] Project(string name, int heads) => x.Select(v => Linear(v, W(p + name + ".weight"), Bias(p + name + ".bias"), heads * D)).ToArray();
        var q = Project("q_proj", H);
        var k = Project("k_proj", Hkv);
        var v = Project("v_proj", Hkv);
        for (int t = 0; t < T; t++)
        {
            if (config.QkNorm)
            {
                q[t] = PerHead(q[t], H, head => RmsNorm(head, W(p + "q_norm.weight")));
                k[t] = PerHead(k[t], Hkv, head => RmsNorm(head, W(p + "k_norm.weight")));
            }
            q[t] = PerHead(q[t], H, head => Rope(head, t));
            k[t] = PerHead(k[t], Hkv, head => Rope(head, t));
        }
        var output = new double[T][];
        for (int t = 0; t < T; t++)
        {
            output[t] = new double[H * D];
            for (int h = 0; h < H; h++)
            {
                int g = h / (H / Hkv);
                var scores = new double[t + 1];
                for (int j = 0; j <= t; j++)
                {
                    double s = 0;
                    for (int i = 0; i < D; i++) s += q[t][h * D + i] * k[j][g * D + i];
                    scores[j] = s / Math.Sqrt(D);
                }
                double max = scores.Max();
                var weights = scores.Select(s => Math.Exp(s - max)).ToArray();
                double sum = weights.Sum();
                for (int j = 0; j <= t; j++)
                    for (int i = 0; i < D; i++)
                        output[t][h * D + i] += weights[j] / sum * v[j][g * D + i];
            }
        }
        return output.Select(o => Linear(o, W(p + "o_proj.weight"), Bias(p + "o_proj.bias"), config.HiddenSize)).ToArray();
    }

    double[] PerHead(double[] v, int heads, Func<double[], double[]> f)
    {
        int D = config.HeadDim;
        return Enumerable.Range(0, heads).SelectMany(h => f(v.Skip(h * D).Take(D).ToArray())).ToArray();
    }

    /// <summary>Rotate-half RoPE: dimension i pairs with i + D/2, angle = position · θ^(−2i/D) (scaled).</summary>
    double[] Rope(double[] head, int position)
    {
        int D = config.HeadDim, half = D / 2;
        var result = new double[D];
        for (int i = 0; i < half; i++)
        {
            double frequency = 1 / Math.Pow(config.RopeTheta, 2.0 * i / D);
            if (config.RopeScaling is { Type: "linear" } linear) frequency /= linear.Factor;
            if (config.RopeScaling is { Type: "llama3" } s)
            {
                double wavelength = 2 * Math.PI / frequency;
                double low = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor, high = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
                if (wavelength > low) frequency /= s.Factor;
                else if (wavelength >= high)
                {
                    double smooth = (s.OriginalMaxPositionEmbeddings / wavelength - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                    frequency = (1 - smooth) * frequency / s.Factor + smooth * frequency;
                }
            }
            double angle = position * frequency, cos = Math.Cos(angle), sin = Math.Sin(angle);
            result[i] = head[i] * cos - head[i + half] * sin;
            result[i + half] = head[i + half] * cos + head[i] * sin;
        }
        return result;
    }

    double[] Mlp(double[] v, string p, int? width = null)
    {
        int inner = width ?? config.IntermediateSize;
        var gate = Linear(v, W(p + "gate_proj.weight"), Bias(p + "gate_proj.bias"), inner);
        var up = Linear(v, W(p + "up_proj.weight"), Bias(p + "up_proj.bias"), inner);
        var hidden = gate.Select((g, i) => g / (1 + Math.Exp(-g)) * up[i]).ToArray();
        return Linear(hidden, W(p + "down_proj.weight"), Bias(p + "down_proj.bias"), config.HiddenSize);
    }

    double[] Moe(double[] v, string p)
    {
        var logits = Linear(v, W(p + "gate.weight"), null, config.NumExperts);
        double max = logits.Max();
        var probabilities = logits.Select(l => Math.Exp(l - max)).ToArray();
        double sum = probabilities.Sum();
        var chosen = probabilities.Select((pr, e) => (pr / sum, e)).OrderByDescending(c => c.Item1).Take(config.NumExpertsPerTok).ToList();
        double total = config.NormTopkProb ? chosen.Sum(c => c.Item1) : 1;
        var output = new double[config.HiddenSize];
        foreach (var (weight, e) in chosen)
            output = Add(output, Mlp(v, $"{p}experts.{e}.", config.MoeIntermediateSize).Select(o => o * weight / total).ToArray());
        return output;
    }
}
