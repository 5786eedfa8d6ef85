using System.Diagnostics;

namespace GspoSharp.Tests;

/// <summary>Runs the real <c>gspo</c> program (copied next to the tests) in a child process.</summary>
public static class GspoProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunIn(Environment.CurrentDirectory, args);

    public static Result RunIn(string workingDirectory, params string[] args)
    {
        using var process = Start(workingDirectory, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>
    /// Runs gspo with <paramref name="environment"/> added and waits at most <paramref name="timeout"/>;
    /// the child is killed whatever happens, so a failing test leaves no process behind.
    /// </summary>
    public static Result RunIn(string workingDirectory, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args)
    {
        using var process = Start(workingDirectory, environment, args);
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout)) throw new TimeoutException($"gspo {string.Join(' ', args)} ran longer than {timeout}");
            process.WaitForExit();
            return new Result(process.ExitCode, stdout.Result, stderr.Result);
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Starts gspo without waiting (read both streams, e.g. with ReadToEndAsync, to avoid blocking it).</summary>
    public static Process Start(string workingDirectory, params string[] args) => Start(workingDirectory, new Dictionary<string, string>(), args);

    /// <summary>Starts gspo with <paramref name="environment"/> added to its environment.</summary>
    public static Process Start(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        // A test host started in the background (`dotnet test … &` from a script) inherits SIGINT
        // ignored, and .NET keeps an inherited SIG_IGN, so the Ctrl-C tests would see no signal:
        // coreutils' env restores the default disposition for the child.
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add("dotnet");
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "gspo.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["COLUMNS"] = "200";   // wide tables, so assertions see whole cells
        start.Environment["OMP_NUM_THREADS"] = "1";   // one LibTorch thread, as the test host itself uses (TestSetup)
        foreach (var (key, value) in environment) start.Environment[key] = value;
        return Process.Start(start)!;
    }

    /// <summary>Sends a POSIX signal (INT, TERM) to a process.</summary>
    public static void Signal(Process process, string signal) => Process.Start("kill", new[] { "-" + signal, process.Id.ToString() })!.WaitForExit();
}
