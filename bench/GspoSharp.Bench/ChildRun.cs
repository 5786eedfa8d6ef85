using System.Diagnostics;
using System.Text.Json.Nodes;

namespace GspoSharp.Bench;

/// <summary>
/// This benchmark program run again as a child process (a row measured in a process of its own): its
/// result is the last line of its standard output that is a JSON object.
/// </summary>
internal sealed record ChildRun(int ExitCode, JsonNode? Result, string Why)
{
    public static ChildRun Start(params string[] args)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(ChildRun).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var child = Process.Start(start)!;
        var stderr = child.StandardError.ReadToEndAsync();
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        string why = stderr.Result.Split('\n').FirstOrDefault(l => l.Length > 0) ?? output.Trim().Split('\n').LastOrDefault() ?? "";
        return new ChildRun(child.ExitCode, child.ExitCode == 0 && line is not null ? JsonNode.Parse(line) : null, why);
    }
}
