using System.Diagnostics;
using System.Text.Json;

namespace GspoSharp.Bench;

/// <summary>
/// An independent check of the matmul ceiling: PyTorch (python3 with torch, e.g. Debian's
/// python3-torch on OpenBLAS) doing the same product, measured the same way by
/// bench/peer/matmul.py, printed beside GspoSharp's own figure. Skipped, with a line saying why,
/// when no python3 with torch is found. The interpreter is GSPO_BENCH_PYTHON if set, else the
/// first of python3 on PATH and Debian's /usr/bin/python3 that can import torch.
/// </summary>
internal static class PeerMatmul
{
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    public static void Print(IReadOnlyList<int> threadCounts, IReadOnlyDictionary<int, double> ours)
    {
        string script = Path.Combine(AppContext.BaseDirectory, "peer", "matmul.py");
        string? python = FindPythonWithTorch();
        if (python is null)
        {
            Console.WriteLine("peer (PyTorch): skipped — no python3 that can import torch was found (bench/README.md says how to install one; " +
                              "or point GSPO_BENCH_PYTHON at one)");
            return;
        }
        bool described = false;
        foreach (int threads in threadCounts)
        {
            var (ok, output) = Run(python, Timeout, script, "--threads", threads.ToString());
            string? json = output.Split('\n').LastOrDefault(l => l.TrimStart().StartsWith('{'));
            if (!ok || json is null)
            {
                Console.WriteLine($"peer, {threads} thread{(threads == 1 ? "" : "s")}: failed — {output.Trim().Split('\n').LastOrDefault()}");
                continue;
            }
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (!described)
            {
                string blas = string.Join(" ", root.GetProperty("blas").EnumerateArray().Select(b => b.GetString()));
                if (root.GetProperty("openblas_core").GetString() is { } core)
                    blas += $", OpenBLAS kernels {core}" +
                            (root.GetProperty("openblas_core_chosen_here").GetBoolean() ? " (set by the script: this OpenBLAS does not recognise the CPU)" : "");
                Console.WriteLine($"peer: PyTorch {root.GetProperty("torch").GetString()} ({python}), the same product measured the same way; BLAS: {(blas.Length > 0 ? blas : "unknown")}");
                described = true;
            }
            double peer = root.GetProperty("best_gflops").GetDouble();
            string sizes = string.Join(", ", root.GetProperty("sizes").EnumerateObject()
                .Select(s => $"{s.Name}: {s.Value.GetProperty("gflops").GetDouble():F1}"));
            Console.WriteLine($"  peer, {threads} thread{(threads == 1 ? " " : "s")}: {peer,6:F1} GFLOP/s ({sizes}); GspoSharp's {ours[threads]:F1} is {ours[threads] / peer:P0} of it");
        }
    }

    internal static string? FindPythonWithTorch()
    {
        string? chosen = Environment.GetEnvironmentVariable("GSPO_BENCH_PYTHON");
        var candidates = chosen is { Length: > 0 } ? new[] { chosen } : new[] { "python3", "/usr/bin/python3" };
        return candidates.FirstOrDefault(p => Run(p, TimeSpan.FromMinutes(1), "-c", "import torch").Ok);
    }

    /// <summary>Runs a process to its end (killing it after <paramref name="timeout"/>) and returns its stdout and stderr.</summary>
    internal static (bool Ok, string Output) Run(string file, TimeSpan timeout, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in arguments) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return (false, $"timed out after {timeout.TotalMinutes:F0} min");
            }
            process.WaitForExit();
            return (process.ExitCode == 0, stdout.Result + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (false, e.Message);   // not installed
        }
    }
}
