using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Rollout;

/// <summary>
/// Collects the experts chosen at every position during a rollout — the prompt's from the
/// prefill, each completion token's from the decoding step that consumed it — into buffers
/// indexed by sample, and hands each sample its own record at the end.
/// </summary>
internal sealed class RoutingTrace : IDisposable
{
    readonly Tensor?[] ids;       // per layer [samples, width + maxNew, k]
    readonly Tensor?[] weights;
    readonly int width, samplesPerPrompt;

    public RoutingTrace(ModelConfig config, IReadOnlyList<long[]> prompts, int samplesPerPrompt, int maxNew)
    {
        width = prompts.Max(p => p.Length);
        this.samplesPerPrompt = samplesPerPrompt;
        int rows = prompts.Count * samplesPerPrompt, k = config.NumExpertsPerTok;
        ids = new Tensor?[config.NumHiddenLayers];
        weights = new Tensor?[config.NumHiddenLayers];
        for (int layer = 0; layer < ids.Length; layer++)
            if (config.IsMoeLayer(layer))
            {
                ids[layer] = zeros(new long[] { rows, width + maxNew, k }, ScalarType.Int64).DetachFromDisposeScope();
                weights[layer] = zeros(new long[] { rows, width + maxNew, k }).DetachFromDisposeScope();
            }
    }

    /// <summary>The prefill's record [prompts, width, k] (left-padded), copied to each prompt's samples.</summary>
    public void AddPrompts(RoutingRecord prefill)
    {
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < ids.Length; layer++)
        {
            if (ids[layer] is null) continue;
            var rows = Scalars.Arange(prefill.ExpertIds[layer]!.shape[0]).repeat_interleave(samplesPerPrompt);
            ids[layer]!.narrow(1, 0, width).copy_(prefill.ExpertIds[layer]!.cpu().index_select(0, rows));
            weights[layer]!.narrow(1, 0, width).copy_(prefill.Weights[layer]!.cpu().to_type(ScalarType.Float32).index_select(0, rows));
        }
        prefill.Dispose();
    }

    /// <summary>A decoding step's record [active, 1, k]: row i belongs to sample <paramref name="active"/>[i].</summary>
    public void AddStep(RoutingRecord step, IReadOnlyList<int> active, int stepIndex)
    {
        using var scope = NewDisposeScope();
        var rows = tensor(active.Select(a => (long)a).ToArray());
        for (int layer = 0; layer < ids.Length; layer++)
        {
            if (ids[layer] is null) continue;
            ids[layer]!.narrow(1, width + stepIndex, 1).index_copy_(0, rows, step.ExpertIds[layer]!.cpu());
            weights[layer]!.narrow(1, width + stepIndex, 1).index_copy_(0, rows, step.Weights[layer]!.cpu().to_type(ScalarType.Float32));
        }
        step.Dispose();
    }

    /// <summary>Sample <paramref name="row"/>'s record over prompt + completion[..^1], [1, L, k] per layer.</summary>
    public RoutingRecord ForSample(int row, int promptLength, int completionLength)
    {
        var record = new RoutingRecord(ids.Length);
        using var scope = NewDisposeScope();
        for (int layer = 0; layer < ids.Length; layer++)
        {
            if (ids[layer] is null) continue;
            var prompt = (Start: (long)(width - promptLength), Length: (long)promptLength);
            var parts = new[] { ids[layer]!, weights[layer]! }.Select(buffer =>
            {
                var sample = buffer.narrow(0, row, 1);
                return cat(new[] { sample.narrow(1, prompt.Start, prompt.Length), sample.narrow(1, width, completionLength - 1) }, 1);
            }).ToArray();
            record.Set(layer, parts[0], parts[1]);
        }
        return record;
    }

    public void Dispose()
    {
        foreach (var t in ids.Concat(weights)) t?.Dispose();
    }
}
