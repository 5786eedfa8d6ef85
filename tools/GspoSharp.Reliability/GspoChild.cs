using System.Diagnostics;
using System.Text;

namespace GspoSharp.Reliability;

/// <summary>One run of the real gspo program (copied next to this tool) as a child process.</summary>
internal sealed class GspoChild : IDisposable
{
    /// <summary>How a child ended.</summary>
    /// <param name="ExitCode">Its exit code; 128 + n when signal n ended it (137: SIGKILL).</param>
    /// <param name="KilledByUs">True when this harness sent the SIGKILL.</param>
    public sealed record Outcome(int ExitCode, bool KilledByUs, bool TimedOut, string Stdout, string Stderr, TimeSpan Elapsed)
    {
        public bool Sigkilled => ExitCode == 128 + 9;
        public string StderrTail(int lines = 5) => string.Join(" | ", Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines));
    }

    readonly Process process;
    readonly StringBuilder stdout = new(), stderr = new();
    readonly Stopwatch clock = Stopwatch.StartNew();
    volatile bool killedByUs;

    GspoChild(Process process) => this.process = process;

    /// <summary>Starts <c>dotnet gspo.dll ARGS</c> in <paramref name="workingDirectory"/> with one LibTorch thread
    /// (as the tests run it: identical arithmetic in every invocation) and <paramref name="environment"/> added.</summary>
    public static GspoChild Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gspo.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["OMP_NUM_THREADS"] = "1";
        start.Environment["COLUMNS"] = "200";
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = new Process { StartInfo = start };
        var child = new GspoChild(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (child.stdout) child.stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (child.stderr) child.stderr.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public int Id => process.Id;

    /// <summary>The first line of standard output that <paramref name="match"/> accepts, or null when the child
    /// exits or <paramref name="timeout"/> passes first.</summary>
    public string? WaitForLine(Func<string, bool> match, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            lock (stdout)
                if (stdout.ToString().Split('\n').FirstOrDefault(match) is { } line) return line.TrimEnd('\r');
            if (process.HasExited) return null;
            Thread.Sleep(50);
        }
        return null;
    }

    /// <summary>SIGTERM: the graceful stop gspo serve and gspo train handle.</summary>
    public void Terminate()
    {
        if (!process.HasExited) _ = Posix.Kill(process.Id, 15);
    }

    public bool HasExited => process.HasExited;

    /// <summary>SIGKILL (Process.Kill on Unix); false when the child had already exited.</summary>
    public bool Kill()
    {
        if (process.HasExited) return false;
        killedByUs = true;
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            return false;   // exited between the check and the kill
        }
        return true;
    }

    /// <summary>Waits for the child; past <paramref name="timeout"/> it is killed and reported as timed out.</summary>
    public Outcome Wait(TimeSpan timeout)
    {
        bool timedOut = false;
        if (!process.WaitForExit(timeout))
        {
            timedOut = true;
            Kill();
        }
        process.WaitForExit();   // and for the output readers to drain
        lock (stdout) lock (stderr)
            return new Outcome(process.ExitCode, killedByUs && !timedOut, timedOut, stdout.ToString(), stderr.ToString(), clock.Elapsed);
    }

    /// <summary>Never leaves a child behind, whatever happened to the harness.</summary>
    public void Dispose()
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }

    static class Posix
    {
        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        public static extern int Kill(int pid, int signal);
    }
}
