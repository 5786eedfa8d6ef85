using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Tokenization;
using GspoSharp.Tasks;

namespace GspoSharp.Tests.Training;

/// <summary>The long-answer task and the per-step credit of the arithmetic chain tasks.</summary>
public class LongSumTaskTests
{
    static JsonObject Prompt(string prompt) => new() { ["prompt"] = prompt, ["answer"] = "0" };

    [Fact]
    public void Long_sum_is_built_in_with_its_name_and_demonstration_error_rate()
    {
        var task = (ArithmeticChainTask)SyntheticTask.Get("long-sum");
        Assert.Equal("long-sum", task.Name);
        Assert.Equal(0.05, task.DemonstrationErrorRate);
        Assert.Equal("sum 13–30 numbers from 1 to 9 step by step, answer in \\boxed{}; demonstrations err on 5% of steps", task.Description);
    }

    [Fact]
    public void Long_sum_prompts_have_12_to_30_terms_and_answers_are_their_sums()
    {
        var task = SyntheticTask.Get("long-sum");
        var counts = new HashSet<int>();
        for (int i = 0; i < 400; i++)
        {
            var row = task.Example(1, TaskSplit.Train, i);
            var terms = ((string)row["prompt"]!)["Add: ".Length..].Split(" + ").Select(int.Parse).ToArray();
            Assert.InRange(terms.Length, 13, 30);
            Assert.All(terms, t => Assert.InRange(t, 1, 9));
            Assert.Equal(terms.Sum().ToString(System.Globalization.CultureInfo.InvariantCulture), (string)row["answer"]!);
            counts.Add(terms.Length);
        }
        Assert.Equal(18, counts.Count);   // every length from 13 to 30 occurs
    }

    [Fact]
    public void Long_sum_demonstrations_are_100_to_300_tokens_of_the_tiny_models_tokenizer()
    {
        using var directory = new TempDirectory();
        var tokenizer = TinyTokenizer.Write(directory.Path, TinyModels.DefaultCorpus(), TinyModels.VocabSize);
        var task = SyntheticTask.Get("long-sum");
        var lengths = Enumerable.Range(0, 300).Select(i => tokenizer.Encode((string)task.Example(2, TaskSplit.Train, i)["completion"]!).Length).ToList();
        Assert.InRange(lengths.Min(), 100, 300);
        Assert.InRange(lengths.Max(), 100, 300);
    }

    [Fact]
    public void Long_sum_demonstrations_err_on_about_5_percent_of_steps_and_every_error_is_off_by_one()
    {
        var task = SyntheticTask.Get("long-sum");
        int steps = 0, wrong = 0;
        for (int i = 0; i < 500; i++)
        {
            var row = task.Example(3, TaskSplit.Train, i);
            var credit = task.Steps(row, (string)row["completion"]!)!;
            int terms = ((string)row["prompt"]!).Split(" + ").Length;
            Assert.Equal(terms - 1, credit.Count);
            steps += credit.Count;
            wrong += credit.Count(c => !c.Correct);
        }
        // ~10,000 steps at p = 0.05: the count is within 6 standard deviations (±130) of 500.
        Assert.InRange(wrong, 370, 630);
        Assert.True(steps > 9000, $"{steps} steps");
    }

    [Fact]
    public void Step_credit_marks_each_step_with_its_span_and_whether_it_is_right()
    {
        var task = SyntheticTask.Get("arithmetic");
        Assert.Equal(new[] { new StepCredit(0, 5, true), new StepCredit(7, 6, true) },
            task.Steps(Prompt("Add: 7 + 2 + 5"), "7+2=9, 9+5=14. \\boxed{14}"));
        Assert.Equal(new[] { new StepCredit(0, 5, true), new StepCredit(7, 6, false) },
            task.Steps(Prompt("Add: 7 + 2 + 5"), "7+2=9, 9+5=15. \\boxed{15}"));
    }

    [Fact]
    public void A_step_that_continues_correctly_from_a_wrong_total_is_right()
    {
        var task = SyntheticTask.Get("long-sum");
        // 7+2=10 is the error; 10+5=15 adds the next term to the total written before: right.
        Assert.Equal(new[] { new StepCredit(0, 6, false), new StepCredit(8, 7, true) },
            task.Steps(Prompt("Add: 7 + 2 + 5"), "7+2=10, 10+5=15. \\boxed{15}"));
    }

    [Fact]
    public void Wrong_terms_wrong_left_operands_and_extra_steps_are_wrong()
    {
        var task = SyntheticTask.Get("arithmetic");
        // term 3 instead of 2 (sum right for it) | left operand not the previous total | one step too many
        Assert.Equal(new[] { new StepCredit(0, 6, false), new StepCredit(8, 7, false), new StepCredit(17, 7, false) },
            task.Steps(Prompt("Add: 7 + 2 + 5"), "7+3=10, 11+5=16, 16+1=17. \\boxed{17}"));
    }

    [Fact]
    public void Text_after_the_boxed_answer_and_text_that_is_no_step_carry_no_credit()
    {
        var task = SyntheticTask.Get("arithmetic");
        Assert.Equal(new[] { new StepCredit(4, 5, true) },
            task.Steps(Prompt("Add: 7 + 2"), "so: 7+2=9. \\boxed{9} 9+1=10"));
        Assert.Empty(task.Steps(Prompt("Add: 7 + 2"), "nine")!);
    }

    [Fact]
    public void Tasks_without_steps_and_prompts_of_another_form_have_no_credit()
    {
        Assert.Null(SyntheticTask.Get("reverse").Steps(new JsonObject { ["prompt"] = "Reverse: a b" }, "b a"));
        Assert.Null(SyntheticTask.Get("arithmetic").Steps(Prompt("What is 2+2?"), "2+2=4"));
    }
}
