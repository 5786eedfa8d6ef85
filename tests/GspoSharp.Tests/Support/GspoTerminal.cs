using System.Diagnostics;
using System.Text;

namespace GspoSharp.Tests;

/// <summary>
/// Runs the real <c>gspo</c> program in a pseudo-terminal, as a user at a terminal does, and
/// replays what it drew onto a <see cref="VirtualTerminal"/> of the same size. The terminal is
/// util-linux <c>script</c> (present on every Linux; nothing is installed at run time): gspo's
/// standard input, output and error are the pseudo-terminal, so its live display is on.
/// </summary>
public static class GspoTerminal
{
    public const int Columns = 160, Rows = 45;

    /// <summary>Generous: a run here takes seconds; the bound only keeps a hung child from hanging the suite.</summary>
    static readonly TimeSpan Limit = TimeSpan.FromMinutes(5);

    // Spectre.Console turns the live display off when one of these says it runs under a CI
    // server (its profile enrichers), and .NET may size the console from COLUMNS/LINES.
    static readonly string[] Unset =
    {
        "APPVEYOR", "TF_BUILD", "bamboo_buildNumber", "BITBUCKET_REPO_OWNER", "BITBUCKET_REPO_SLUG", "BITBUCKET_COMMIT",
        "BITRISE_BUILD_URL", "ContinuaCI.Version", "GITHUB_ACTIONS", "CI_SERVER", "GO_SERVER_URL", "JENKINS_URL", "BuildRunner",
        "TEAMCITY_VERSION", "TRAVIS", "COLUMNS", "LINES",
    };

    public sealed record Result(int ExitCode, string Output, VirtualTerminal Terminal)
    {
        /// <summary>What the terminal shows at the end, scrollback included.</summary>
        public IReadOnlyList<string> Lines => Terminal.Transcript;

        public override string ToString() => $"exit code {ExitCode}, screen:\n{string.Join('\n', Lines)}";
    }

    /// <summary>
    /// Runs gspo with <paramref name="args"/> in <paramref name="workingDirectory"/>, and types
    /// Ctrl-C once each text of <paramref name="interruptAfter"/> has been drawn, in turn.
    /// </summary>
    public static Result Run(string workingDirectory, IReadOnlyList<string> args, params string[] interruptAfter)
    {
        // No echo: a terminal draws typed keys (a Ctrl-C as "^C") at its cursor, beside the live
        // display, which is the terminal's doing, not gspo's; nothing else is typed.
        string command = $"stty cols {Columns} rows {Rows} -echo && exec env --default-signal=INT dotnet " +
                         string.Join(' ', new[] { Path.Combine(AppContext.BaseDirectory, "gspo.dll") }.Concat(args).Select(Quote));
        var start = new ProcessStartInfo("script")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        // -q: no banner, -f: flush at once, -e: gspo's exit code, -c: the command; no typescript file.
        foreach (var arg in new[] { "-qfec", command, "/dev/null" }) start.ArgumentList.Add(arg);
        foreach (var key in start.Environment.Keys.Where(k => Unset.Contains(k, StringComparer.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        start.Environment["TERM"] = "xterm-256color";
        start.Environment["LC_ALL"] = "C.UTF-8";   // a UTF-8 terminal: Spectre.Console draws its Unicode bars
        start.Environment["OMP_NUM_THREADS"] = "1";

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("the terminal tests need `script` from util-linux on the PATH", e);
        }
        using (process)
        {
            var output = new MemoryStream();
            using var received = new AutoResetEvent(false);
            var reader = Task.Run(() =>
            {
                var buffer = new byte[8192];
                int n;
                while ((n = process.StandardOutput.BaseStream.Read(buffer)) > 0)
                {
                    lock (output) output.Write(buffer, 0, n);
                    received.Set();
                }
                received.Set();
            });
            var errors = process.StandardError.ReadToEndAsync();
            string Text()
            {
                lock (output) return Encoding.UTF8.GetString(output.GetBuffer(), 0, (int)output.Length);
            }
            var deadline = Stopwatch.StartNew();
            try
            {
                foreach (string marker in interruptAfter)
                {
                    while (!Text().Contains(marker, StringComparison.Ordinal))
                    {
                        if (reader.IsCompleted) throw new InvalidOperationException($"gspo ended before drawing '{marker}':\n{Text()}");
                        if (Remaining(deadline) == TimeSpan.Zero) throw new TimeoutException($"'{marker}' not drawn within {Limit}:\n{Text()}");
                        received.WaitOne(TimeSpan.FromMilliseconds(200));   // wakes on new output; the bound only rechecks whether the output ended
                    }
                    try
                    {
                        process.StandardInput.Write('\u0003');   // the terminal turns it into SIGINT for gspo
                        process.StandardInput.Flush();
                    }
                    catch (IOException)
                    {
                        // The terminal closed: gspo finished in the meantime, nothing left to interrupt.
                        if (!process.WaitForExit(Remaining(deadline))) throw;
                    }
                }
                if (!process.WaitForExit(Remaining(deadline)) || !reader.Wait(Remaining(deadline)))
                    throw new TimeoutException($"gspo did not finish within {Limit}:\n{Text()}");
                string text = Text();
                if (errors.Wait(Remaining(deadline)) && errors.Result.Length > 0)
                    throw new InvalidOperationException($"script: {errors.Result}");
                return new Result(process.ExitCode, text, new VirtualTerminal(Columns, Rows).Write(text));
            }
            finally
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
            }
        }
    }

    static TimeSpan Remaining(Stopwatch clock) => Limit - clock.Elapsed is var left && left > TimeSpan.Zero ? left : TimeSpan.Zero;

    /// <summary>One word for the POSIX shell.</summary>
    static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
}
