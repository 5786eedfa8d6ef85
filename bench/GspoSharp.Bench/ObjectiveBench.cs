using GspoSharp.Objectives;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// Forward + backward of each objective on a realistic rollout batch. The objective is a few
/// elementwise passes over [B, T]; this shows it is negligible next to the model (whose cost per
/// token is ~6 × parameters FLOPs) and that GSPO costs no more than GRPO.
/// </summary>
internal static class ObjectiveBench
{
    public static void Run()
    {
        foreach (var (b, t) in new[] { (64, 256), (256, 1024) })
        {
            using var scope = NewDisposeScope();
            var logp = (-rand(b, t) * 3).requires_grad_();
            var old = logp.detach() + 0.01 * randn(b, t);
            var adv = randn(b);
            var lengths = randint(1, t + 1, b);
            var mask = arange(t).unsqueeze(0) < lengths.unsqueeze(1);
            double? grpo = null;
            foreach (var options in new[] { PolicyObjectiveOptions.Grpo(), PolicyObjectiveOptions.Gspo(), PolicyObjectiveOptions.GspoToken() })
            {
                double seconds = Measure.Seconds(() =>
                {
                    using var inner = NewDisposeScope();
                    logp.grad?.zero_();
                    using var loss = PolicyObjective.Compute(new PolicyBatch(logp, old, adv, mask), options);
                    loss.Loss.backward();
                    loss.ReadMetrics();
                });
                grpo ??= seconds;
                string level = PolicyObjectiveOptions.Names.Of(options.ImportanceSamplingLevel);
                Console.WriteLine($"objective {level,-14} B={b,3} T={t,4}: {seconds * 1e3,7:F2} ms  " +
                                  $"({b * (double)t / seconds / 1e6,6:F1} M tokens/s, {seconds / grpo.Value:F2}× GRPO)");
            }
        }
    }
}
