using System.Globalization;
using GspoSharp.Training;
using Spectre.Console;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// Shows a run as it goes. In an interactive terminal: a live progress bar per stepping stage
/// (SFT, RL) with the step's key metrics, elapsed and remaining time (Spectre.Console), and every
/// other stage — model, evaluation, checkpoint, save, stop, experiment run — as a line printed
/// above the bars, which keep going through it. Otherwise (CI, pipes): plain lines, one per
/// <paramref name="lineEvery"/> steps.
/// </summary>
internal sealed class TrainingProgressDisplay(ProgressContext? live, int lineEvery) : ITrainingProgress
{
    // The bar of each stepping stage ("sft", "train"). A new bar of a kind replaces the previous
    // one (an experiment's next run), so the display stays a few rows high however many runs.
    readonly Dictionary<string, ProgressTask> bars = new();
    int? firstStep;   // a resumed run starts past step 1: the time per step counts this invocation's steps only

    static string F(double v, string format = "F3") => v.ToString(format, CultureInfo.InvariantCulture);

    public void Stage(string stage, string description)
    {
        Write($"[{stage}] {description}");
        if (stage == "train") firstStep = null;   // an experiment's next run
        if (live is null) return;
        if (stage is "sft" or "train")
        {
            if (bars.Remove(stage, out var previous))
            {
                Finish(previous);
                previous.HideWhenCompleted = true;
            }
            // A maximum of 1 until the first step gives the total; the label is the one the steps keep.
            bars[stage] = live.AddTask(stage == "sft" ? "sft" : "gspo", maxValue: 1);
        }
        else if (stage == "stop")
            foreach (var bar in bars.Values) Finish(bar);   // the bars stay where the run stopped, their clocks too
    }

    public void SftStep(int step, int total, double loss)
    {
        if (live is not null && bars.TryGetValue("sft", out var bar))
            Advance(bar, step, total, $"sft   loss {F(loss)}");
        else if (step % lineEvery == 0 || step == total) Write($"sft {step}/{total}  loss {F(loss)}");
    }

    public void RlStep(int step, int total, IReadOnlyDictionary<string, double> m, TimeSpan elapsed)
    {
        double Get(string key) => m.TryGetValue(key, out var v) ? v : double.NaN;
        bool first = firstStep is null;
        firstStep ??= step;
        var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / (step - firstStep.Value + 1) * (total - step));
        string line = $"reward {F(Get("reward"))}  acc {F(Get("rewards/accuracy/mean"))}  clip {F(Get("clip_fraction/tokens/region"))}  " +
                      $"kl {F(Get("approx_kl"), "G3")}  len {F(Get("completions/mean_length"), "F1")}  " +
                      $"{F(Get("tokens_per_second/generation"), "F0")} tok/s" +
                      (m.TryGetValue("routing/volatility", out var v) ? $"  volatility {F(v)}" : "") +
                      (m.TryGetValue("eval/accuracy", out var a) ? $"  eval {F(a)}" : "");
        if (live is not null && bars.TryGetValue("train", out var bar))
        {
            if (first && step > 1) StartAt(bar, step - 1, total);
            Advance(bar, step, total, $"gspo  {line}");
        }
        else if (step % lineEvery == 0 || step == total || step == 1)
            Write($"step {step}/{total}  {line}  elapsed {elapsed:mm\\:ss} remaining {remaining:mm\\:ss}");
    }

    public void Evaluated(string label, EvaluationResult r) =>
        Write($"[eval] {label}: accuracy {F(r.Accuracy)} (pass@1 over {r.SamplesPerPrompt} samples of {r.Prompts} held-out prompts), " +
              $"mean length {F(r.MeanLength, "F1")} tokens, {F(r.Seconds, "F1")} s");

    public void Warning(string message) => Write($"warning: {message}");

    static void Advance(ProgressTask bar, int step, int total, string description)
    {
        bar.MaxValue = total;
        bar.Value = step;
        bar.Description = Markup.Escape(description);
        if (step >= total) Finish(bar);   // the final evaluation and save do not count as the stage's time
    }

    /// <summary>A resumed run's bar starts at the checkpoint's step, which is not progress made at this
    /// speed: the jump is not sampled, so the remaining time reflects this invocation's steps only.</summary>
    static void StartAt(ProgressTask bar, int done, int total)
    {
        int kept = bar.MaxSamplesKept;
        bar.MaxSamplesKept = 0;
        bar.MaxValue = total;
        bar.Value = done;
        bar.MaxSamplesKept = kept;
    }

    static void Finish(ProgressTask bar)
    {
        if (bar.StopTime is null) bar.StopTask();   // stopping again would move the stop time
    }

    void Write(string text)
    {
        if (live is not null) AnsiConsole.MarkupLine(Markup.Escape(text));   // through Spectre: printed above the live bars
        else Console.WriteLine(text);
    }
}
