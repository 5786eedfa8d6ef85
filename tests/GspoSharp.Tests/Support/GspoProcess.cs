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

    /// <summary>Starts gspo without waiting (read both streams, e.g. with ReadToEndAsync, to avoid blocking it).</summary>
    public static Process Start(string workingDirectory, params string[] args)
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
        return Process.Start(start)!;
    }

    /// <summary>Sends a POSIX signal (INT, TERM) to a process.</summary>
    public static void Signal(Process process, string signal) => Process.Start("kill", new[] { "-" + signal, process.Id.ToString() })!.WaitForExit();
}
