using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>With the mini-batch's totals, micro-batch losses add up exactly to the mini-batch loss.</summary>
public class GradientAccumulationTests
{
    [Theory]
    [InlineData(ImportanceSamplingLevel.Sequence, LossType.Grpo)]
    [InlineData(ImportanceSamplingLevel.Token, LossType.Dapo)]
    [InlineData(ImportanceSamplingLevel.SequenceToken, LossType.DrGrpo)]
    public void Micro_batches_with_the_mini_batch_totals_sum_to_the_whole(ImportanceSamplingLevel level, LossType lossType)
    {
        var rng = new Random(3);
        int[] lengths = { 3, 0, 5, 2, 4, 1 };
        double[][] logp = lengths.Select(n => Enumerable.Range(0, n).Select(_ => -2 * rng.NextDouble()).ToArray()).ToArray();
        double[][] old = logp.Select(r => r.Select(v => v + 0.001 * (rng.NextDouble() - 0.5)).ToArray()).ToArray();
        double[] adv = { 0.5, 1, -1.2, 0.3, -0.4, 2 };
        var options = new PolicyObjectiveOptions { ImportanceSamplingLevel = level, LossType = lossType, MaxCompletionLength = 8 };

        using var scope = NewDisposeScope();
        long width = 5;
        var whole = Padded(logp, width, 0, ScalarType.Float64).requires_grad_();
        var oldT = Padded(old, width, 0, ScalarType.Float64);
        var advT = tensor(adv, ScalarType.Float64);
        var mask = Mask(logp, width);
        using (var full = PolicyObjective.Compute(new PolicyBatch(whole, oldT, advT, mask), options)) full.Loss.backward();
        var fullGrad = whole.grad!.clone();
        double fullLoss = PolicyObjective.Compute(new PolicyBatch(whole, oldT, advT, mask), options).Loss.item<double>();

        var split = Padded(logp, width, 0, ScalarType.Float64).requires_grad_();
        var totals = new LossTotals(lengths.Count(n => n > 0), lengths.Sum(), lengths.Length);
        double summed = 0;
        foreach (var rows in new[] { new long[] { 0, 1, 2 }, new long[] { 3, 4, 5 } })
        {
            var index = tensor(rows);
            using var part = PolicyObjective.Compute(new PolicyBatch(split.index_select(0, index), oldT.index_select(0, index),
                advT.index_select(0, index), mask.index_select(0, index)) { Totals = totals }, options);
            part.Loss.backward();
            summed += part.Loss.item<double>();
        }
        AssertClose(fullLoss, summed, 1e-15, "loss");
        Assert.True((fullGrad - split.grad!).abs().max().item<double>() <= 1e-15, "gradients");
    }
}
