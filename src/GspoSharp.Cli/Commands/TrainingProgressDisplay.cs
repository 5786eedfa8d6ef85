using System.Globalization;
using GspoSharp.Training;
using Spectre.Console;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// Shows a run as it goes. In an interactive terminal: a live progress bar per stage with the
/// step's key metrics, elapsed and remaining time (Spectre.Console). Otherwise (CI, pipes):
/// plain lines, one per <paramref name="lineEvery"/> steps.
/// </summary>
internal sealed class TrainingProgressDisplay(ProgressContext? live, int lineEvery) : ITrainingProgress
{
    ProgressTask? current;
    int? firstStep;   // a resumed run starts past step 1: the time per step counts this invocation's steps only

    static string F(double v, string format = "F3") => v.ToString(format, CultureInfo.InvariantCulture);

    public void Stage(string stage, string description)
    {
        current?.StopTask();
        current = null;
        if (live is not null && stage is "sft" or "train")
            current = live.AddTask(Markup.Escape($"{stage}: {description}"), maxValue: 1);
        else
            Write($"[{stage}] {description}");
    }

    public void SftStep(int step, int total, double loss)
    {
        if (current is not null)
        {
            current.MaxValue = total;
            current.Value = step;
            current.Description = Markup.Escape($"sft   loss {F(loss)}");
        }
        else if (step % lineEvery == 0 || step == total) Write($"sft {step}/{total}  loss {F(loss)}");
    }

    public void RlStep(int step, int total, IReadOnlyDictionary<string, double> m, TimeSpan elapsed)
    {
        double Get(string key) => m.TryGetValue(key, out var v) ? v : double.NaN;
        firstStep ??= step;
        var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / (step - firstStep.Value + 1) * (total - step));
        string line = $"reward {F(Get("reward"))}  acc {F(Get("rewards/accuracy/mean"))}  clip {F(Get("clip_fraction/tokens/region"))}  " +
                      $"kl {F(Get("approx_kl"), "G3")}  len {F(Get("completions/mean_length"), "F1")}  " +
                      $"{F(Get("tokens_per_second/generation"), "F0")} tok/s" +
                      (m.TryGetValue("routing/volatility", out var v) ? $"  volatility {F(v)}" : "") +
                      (m.TryGetValue("eval/accuracy", out var a) ? $"  eval {F(a)}" : "");
        if (current is not null)
        {
            current.MaxValue = total;
            current.Value = step;
            current.Description = Markup.Escape($"gspo  {line}");
        }
        else if (step % lineEvery == 0 || step == total || step == 1)
            Write($"step {step}/{total}  {line}  elapsed {elapsed:mm\\:ss} remaining {remaining:mm\\:ss}");
    }

    public void Evaluated(string label, EvaluationResult r) =>
        Write($"[eval] {label}: accuracy {F(r.Accuracy)} (pass@1 over {r.SamplesPerPrompt} samples of {r.Prompts} held-out prompts), " +
              $"mean length {F(r.MeanLength, "F1")} tokens, {F(r.Seconds, "F1")} s");

    public void Warning(string message) => Write($"warning: {message}");

    void Write(string text)
    {
        if (live is not null) AnsiConsole.MarkupLine(Markup.Escape(text));
        else Console.WriteLine(text);
    }
}
