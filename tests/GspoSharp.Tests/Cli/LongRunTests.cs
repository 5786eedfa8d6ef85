using System.Diagnostics;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Training;

namespace GspoSharp.Tests.Cli;

/// <summary>gspo train as a long-running process: signals and resume (steady memory: Training/SteadyMemoryTests).</summary>
public class LongRunTests
{
    const string Config = """
        task: arithmetic
        init_size: tiny
        sft_steps: 0
        prompts_per_step: 4
        num_generations: 4
        steps_per_generation: 2
        max_completion_length: 32
        learning_rate: 1.0e-4
        eval_prompts: 4
        eval_num_samples: 1
        report: false
        """;

    static string Write(TempDirectory dir, string extra)
    {
        string path = Path.Combine(dir.Path, "run.yaml");
        File.WriteAllText(path, Config + "\n" + extra + "\n");
        return path;
    }

    /// <summary>Steps of a few seconds each, so a second Ctrl-C lands while one is in progress.</summary>
    static string WriteLongSteps(TempDirectory dir)
    {
        string path = Write(dir, "max_steps: 200\nsave_steps: 1");
        File.WriteAllText(path, File.ReadAllText(path).Replace("prompts_per_step: 4", "prompts_per_step: 16")
            .Replace("num_generations: 4", "num_generations: 8").Replace("max_completion_length: 32", "max_completion_length: 64"));
        return path;
    }

    static int LoggedSteps(string run)
    {
        string path = Path.Combine(run, "metrics.jsonl");
        if (!File.Exists(path)) return 0;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    static void WaitFor(Func<bool> condition, int seconds, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed.TotalSeconds > seconds) throw new TimeoutException($"waited {seconds} s for {what}");
            Thread.Sleep(100);
        }
    }

    [Theory]
    [InlineData("INT")]
    [InlineData("TERM")]
    public async Task A_signal_finishes_the_step_writes_a_checkpoint_and_the_run_resumes(string signal)
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        // Steps take ~0.1 s: 60 of them leave the signal seconds to arrive before the run would end
        // by itself, even on a busy machine.
        const int steps = 60;
        using var process = GspoProcess.Start(dir.Path, "train", "--config", Write(dir, $"max_steps: {steps}\nsave_steps: 1000"), "--run-dir", run);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        WaitFor(() => LoggedSteps(run) >= 2 || process.HasExited, 180, "two logged steps");
        GspoProcess.Signal(process, signal);
        Assert.True(process.WaitForExit(120_000), "the run did not stop");
        string errors = await stderr, output = await stdout;
        Assert.True(process.ExitCode == 0, errors + output);
        Assert.Contains("stopping after this step", errors);

        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!.AsObject();
        Assert.Equal("interrupted", summary["stopped"]!.GetValue<string>());
        int stoppedAt = summary["steps"]!.GetValue<int>();
        Assert.InRange(stoppedAt, 2, steps - 1);
        Assert.Equal($"checkpoints/checkpoint-{stoppedAt:D6}", summary["last_checkpoint"]!.GetValue<string>());
        ModelDirectory.Load(Path.Combine(run, "checkpoints", $"checkpoint-{stoppedAt:D6}", "model")).Dispose();

        if (signal != "INT") return;
        var resumed = GspoProcess.RunIn(dir.Path, "train", "--resume", run);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        var done = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!.AsObject();
        Assert.Equal(steps, done["steps"]!.GetValue<int>());
        Assert.Null(done["stopped"]);
        Assert.Equal(Enumerable.Range(1, steps), File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
            .Select(l => JsonNode.Parse(l)!["step"]!.GetValue<int>()).Take(steps));
    }

    [Fact]
    public void A_second_ctrl_c_quits_at_once_and_leaves_every_checkpoint_loadable()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        // The run waits after the first Ctrl-C while this file exists, so it cannot finish its step and
        // exit 0 before the second Ctrl-C arrives, however fast the step is.
        string hold = Path.Combine(dir.Path, "hold");
        File.WriteAllText(hold, "");
        using var process = GspoProcess.Start(dir.Path, new Dictionary<string, string> { ["GSPO_TEST_STOP_HOLD"] = hold },
            "train", "--config", WriteLongSteps(dir), "--run-dir", run);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) errors.Enqueue(e.Data); };
        process.BeginErrorReadLine();
        WaitFor(() => LoggedSteps(run) >= 3 || process.HasExited, 180, "three logged steps");
        GspoProcess.Signal(process, "INT");
        // The kernel merges a signal into one still pending, so the second Ctrl-C is sent only
        // once the first has been handled, as a person pressing it twice would.
        WaitFor(() => errors.Any(l => l.Contains("stopping after this step")) || process.HasExited, 60, "the first Ctrl-C to be handled");
        GspoProcess.Signal(process, "INT");
        Assert.True(process.WaitForExit(60_000), "the run did not quit");
        Assert.NotEqual(0, process.ExitCode);
        Assert.False(File.Exists(Path.Combine(run, "summary.json")), "a quit run writes no summary");

        var checkpoints = new Checkpoints(run).List();
        Assert.NotEmpty(checkpoints);
        foreach (var (step, path) in checkpoints)
        {
            Assert.Equal(step, Checkpoints.ReadState(path).Step);
            ModelDirectory.Load(Path.Combine(path, "model")).Dispose();
        }
    }
}
