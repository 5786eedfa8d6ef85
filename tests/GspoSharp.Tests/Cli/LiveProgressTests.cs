using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace GspoSharp.Tests.Cli;

/// <summary>
/// The live progress display as a terminal shows it: gspo train, sft and experiment run in a
/// pseudo-terminal, and the screen they leave (replayed by <see cref="VirtualTerminal"/>) must show
/// every stage bar finished with the last step's metrics, and the stage messages — checkpoints,
/// evaluations, Ctrl-C — as lines above the bars, never as plain progress lines.
/// </summary>
public class LiveProgressTests
{
    const string Quick = """
        task: arithmetic
        init_size: tiny
        sft_steps: 6
        sft_batch_size: 8
        prompts_per_step: 2
        num_generations: 4
        steps_per_generation: 2
        max_completion_length: 16
        learning_rate: 1.0e-4
        eval_prompts: 4
        eval_num_samples: 2
        report: false

        """;

    // A bar row: description, bar, percentage, elapsed, remaining (Spectre.Console's columns).
    static readonly Regex Bar = new(@"^(?<label>sft|gspo) +(?<text>.*?) +━+ +(?<percent>\d+)% +(?<elapsed>\d\d:\d\d:\d\d) +(?<remaining>\d\d:\d\d:\d\d|--:--:--)$");

