using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace GspoSharp.Models.TestHooks;

/// <summary>
/// TEST ONLY. Lets a crash-recovery harness kill the process with SIGKILL at a chosen write, the
/// moments a crash hurts most: <c>GSPO_TEST_CRASH_AT=POINT[@FILE]:N</c> kills it at the Nth time
/// (1-based, counted in this process) that it reaches <c>POINT</c> — only for writes to a file
/// or directory named <c>FILE</c> when given. <c>GSPO_TEST_CRASH_AT=census</c> instead counts every
/// point reached and prints the counts to standard error at exit (<c>crash-points: POINT@FILE=N …</c>),
/// so a harness can choose its targets. Unset (always, outside such a harness), every
/// <see cref="Hit"/> is one test of a static read-only field that the JIT folds away.
/// The points are the constants below; docs/training.md lists what each one leaves on disk.
/// </summary>
internal static class CrashPoints
{
    /// <summary>The environment variable read once at start-up.</summary>
    public const string Variable = "GSPO_TEST_CRASH_AT";

    /// <summary>A file's content is in its temporary but not yet flushed (the temporary is partial).</summary>
    public const string FileWrite = "file-write";
    /// <summary>A complete, flushed temporary is about to be renamed over its final name.</summary>
    public const string FileRename = "file-rename";
    /// <summary>Half of a metrics.jsonl line has been appended (a torn last line).</summary>
    public const string MetricsAppend = "metrics-append";
    /// <summary>A checkpoint's model is in its staging directory; the optimizer state is not.</summary>
    public const string CheckpointWrite = "checkpoint-write";
    /// <summary>A complete checkpoint staging directory is about to be renamed into place.</summary>
    public const string CheckpointRename = "checkpoint-rename";
    /// <summary>An old checkpoint beyond save_total_limit has been renamed aside and is about to be deleted.</summary>
    public const string CheckpointRetire = "checkpoint-retire";
    /// <summary>A model directory being replaced has been moved aside; the new one is not yet in place.</summary>
    public const string ModelSwap = "model-swap";

    /// <summary>Every point, for validating the variable.</summary>
    public static readonly IReadOnlyList<string> Points =
        [FileWrite, FileRename, MetricsAppend, CheckpointWrite, CheckpointRename, CheckpointRetire, ModelSwap];

    sealed record Target(string Point, string? File, int Nth);

    static readonly string? Setting = Environment.GetEnvironmentVariable(Variable);
    static readonly bool Census = Setting == "census";
    static readonly Target? Armed = Census || string.IsNullOrEmpty(Setting) ? null : Parse(Setting, out _);
    static readonly ConcurrentDictionary<string, int>? Counts = Census ? new(StringComparer.Ordinal) : null;
    static int hits;

    /// <summary>Why <see cref="Variable"/> is malformed, or null when it is unset or valid.</summary>
    public static string? Error => Census || string.IsNullOrEmpty(Setting) ? null : Parse(Setting, out var error) is null ? error : null;

    /// <summary>True when a harness has set <see cref="Variable"/>: callers that must prepare a crash (a torn line) test this first.</summary>
    public static bool Enabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Armed is not null || Census;
    }

    static CrashPoints()
    {
        if (Census) AppDomain.CurrentDomain.ProcessExit += (_, _) => Console.Error.WriteLine("crash-points: " +
            string.Join(" ", Counts!.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}")));
    }

    /// <summary>Kills the process if this is the targeted hit of <paramref name="point"/> (for <paramref name="path"/>'s file name).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Hit(string point, string? path = null)
    {
        if (Enabled && Reached(point, path)) Kill();
    }

    /// <summary>Counts a hit of <paramref name="point"/>; true when the process must now die (the caller may first leave a torn write, then calls <see cref="Kill"/>).</summary>
    public static bool Reached(string point, string? path = null)
    {
        string? file = path is null ? null : Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        if (Counts is not null)
        {
            Counts.AddOrUpdate(file is null ? point : $"{point}@{file}", 1, (_, n) => n + 1);
            return false;
        }
        if (Armed is not { } target || target.Point != point || (target.File is not null && target.File != file)) return false;
        return Interlocked.Increment(ref hits) == target.Nth;
    }

    /// <summary>SIGKILL to this process: nothing after this line runs, no finally block, no flush.</summary>
    public static void Kill()
    {
        Process.GetCurrentProcess().Kill();
        Thread.Sleep(Timeout.Infinite);   // the signal is asynchronous to this thread
    }

    static Target? Parse(string setting, out string? error)
    {
        error = null;
        int colon = setting.LastIndexOf(':');
        string spec = colon < 0 ? setting : setting[..colon];
        int at = spec.IndexOf('@');
        string point = at < 0 ? spec : spec[..at];
        string? file = at < 0 ? null : spec[(at + 1)..];
        if (!Points.Contains(point))
            error = $"{Variable}={setting}: unknown point '{point}'; known: {string.Join(", ", Points)} (or census).";
        else if (colon < 0 || !int.TryParse(setting[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int nth) || nth < 1)
            error = $"{Variable}={setting}: expected POINT[@FILE]:N with N ≥ 1, e.g. {CheckpointRename}:2 or {FileWrite}@summary.json:1.";
        else if (file is "")
            error = $"{Variable}={setting}: empty file name after '@'.";
        else
            return new Target(point, file, nth);
        return null;
    }
}
