using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Serving.Engine;

/// <summary>What the sampler drew for one row.</summary>
internal readonly record struct RowDraw(long Token, float LogProb, (long Id, float LogProb)[]? Top);

/// <summary>
/// Draws one token for each row of a batch whose rows belong to different requests: rows that share
/// temperature, top-k and top-p are drawn together by <see cref="TokenSampler.Sample"/> — the rollout
/// engine's own function, so a request draws exactly as <c>gspo generate</c> would — each with the
/// uniform of its own random stream.
/// <para>Reported log-probs are the processed ones (vLLM's <c>processed_logprobs</c>): log softmax of the
/// logits after temperature, top-k and top-p, renormalised over the kept tokens; a greedy row reports
/// the untempered distribution (τ = 1). A truncated token has −∞, reported as −9999 as vLLM does.</para>
/// </summary>
internal static class RowSampler
{
    public static RowDraw[] Draw(Tensor logits, IReadOnlyList<SequenceParams> rows, double[] uniforms)
    {
        using var scope = NewDisposeScope();
        var draws = new RowDraw[rows.Count];
        foreach (var group in Enumerable.Range(0, rows.Count).GroupBy(i => rows[i].SamplerKey))
        {
            var members = group.ToArray();
            var first = rows[members[0]];
            var options = new SamplingOptions { Temperature = first.Temperature, TopK = first.TopK, TopP = first.TopP };
            var selected = members.Length == rows.Count ? logits
                : logits.index_select(0, tensor(members.Select(i => (long)i).ToArray(), device: logits.device));
            var (tokens, _) = TokenSampler.Sample(selected, options, members.Select(i => uniforms[i]).ToArray());
            long[] ids = tokens.cpu().data<long>().ToArray();
            int topCount = members.Max(i => rows[i].Logprobs ?? -1);
            float[]? chosen = null;
            long[]? topIds = null;
            float[]? topValues = null;
            if (topCount >= 0)
            {
                var processed = Processed(selected, options);
                chosen = processed.gather(1, tokens.unsqueeze(1)).squeeze(1).to_type(ScalarType.Float32).cpu().data<float>().ToArray();
                if (topCount > 0)
                {
                    var (values, indices) = processed.topk(Math.Min(topCount, (int)processed.shape[1]), dim: -1);
                    topIds = indices.cpu().data<long>().ToArray();
                    topValues = values.to_type(ScalarType.Float32).cpu().data<float>().ToArray();
                }
            }
            int width = topIds is null ? 0 : topIds.Length / members.Length;
            for (int j = 0; j < members.Length; j++)
            {
                var p = rows[members[j]];
                (long, float)[]? top = null;
                if (p.Logprobs is > 0 && topIds is not null)
                    top = Enumerable.Range(0, Math.Min(p.Logprobs.Value, width)).Select(k => (topIds[j * width + k], Finite(topValues![j * width + k]))).ToArray();
                draws[members[j]] = new RowDraw(ids[j], chosen is null ? float.NaN : Finite(chosen[j]), top);
            }
        }
        return draws;
    }

    /// <summary>log softmax over the tokens that survive temperature, top-k and top-p, renormalised.</summary>
    static Tensor Processed(Tensor logits, SamplingOptions options)
    {
        var shifted = logits - logits.amax(new long[] { -1 }, keepdim: true);
        if (options.Temperature > 0)
        {
            using var temperature = options.Temperature.ToScalar();
            shifted = shifted.div(temperature);
        }
        return TokenSampler.Truncate(shifted.log_softmax(-1), options).log_softmax(-1);
    }

    /// <summary>JSON has no −∞: vLLM reports −9999 for a token the sampler cannot draw.</summary>
    static float Finite(float value) => float.IsNegativeInfinity(value) || value < -9999f ? -9999f : value;
}
