using GspoSharp.Objectives;

namespace GspoSharp.Tests.Objectives;

/// <summary>Builds padded tensors from jagged responses, and runs the objective with autograd.</summary>
internal static class Batches
{
    /// <summary>Pads rows to <paramref name="width"/> with <paramref name="pad"/>.</summary>
    internal static Tensor Padded(double[][] rows, long width, double pad, ScalarType dtype)
    {
        var data = new double[rows.Length * width];
        for (int i = 0; i < rows.Length; i++)
            for (int t = 0; t < width; t++)
                data[i * width + t] = t < rows[i].Length ? rows[i][t] : pad;
        return tensor(data, new long[] { rows.Length, width }, ScalarType.Float64).to_type(dtype);
    }

    internal static Tensor Mask(double[][] rows, long width) =>
        Padded(rows.Select(r => r.Select(_ => 1.0).ToArray()).ToArray(), width, 0, ScalarType.Float64).to_type(ScalarType.Bool);

    /// <summary>Result of one objective evaluation, copied to the host.</summary>
    internal sealed record Run(double Loss, double[][] Gradient, double[,] PaddedGradient, PolicyLossStats Stats);

    /// <summary>
    /// Evaluates the objective on the responses padded to <paramref name="width"/> (default: the
    /// longest) with <paramref name="pad"/> at every padded position of every input, and returns
    /// the loss, the gradient w.r.t. the current log-probs, and the metrics.
    /// </summary>
    internal static Run Evaluate(PolicyObjectiveOptions options, double[][] logp, double[][] old,
        object advantages, double[][]? reference = null, long? width = null, double pad = 0,
        ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        long w = width ?? Math.Max(1, logp.Max(r => r.Length));
        var lp = Padded(logp, w, pad, dtype).requires_grad_();
        var adv = advantages switch
        {
            double[] perSequence => tensor(perSequence, ScalarType.Float64).to_type(dtype),
            double[][] perToken => Padded(perToken, w, pad, dtype),
            _ => throw new ArgumentException("advantages must be double[] or double[][]"),
        };
        var batch = new PolicyBatch(lp, Padded(old, w, pad, dtype), adv, Mask(logp, w))
        {
            RefLogProbs = reference is null ? null : Padded(reference, w, pad, dtype),
        };
        using var result = PolicyObjective.Compute(batch, options);
        result.Loss.backward();
        var g = lp.grad!.to_type(ScalarType.Float64).cpu();
        var padded = new double[logp.Length, w];
        for (int i = 0; i < logp.Length; i++)
            for (int t = 0; t < w; t++)
                padded[i, t] = g[i, t].item<double>();
        var gradient = logp.Select((r, i) => r.Select((_, t) => padded[i, t]).ToArray()).ToArray();
        return new Run(result.Loss.to_type(ScalarType.Float64).item<double>(), gradient, padded, result.ReadMetrics());
    }

    /// <summary>|expected − actual| ≤ tolerance · max(1, |expected|): absolute below 1, relative above.</summary>
    internal static void AssertClose(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)),
            $"{what}: expected {expected:R}, got {actual:R} (|diff| {Math.Abs(expected - actual):E2} > {tolerance:E1})");

    internal static void AssertClose(double[][] expected, double[][] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            for (int t = 0; t < expected[i].Length; t++)
                AssertClose(expected[i][t], actual[i][t], tolerance, $"{what}[{i}][{t}]");
    }

    internal static void AssertClose(PolicyLossStats expected, PolicyLossStats actual, double tolerance)
    {
        foreach (var property in typeof(PolicyLossStats).GetProperties())
        {
            var e = Convert.ToDouble(property.GetValue(expected) ?? double.NaN);
            var a = Convert.ToDouble(property.GetValue(actual) ?? double.NaN);
            if (double.IsNaN(e)) Assert.True(double.IsNaN(a), $"{property.Name}: expected none, got {a}");
            else AssertClose(e, a, tolerance, property.Name);
        }
    }
}