    [Fact]
    public void Train_bars_finish_through_checkpoints_and_evaluations()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "quick.yaml"), Quick + "max_steps: 10\nsave_steps: 2\neval_steps: 5\n");
        var result = GspoTerminal.Run(dir.Path, new[] { "train", "--config", "quick.yaml", "--run-dir", "run" });
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Lines;

        var bars = Bars(lines);
        Assert.True(bars.Select(b => b.Label).SequenceEqual(new[] { "sft", "gspo" }), result.ToString());
        Assert.All(bars, b => Assert.True(b.Percent == 100, result.ToString()));
        Assert.Matches(@"^loss \d+\.\d{3}$", bars[0].Text);
        Assert.Equal(LastStepText(Path.Combine(dir.Path, "run", "metrics.jsonl"), 10), bars[1].Text);

        // The stage messages are lines above the bars; the steps themselves only move the bar.
        int top = bars[0].Line;
        foreach (var message in new[] { "[sft] supervised warm start: 6 steps", "[eval] before: accuracy", "[train] steps 1–10:",
                                        "[save] checkpoint at step 2", "[save] checkpoint at step 4", "[eval] step 5: accuracy",
                                        "[save] checkpoint at step 10", "[eval] after: accuracy", "[save] saving the trained model" })
            Assert.True(Index(lines, message) is >= 0 and var i && i < top, $"'{message}' above the bars:\n{result}");
        Assert.DoesNotContain(lines, l => l.StartsWith("step ", StringComparison.Ordinal));
        Assert.True(lines.ToList().FindIndex(l => Regex.IsMatch(l, @"^│ RL steps +│ 10 +│$")) > bars[1].Line, result.ToString());
        Assert.True(result.Terminal.CursorVisible);
    }

    [Fact]
    public void Sft_bar_finishes_and_the_save_prints_above_it()
    {
        using var dir = new TempDirectory();
        Assert.Equal(0, GspoProcess.Run("init-model", "--arch", "qwen3", "--out", Path.Combine(dir.Path, "model")).ExitCode);
        var result = GspoTerminal.Run(dir.Path, new[] { "sft", "--model", "model", "--task", "arithmetic", "--steps", "5", "--batch-size", "4", "--out", "tuned" });
        Assert.True(result.ExitCode == 0, result.ToString());
        var bars = Bars(result.Lines);
        Assert.True(bars is [{ Label: "sft", Percent: 100 }], result.ToString());
        Assert.True(Index(result.Lines, "[save] tuned") is >= 0 and var save && save < bars[0].Line, result.ToString());
        Assert.True(File.Exists(Path.Combine(dir.Path, "tuned", "model.safetensors")));
    }

    [Fact]
    public void Experiment_shows_the_current_runs_bars_finished()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "matrix.yaml"), """
            name: live
            seeds: [1, 2]
            base: { task: arithmetic, init_size: tiny, sft_steps: 4, sft_batch_size: 8, prompts_per_step: 2, num_generations: 4,
                    max_completion_length: 16, steps_per_generation: 2, learning_rate: 1.0e-4, max_steps: 4, save_steps: 2,
                    eval_steps: 3, eval_prompts: 4, eval_num_samples: 1, report: false }
            models:
              dense: { init_arch: qwen3 }
            arms:
              gspo: { importance_sampling_level: sequence }
            """);
        var result = GspoTerminal.Run(dir.Path, new[] { "experiment", "--matrix", "matrix.yaml", "--out", "out" });
        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Lines;

        // One bar per kind: the model's warm start, and the current (last) run, which replaced the first run's bar.
        var bars = Bars(lines);
        Assert.True(bars.Select(b => (b.Label, b.Percent)).SequenceEqual(new[] { ("sft", 100), ("gspo", 100) }), result.ToString());
        Assert.Equal(LastStepText(Path.Combine(dir.Path, "out", "runs", "dense", "gspo", "seed-2", "metrics.jsonl"), 4), bars[1].Text);
        foreach (var message in new[] { "[experiment] [1/2] dense / gspo / seed 1: starting", "[experiment] [2/2] dense / gspo / seed 2: starting" })
            Assert.True(Index(lines, message) is >= 0 and var i && i < bars[0].Line, $"'{message}' above the bars:\n{result}");
        Assert.Equal(2, lines.Count(l => l.StartsWith("[save] checkpoint at step 2", StringComparison.Ordinal)));
        Assert.Equal(2, lines.Count(l => l.StartsWith("[eval] step 3: accuracy", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("step ", StringComparison.Ordinal));
    }

    [Fact]
    public void Ctrl_C_prints_above_the_bars_the_bar_stops_at_the_last_step_and_resumes_from_it()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "quick.yaml"), Quick + "max_steps: 1000\nsave_steps: 2\n");
        var result = GspoTerminal.Run(dir.Path, new[] { "train", "--config", "quick.yaml", "--run-dir", "run" }, interruptAfter: "[save] checkpoint at step 2");
        Assert.True(result.ExitCode == 0, result.ToString());
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "run", "summary.json")))!;
        Assert.Equal("interrupted", summary["stopped"]!.GetValue<string>());
        int steps = summary["steps"]!.GetValue<int>();

        var lines = result.Lines;
        var bars = Bars(lines);
        Assert.True(bars.Select(b => b.Label).SequenceEqual(new[] { "sft", "gspo" }), result.ToString());
        Assert.Equal((int)(steps / 1000.0 * 100), bars[1].Percent);
        Assert.Equal(LastStepText(Path.Combine(dir.Path, "run", "metrics.jsonl"), steps), bars[1].Text);
        foreach (var message in new[] { "Ctrl-C: stopping after this step and writing a checkpoint (Ctrl-C again to quit at once).",
                                        $"[stop] stopped after step {steps}; resume with: gspo train --resume run" })
            Assert.True(lines.ToList().IndexOf(message) is >= 0 and var i && i < bars[0].Line, $"'{message}' on a line of its own above the bars:\n{result}");

        // Resumed for two more steps, the bar starts from the checkpoint's step and finishes.
        var resumed = GspoTerminal.Run(dir.Path, new[] { "train", "--resume", "run", "--set", $"max_steps={steps + 2}" });
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var bar = Bars(resumed.Lines);
        Assert.True(bar is [{ Label: "gspo", Percent: 100 }], resumed.ToString());
        Assert.Equal(LastStepText(Path.Combine(dir.Path, "run", "metrics.jsonl"), steps + 2), bar[0].Text);
        Assert.True(Index(resumed.Lines, $"[model] resuming from checkpoint-{steps:D6} (step {steps})") is >= 0 and var r && r < bar[0].Line, resumed.ToString());
    }

    [Fact]
    public void A_second_Ctrl_C_leaves_the_cursor_visible()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "quick.yaml"), Quick + "max_steps: 100000\nsave_steps: 2\n");
        var result = GspoTerminal.Run(dir.Path, new[] { "train", "--config", "quick.yaml", "--run-dir", "run" },
            "[save] checkpoint at step 2", "Ctrl-C: stopping after this step");
        // The second Ctrl-C ends the process at once, unless the run finished its step and stopped first.
        Assert.True(result.ExitCode is 0 or 130, result.ToString());
        Assert.True(result.Terminal.CursorVisible, result.ToString());
    }

    sealed record BarRow(int Line, string Label, string Text, int Percent);

    static List<BarRow> Bars(IReadOnlyList<string> lines) =>
        lines.Select((line, i) => (Match: Bar.Match(line), Line: i)).Where(m => m.Match.Success)
            .Select(m => new BarRow(m.Line, m.Match.Groups["label"].Value, m.Match.Groups["text"].Value,
                int.Parse(m.Match.Groups["percent"].Value, CultureInfo.InvariantCulture)))
            .ToList();

    static int Index(IReadOnlyList<string> lines, string prefix) => lines.ToList().FindIndex(l => l.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>The metrics of <paramref name="step"/> as the bar prints them, from the run's metrics.jsonl.</summary>
    static string LastStepText(string metricsFile, int step)
    {
        var m = File.ReadAllLines(metricsFile).Select(l => JsonNode.Parse(l)!.AsObject())
            .Last(o => o["step"]!.GetValue<int>() == step && o.ContainsKey("reward"));
        string F(string key, string format) => (m[key]?.GetValue<double>() ?? double.NaN).ToString(format, CultureInfo.InvariantCulture);
        return $"reward {F("reward", "F3")}  acc {F("rewards/accuracy/mean", "F3")}  clip {F("clip_fraction/tokens/region", "F3")}  " +
               $"kl {F("approx_kl", "G3")}  len {F("completions/mean_length", "F1")}  {F("tokens_per_second/generation", "F0")} tok/s" +
               (m.ContainsKey("eval/accuracy") ? $"  eval {F("eval/accuracy", "F3")}" : "");
    }
}
