using System.Globalization;
using System.Text.Json.Nodes;
using GspoSharp.Rewards;
using GspoSharp.Tasks;

namespace GspoSharp.Bench;

/// <summary>
/// The accuracy reward runs on every completion of every step: time per call on the demo's
/// arithmetic completions, on GSM8K / MATH-style completions whose answers are LaTeX, and on the
/// worst input it accepts (a malformed answer at the length limit), against the plain
/// decimal-or-string comparison it replaced; and a whole step's rewards (16 × 8 completions).
/// </summary>
internal static class RewardBench
{
    /// <summary>Reasoning of a typical length before the final answer (~400 characters).</summary>
    const string Work = "Let me work through this step by step. First, the total is 3 \\times 6 = 18, then we " +
        "subtract the 4 that were given away, so 18 - 4 = 14. Each of the 2 friends gets half: 14 / 2 = 7. " +
        "Checking: 7 + 7 = 14 and 14 + 4 = 18, which matches the total. The question asks for the amount in " +
        "the end, including the bonus of 1/2 of the remainder, so we combine these to get the final answer. ";

    static readonly (string Answer, string Reference)[] Latex =
    {
        (@"\$18", "18"), (@"18 \text{ dollars}", "18"), (@"50\%", "50"), (@"\frac{1}{2}", "0.5"),
        (@"\dfrac{3}{4}", "3/4"), (@"x = 5", "5"), (@"2\sqrt{2}", @"2\sqrt 2"), (@"(1, 2)", "(1,2)"),
        (@"\{1, 2, 3\}", @"\{3, 2, 1\}"), (@"(-\infty, 3]", @"(-\infty,3]"), (@"\text{(B)}", "B"), (@"1{,}000", "1000"),
        (@"\frac{\sqrt{3}}{2}", @"\frac{1}{2}\sqrt{3}"), (@"y = 2x + 3", "y = 3 + 2x"), (@"180", "18"), (@"\frac13", "0.333"),
    };

    public static void Run()
    {
        var task = SyntheticTask.Get("arithmetic");
        var arithmetic = Enumerable.Range(0, 512).Select(i => task.Example(1, TaskSplit.Train, i)).Select((row, i) =>
        {
            // Half right, half off by one, as the demo's completions are early in training.
            string answer = row["answer"]!.GetValue<string>();
            string completion = i % 2 == 0 ? row["completion"]!.GetValue<string>()
                : row["completion"]!.GetValue<string>().Replace($@"\boxed{{{answer}}}", $@"\boxed{{{int.Parse(answer, CultureInfo.InvariantCulture) + 1}}}");
            return Input(completion, answer);
        }).ToArray();
        var latex = Latex.Select(p => Input($@"{Work}\boxed{{{p.Answer}}}", p.Reference)).ToArray();
        // The slowest inputs accepted: a malformed answer at the length limit, and a set near the
        // length limit (compared item by item in both directions) against the same set reversed.
        string malformed = (string.Concat(Enumerable.Repeat(@"\frac{\sqrt{(1+", 40)) + string.Concat(Enumerable.Repeat("})}", 39))).PadRight(AnswerEquivalence.MaxAnswerLength, '+');
        var items = Enumerable.Range(2, 60).Select(k => $@"\sqrt{{{k}}}").ToList();
        string set = $@"\{{{string.Join(",", items)}\}}", reversed = $@"\{{{string.Join(",", items.AsEnumerable().Reverse())}\}}";
        var worst = new[] { Input($@"{Work}\boxed{{{malformed}}}", "12"), Input($@"{Work}\boxed{{{set}}}", reversed) };

        var reward = new AccuracyReward();
        Console.WriteLine("accuracy reward, per call (median of 7 timed repeats):");
        foreach (var (name, inputs) in new[] { ("arithmetic demo (integers)", arithmetic), ("GSM8K/MATH LaTeX answers", latex), ("worst: 1000-char malformed, 60-item set", worst) })
        {
            int calls = Math.Max(1, 20_000 / inputs.Length) * inputs.Length;
            var (seconds, cpu) = Timed(() =>
            {
                for (int i = 0; i < calls; i++) reward.Score(inputs[i % inputs.Length]);
            });
            var (plain, plainCpu) = Timed(() =>
            {
                for (int i = 0; i < calls; i++) PlainComparison(inputs[i % inputs.Length]);
            });
            Console.WriteLine($"  {name,-42}: {seconds / calls * 1e6,8:F2} µs wall, {cpu / calls * 1e6,7:F2} µs CPU" +
                              $"  (plain decimal/string comparison: {plain / calls * 1e6,6:F2} µs wall, {plainCpu / calls * 1e6,6:F2} µs CPU)");
        }

        var step = Enumerable.Range(0, 128).Select(i => i % 4 == 0 ? latex[i / 4 % latex.Length] : arithmetic[i]).ToArray();
        var model = new RewardModel(new[] { new WeightedReward(reward, 1.0), new WeightedReward(new FormatReward(), 0.1) });
        double batch = Measure.Seconds(() => model.Score(step), warmup: 3, repeats: 21);
        Console.WriteLine($"  one step's rewards, 16 × 8 completions (accuracy + format, in parallel): {batch * 1e3:F3} ms");
    }

    /// <summary>Median wall seconds of a run (Measure.Seconds), and the process's CPU seconds per run
    /// over the timed runs: on a shared machine the CPU figure is the one other processes do not inflate.</summary>
    static (double Wall, double Cpu) Timed(Action action)
    {
        action();   // warm-up (JIT tiers, regex construction) outside the CPU figure
        action();
        var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        var before = process.TotalProcessorTime;
        double wall = Measure.Seconds(action, warmup: 0, repeats: 7);
        process.Refresh();
        double cpu = (process.TotalProcessorTime - before).TotalSeconds / 7;
        return (wall, cpu);
    }

    static RewardInput Input(string completion, string answer) => new("question", completion, new JsonObject { ["answer"] = answer }, Truncated: false);

    /// <summary>What the accuracy reward did before: the final answer compared as a decimal, else as a string.</summary>
    static bool PlainComparison(RewardInput input)
    {
        string? answer = AnswerExtraction.FinalAnswer(input.Completion);
        if (answer is null) return false;
        string a = answer.Replace(",", "").Trim(), e = input.Row["answer"]!.GetValue<string>().Replace(",", "").Trim();
        if (decimal.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) &&
            decimal.TryParse(e, NumberStyles.Float, CultureInfo.InvariantCulture, out var y))
            return x == y;
        return string.Equals(a, e, StringComparison.Ordinal);
    }
}
