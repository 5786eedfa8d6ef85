using CsCheck;
using GspoSharp.Objectives;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>Random shapes, lengths and values (CsCheck; failures print a reproducible seed).</summary>
public class ObjectivePropertyTests
{
    /// <summary>One random batch, fully determined by the generated numbers.</summary>
    public sealed record Case(int Seed, int Responses, double Spread, ImportanceSamplingLevel Level, LossType LossType,
        double Beta, bool PerTokenAdvantages)
    {
        public (double[][] Logp, double[][] Old, double[][] Ref, object Adv, double[][] AdvPerToken) Build()
        {
            var rng = new Random(Seed);
            var logp = Enumerable.Range(0, Responses)
                .Select(_ => Enumerable.Range(0, rng.Next(0, 9)).Select(_ => -8 * rng.NextDouble()).ToArray()).ToArray();
            if (logp.All(r => r.Length == 0)) logp[0] = new[] { -1.0 };
            var old = logp.Select(r => r.Select(v => v + Spread * (2 * rng.NextDouble() - 1)).ToArray()).ToArray();
            var reference = logp.Select(r => r.Select(v => v + 2 * rng.NextDouble() - 1).ToArray()).ToArray();
            var perSequence = logp.Select(_ => 6 * rng.NextDouble() - 3).ToArray();
            var perToken = PerTokenAdvantages
                ? logp.Select(r => r.Select(_ => 6 * rng.NextDouble() - 3).ToArray()).ToArray()
                : ReferenceObjective.Repeat(perSequence, logp);
            return (logp, old, reference, PerTokenAdvantages ? perToken : perSequence, perToken);
        }

        public PolicyObjectiveOptions Options => new()
        {
            ImportanceSamplingLevel = Level, LossType = LossType, Beta = Beta, MaxCompletionLength = 8,
        };
    }

    static readonly Gen<Case> Cases =
        from seed in Gen.Int
        from responses in Gen.Int[1, 6]
        from spread in Gen.OneOf(0.0, 1e-4, 1e-3, 0.1, 1.0, 30.0, 200.0)
        from level in Gen.Enum<ImportanceSamplingLevel>()
        from lossType in Gen.Enum<LossType>()
        from beta in Gen.OneOf(0.0, 0.04)
        from perToken in Gen.Bool
        select new Case(seed, responses, spread, level, lossType, beta,
            perToken && level != ImportanceSamplingLevel.Sequence);

    [Fact]
    public void Loss_and_gradient_equal_the_reference_implementation()
    {
        Cases.Where(c => c.Spread <= 1.0).Sample(c =>
        {
            var (logp, old, reference, adv, advPerToken) = c.Build();
            var options = c.Options;
            var run = Evaluate(options, logp, old, adv, reference);
            var expected = ReferenceObjective.Compute(logp, old, advPerToken, reference, c.Level,
                options.ClipLow, options.ClipHigh, c.Beta, c.LossType, 8);
            AssertClose(expected.Loss, run.Loss, 1e-10, "loss");
            AssertClose(expected.Gradient, run.Gradient, 1e-10, "gradient");
            AssertClose(expected.ClipLowTokens, run.Stats.ClipLowTokens, 1e-12, "low-clipped tokens");
            AssertClose(expected.ClipHighTokens, run.Stats.ClipHighTokens, 1e-12, "high-clipped tokens");
            AssertClose(expected.ClipRegionSequences, run.Stats.ClipRegionSequences, 1e-12, "clipped responses");
            AssertClose(expected.RatioMean, run.Stats.RatioMean, 1e-10, "ratio mean");
            AssertClose(expected.ApproxKl, run.Stats.ApproxKl, 1e-10, "approx KL");
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Loss_and_gradient_are_finite_in_float32_for_any_values()
    {
        Cases.Sample(c =>
        {
            var (logp, old, reference, adv, _) = c.Build();
            var run = Evaluate(c.Options, logp, old, adv, reference, dtype: ScalarType.Float32);
            Assert.True(double.IsFinite(run.Loss), $"loss {run.Loss}");
            Assert.All(run.Gradient.SelectMany(g => g), g => Assert.True(double.IsFinite(g), $"gradient {g}"));
            Assert.True(double.IsFinite(run.Stats.RatioMax) && double.IsFinite(run.Stats.ApproxKl));
        }, iter: 300, threads: 1);
    }

    [Fact]
    public void Masked_positions_never_change_loss_gradient_or_metrics()
    {
        var padded = Gen.Select(Cases, Gen.Int[1, 7], Gen.OneOf(double.NaN, double.PositiveInfinity, double.NegativeInfinity, 3e38, -1.0));
        padded.Sample((c, extra, pad) =>
        {
            var (logp, old, reference, adv, _) = c.Build();
            var plain = Evaluate(c.Options, logp, old, adv, reference, dtype: ScalarType.Float32);
            long width = logp.Max(r => r.Length) + extra;
            var run = Evaluate(c.Options, logp, old, adv, reference, width, pad, ScalarType.Float32);
            AssertClose(plain.Loss, run.Loss, 1e-5, "loss");   // float32 sums in another order
            AssertClose(plain.Gradient, run.Gradient, 1e-5, "gradient");
            for (int i = 0; i < logp.Length; i++)
                for (int t = logp[i].Length; t < width; t++)
                    Assert.Equal(0.0, run.PaddedGradient[i, t]);
            Assert.Equal(plain.Stats.ClampedLogRatios, run.Stats.ClampedLogRatios);
            Assert.Equal(plain.Stats.ClipRegionTokens, run.Stats.ClipRegionTokens);
        }, iter: 200, threads: 1);
    }
}
