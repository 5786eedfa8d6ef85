using System.Diagnostics;

namespace GspoSharp.Bench;

/// <summary>Wall-clock timing.</summary>
internal static class Measure
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>CPU seconds the calling thread has used (Linux CLOCK_THREAD_CPUTIME_ID); NaN elsewhere.</summary>
    public static double ThreadCpuSeconds()
    {
        const int ThreadCpuClock = 3;
        if (!OperatingSystem.IsLinux() || ClockGetTime(ThreadCpuClock, out var t) != 0) return double.NaN;
        return t.Seconds + t.Nanoseconds * 1e-9;
    }

    /// <summary>Median seconds per call of <paramref name="action"/>, after a few warm-up calls.</summary>
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

    /// <summary>What <see cref="Sustained"/> measured: calls per second, and how the warm-up went.</summary>
    public readonly record struct SustainedRate(double CallsPerSecond, double FirstCallPerSecond, int WarmupCalls, double WarmupSeconds);

    /// <summary>
    /// The best sustained rate of a repeated call. Calls are timed in windows of at least
    /// <paramref name="windowSeconds"/> (and at least 3 calls). Warm-up runs windows until the window
    /// rate has not risen by more than 2% over its best for 3 windows in a row (or for
    /// <paramref name="maxWarmupSeconds"/>); then <paramref name="windows"/> windows are timed and
    /// the best one's rate is returned. A window, not a single call, is the unit, so one lucky call
    /// cannot set the figure; the best window, not the median, because on a shared machine other
    /// work only ever slows a window down.
    /// </summary>
    public static SustainedRate Sustained(Action action, double windowSeconds = 0.4, int windows = 5, double maxWarmupSeconds = 12)
    {
        var total = Stopwatch.StartNew();
        var first = Stopwatch.StartNew();
        action();
        double firstRate = 1 / first.Elapsed.TotalSeconds;
        int warmupCalls = 1;
        double best = 0;
        int stale = 0;
        while (stale < 3 && total.Elapsed.TotalSeconds < maxWarmupSeconds)
        {
            var (rate, calls) = Window(action, windowSeconds);
            warmupCalls += calls;
            if (rate > best * 1.02) stale = 0;
            else stale++;
            best = Math.Max(best, rate);
        }
        double warmupSeconds = total.Elapsed.TotalSeconds;
        double sustained = 0;
        for (int i = 0; i < windows; i++) sustained = Math.Max(sustained, Window(action, windowSeconds).Rate);
        return new SustainedRate(sustained, firstRate, warmupCalls, warmupSeconds);
    }

    static (double Rate, int Calls) Window(Action action, double seconds)
    {
        var watch = Stopwatch.StartNew();
        int calls = 0;
        do
        {
            action();
            calls++;
        } while (calls < 3 || watch.Elapsed.TotalSeconds < seconds);
        return (calls / watch.Elapsed.TotalSeconds, calls);
    }
}
