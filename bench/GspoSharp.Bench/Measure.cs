using System.Diagnostics;

namespace GspoSharp.Bench;

/// <summary>Wall-clock timing: warm-up runs, then the median of timed repeats.</summary>
internal static class Measure
{
    /// <summary>Median seconds per call of <paramref name="action"/>.</summary>
    public static double Seconds(Action action, int warmup = 2, int repeats = 7)
    {
        for (int i = 0; i < warmup; i++) action();
        var times = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var watch = Stopwatch.StartNew();
            action();
            times[i] = watch.Elapsed.TotalSeconds;
        }
        Array.Sort(times);
        return times[repeats / 2];
    }
}
