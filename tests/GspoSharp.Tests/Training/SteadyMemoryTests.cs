using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>
/// A long run holds steady memory — and the check is shown to catch a leak of 100 KB per step.
/// After warm-up (JIT, the first checkpoint and evaluation), three readings of
/// <see cref="MemorySampler"/> over 400 steps: live TorchSharp tensors must not grow at all (a leak
/// of any size keeps at least one tensor object per step); the least-squares slope of live heap
/// bytes (C heap in use + managed heap) must stay under 50 KB per step, half the injected leak;
/// the resident set's slope must stay under 400 KB per step, a loose bound for what the heaps do
/// not see (mappings, thread stacks). Resident memory moves by megabytes from step to step as
/// allocators cache and release pages, so it is not the signal a tight bound can rest on; live heap
/// bytes were flat to within 1 KB per step in leak-free runs, with one-off moves of up to 10 MB,
/// which tilt a 400-step slope by at most 1.5 × 10 MB / 400 ≈ 38 KB per step (a move exactly mid-window).
/// </summary>
public class SteadyMemoryTests
{
    const int Steps = 500, WarmUp = 100;
    const int LeakBytes = 100 * 1024;
    const double LiveSlopeLimitMb = 0.05, ResidentSlopeLimitMb = 0.4;

    static TrainConfig Config => new()
    {
        Task = "arithmetic", InitSize = "tiny", SftSteps = 0, PromptsPerStep = 4, NumGenerations = 4, StepsPerGeneration = 2,
        MaxCompletionLength = 32, LearningRate = 1e-4, EvalPrompts = 4, EvalNumSamples = 1, Report = false,
        MaxSteps = Steps, SaveSteps = 125, EvalSteps = 125,
    };

    internal sealed record Measurement(long TensorGrowth, double LiveSlopeMb, double ResidentSlopeMb, string Series)
    {
        public override string ToString() =>
            $"tensors +{TensorGrowth}, live heap {LiveSlopeMb * 1024:F1} KB/step, resident {ResidentSlopeMb * 1024:F1} KB/step; {Series}";
    }

    internal static Measurement Measure(int leakBytesPerStep)
    {
        using var dir = new TempDirectory();
        var sampler = new MemorySampler(leakBytesPerStep);
        try
        {
            TrainingRun.Execute(Config, Path.Combine(dir.Path, "run"), sampler);
            var settled = sampler.Readings.Where(r => r.Step > WarmUp).ToList();
            long growth = settled.Max(r => r.LiveTensors) - sampler.Readings.Where(r => r.Step <= WarmUp).Max(r => r.LiveTensors);
            double live = Trend.Slope(settled.Select(r => ((double)r.Step, r.LiveMb)).ToList());
            double resident = Trend.Slope(settled.Select(r => ((double)r.Step, r.ResidentMb)).ToList());
            string series = string.Join(" ", settled.Where(r => r.Step % 50 == 0)
                .Select(r => $"[{r.Step}: live {r.LiveMb:F2} MB, resident {r.ResidentMb:F1} MB, {r.LiveTensors} tensors]"));
            return new Measurement(growth, live, resident, series);
        }
        finally
        {
            sampler.Release();
        }
    }

    [Fact]
    public void A_long_run_holds_steady_memory()
    {
        var m = Measure(0);
        Assert.True(m.TensorGrowth <= 0, $"live tensors grew after step {WarmUp}: {m}");
        Assert.True(m.LiveSlopeMb < LiveSlopeLimitMb, $"live heap grows after step {WarmUp}: {m}");
        Assert.True(m.ResidentSlopeMb < ResidentSlopeLimitMb, $"resident memory grows after step {WarmUp}: {m}");
    }

    [Fact]
    public void The_memory_check_catches_a_leak_of_one_100_KB_tensor_per_step()
    {
        var m = Measure(LeakBytes);
        Assert.True(m.TensorGrowth >= Steps - WarmUp - 1, $"the injected leak kept {Steps - WarmUp} tensors after step {WarmUp}: {m}");
        Assert.True(m.LiveSlopeMb >= LiveSlopeLimitMb, $"the injected leak of 100 KB per step went unseen: {m}");
    }
}
