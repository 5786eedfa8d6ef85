using System.Globalization;
using GspoSharp.Models.TestHooks;

namespace GspoSharp.Cli;

/// <summary>
/// TEST ONLY: environment variables that the reliability harnesses (tools/GspoSharp.Reliability)
/// set on the gspo processes they start. Unset — always, in normal use — they cost one
/// environment read at start-up and nothing after.
/// <list type="bullet">
/// <item><c>GSPO_TEST_GC_STRESS=MS</c>: a background thread forces a blocking, compacting
/// collection of every generation every MS milliseconds (0: back to back), so that managed memory
/// moves while native code runs — the condition under which a handle array that TorchSharp
/// unpinned too early was read after it moved (docs/decisions/0003). At exit it prints
/// <c>gc-stress: forced=N gen0=N gen1=N gen2=N</c> to standard error.</item>
/// <item><c>GSPO_TEST_CRASH_AT=POINT[@FILE]:N</c>: SIGKILL at the Nth write of a kind
/// (<see cref="CrashPoints"/>); checked here so that a typo is an error, not a run that never crashes.</item>
/// <item><c>GSPO_TEST_SERVE_HOLD=FILE</c>: <c>gspo serve</c> starts no waiting request while FILE
/// exists, so a test can fill the queue (429) or cancel a waiting request without racing the worker.</item>
/// <item><c>GSPO_TEST_STOP_HOLD=FILE</c>: once Ctrl-C or SIGTERM has asked a run to stop, the run waits at
/// its next stop check while FILE exists (at most two minutes), so a test's second Ctrl-C cannot race
/// the end of the step.</item>
/// </list>
/// </summary>
internal static class TestHooks
{
    public const string ServeHoldVariable = "GSPO_TEST_SERVE_HOLD";

    public const string GcStressVariable = "GSPO_TEST_GC_STRESS";

    public const string StopHoldVariable = "GSPO_TEST_STOP_HOLD";

    /// <summary>Starts what the variables ask for; returns an error message for a malformed one.</summary>
    public static string? Start()
    {
        if (CrashPoints.Error is { } error) return error;
        string? setting = Environment.GetEnvironmentVariable(GcStressVariable);
        if (string.IsNullOrEmpty(setting)) return null;
        if (!int.TryParse(setting, NumberStyles.None, CultureInfo.InvariantCulture, out int milliseconds))
            return $"{GcStressVariable}={setting}: expected the milliseconds between forced collections (0 or more).";
        StartGcStress(milliseconds);
        return null;
    }

    static void StartGcStress(int milliseconds)
    {
        long forced = 0;
        var thread = new Thread(() =>
        {
            while (true)
            {
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
                Interlocked.Increment(ref forced);
                if (milliseconds > 0) Thread.Sleep(milliseconds);
                else Thread.Yield();
            }
        }) { IsBackground = true, Name = "gc-stress (test only)" };
        thread.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Console.Error.WriteLine(
            $"gc-stress: forced={Interlocked.Read(ref forced)} gen0={GC.CollectionCount(0)} gen1={GC.CollectionCount(1)} gen2={GC.CollectionCount(2)}");
    }
}
