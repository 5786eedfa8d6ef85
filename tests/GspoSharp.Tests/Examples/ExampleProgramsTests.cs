using System.Diagnostics;
using System.Text.Json.Nodes;

namespace GspoSharp.Tests.Examples;

/// <summary>The programs of examples/, built with the tests, run at small sizes as a user runs them.</summary>
public class ExampleProgramsTests
{
    /// <summary>Runs examples/NAME (its built .dll, in the configuration of these tests) and returns its exit code and output.</summary>
    static (int ExitCode, string Output) Run(string name, params string[] args)
    {
        string dll = Path.Combine(Repository.Root, "examples", name, "bin", new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", name + ".dll");
        Assert.True(File.Exists(dll), $"{dll}: not built");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(dll);
        foreach (var arg in args) start.ArgumentList.Add(arg);
        start.Environment["OMP_NUM_THREADS"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void LoadAndSample_creates_a_model_loads_it_and_prints_its_samples()
    {
        var (exitCode, output) = Run("LoadAndSample", "--samples", "2", "--max-new-tokens", "6");
        Assert.True(exitCode == 0, output);
        Assert.Contains("model: qwen3, ", output);
        Assert.Contains("prompt: Add: 2 + 3 (", output);
        Assert.Contains("sample 0: ", output);
        Assert.Contains("sample 1: ", output);
        Assert.DoesNotContain("sample 2: ", output);
    }

    [Fact]
    public void CustomRewardRun_trains_with_its_reward_stops_and_resumes_to_the_end()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var (exitCode, output) = Run("CustomRewardRun", "--run-dir", run, "--steps", "4", "--stop-after", "2", "--sft-steps", "2");
        Assert.True(exitCode == 0, output);
        Assert.Contains("first invocation: interrupted after step 2, checkpoint ", output);
        Assert.Contains("[model] resuming from checkpoint-000002 (step 2)", output);
        Assert.Contains("resumed: 4 steps, accuracy ", output);

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!.AsObject();
        Assert.Equal((4, null), (summary["steps"]!.GetValue<int>(), summary["stopped"]?.GetValue<string>()));
        var steps = Training.RunComparison.Metrics(run);
        Assert.Equal(new[] { 1, 2, 3, 4, 4 }, steps.Select(m => m["step"]!.GetValue<int>()));
        Assert.All(steps.SkipLast(1), m => Assert.InRange(m["rewards/product/mean"]!.GetValue<double>(), 0, 1));
        Assert.True(File.Exists(Path.Combine(run, "final-model", "model.safetensors")));
        Assert.Contains("reward_funcs: [product, format]", File.ReadAllText(Path.Combine(run, "config.yaml")));
    }
}
