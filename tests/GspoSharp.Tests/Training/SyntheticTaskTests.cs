using System.Globalization;
using System.Text.RegularExpressions;
using GspoSharp.Tasks;

namespace GspoSharp.Tests.Training;

public class SyntheticTaskTests
{
    static (string Prompt, string Answer, string Completion) Row(SyntheticTask task, long seed, TaskSplit split, long index)
    {
        var row = task.Example(seed, split, index);
        Assert.Equal(new[] { "prompt", "answer", "completion" }, row.Select(p => p.Key));
        return ((string)row["prompt"]!, (string)row["answer"]!, (string)row["completion"]!);
    }

    static int[] Terms(string prompt)
    {
        var match = Regex.Match(prompt, @"^Add: (\d+(?: \+ \d+)*)$");
        Assert.True(match.Success, $"unexpected prompt '{prompt}'");
        return match.Groups[1].Value.Split(" + ").Select(t => int.Parse(t, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>A demonstration "a+b=c, c+d=e. \boxed{e}" as its steps (left, term, shown) and its boxed result.</summary>
    static ((int Left, int Term, int Shown)[] Steps, int Boxed) Demonstration(string completion)
    {
        var match = Regex.Match(completion, @"^(\d+\+\d+=-?\d+(?:, -?\d+\+\d+=-?\d+)*)\. \\boxed\{(-?\d+)\}$");
        Assert.True(match.Success, $"unexpected demonstration '{completion}'");
        var steps = match.Groups[1].Value.Split(", ").Select(step =>
        {
            var m = Regex.Match(step, @"^(-?\d+)\+(\d+)=(-?\d+)$");
            return (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                int.Parse(m.Groups[3].Value, CultureInfo.InvariantCulture));
        }).ToArray();
        return (steps, int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    // ---- Determinism and splits ------------------------------------------------------------------------

    [Theory]
    [InlineData("arithmetic")]
    [InlineData("reverse")]
    public void The_same_seed_split_and_index_give_the_same_row_in_a_fresh_call(string name)
    {
        SyntheticTask Fresh() => name == "arithmetic" ? new ArithmeticChainTask() : new ReverseTask();
        foreach (var split in new[] { TaskSplit.Train, TaskSplit.Eval })
            foreach (long index in new long[] { 0, 1, 2, 99, 123_456_789_012 })
            {
                var first = Fresh().Example(3, split, index).ToJsonString();
                Assert.Equal(first, Fresh().Example(3, split, index).ToJsonString());
                Assert.Equal(first, SyntheticTask.Get(name).Example(3, split, index).ToJsonString());
            }
    }

    [Theory]
    [InlineData("arithmetic")]
    [InlineData("reverse")]
    public void Different_seeds_and_indices_give_different_rows(string name)
    {
        var task = SyntheticTask.Get(name);
        var seed1 = Enumerable.Range(0, 50).Select(i => Row(task, 1, TaskSplit.Train, i).Prompt).ToArray();
        var seed2 = Enumerable.Range(0, 50).Select(i => Row(task, 2, TaskSplit.Train, i).Prompt).ToArray();
        // Two random prompts coincide with probability below 1/81 for arithmetic (two terms) and 1/26³ for reverse.
        Assert.True(seed1.Zip(seed2).Count(p => p.First != p.Second) >= 40, "seeds 1 and 2 give mostly the same rows");
        Assert.True(seed1.Distinct().Count() >= 40, "rows of one seed repeat");
    }

    [Theory]
    [InlineData("arithmetic", 42)]
    [InlineData("reverse", 42)]
    public void No_prompt_is_both_a_training_and_a_held_out_prompt(string name, long seed)
    {
        var task = SyntheticTask.Get(name);
        var train = Enumerable.Range(0, 3000).Select(i => Row(task, seed, TaskSplit.Train, i).Prompt).ToHashSet();
        var eval = Enumerable.Range(0, 3000).Select(i => Row(task, seed, TaskSplit.Eval, i).Prompt).ToHashSet();
        Assert.Empty(train.Intersect(eval));
        // Both streams are rich: the check above is not passed by two tiny sets.
        Assert.True(train.Count > 1000 && eval.Count > 1000, $"{train.Count} train and {eval.Count} eval prompts");
    }

    [Fact]
    public void Unknown_task_names_are_refused_listing_the_built_in_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => SyntheticTask.Get("sorting"));
        Assert.Contains("arithmetic", e.Message);
        Assert.Contains("reverse", e.Message);
        Assert.Contains("'sorting'", e.Message);
        Assert.Equal(new[] { "arithmetic", "long-sum", "reverse" }, SyntheticTask.BuiltIn.Keys.Order());
        Assert.Throws<ArgumentException>(() => SyntheticTask.Get("Arithmetic"));
    }

    // ---- Arithmetic --------------------------------------------------------------------------------------------

    [Fact]
    public void Arithmetic_answers_are_the_true_sums_of_two_to_five_terms_from_one_to_nine()
    {
        var task = SyntheticTask.Get("arithmetic");
        var counts = new int[6];
        foreach (var split in new[] { TaskSplit.Train, TaskSplit.Eval })
            for (int i = 0; i < 1000; i++)
            {
                var (prompt, answer, _) = Row(task, 42, split, i);
                var terms = Terms(prompt);
                Assert.InRange(terms.Length, 2, 5);
                Assert.All(terms, t => Assert.InRange(t, 1, 9));
                counts[terms.Length]++;
                Assert.Equal(terms.Sum().ToString(CultureInfo.InvariantCulture), answer);
            }
        Assert.All(new[] { 2, 3, 4, 5 }, n => Assert.True(counts[n] > 300, $"{counts[n]} rows with {n} terms"));
    }

    [Fact]
    public void Arithmetic_demonstrations_add_step_by_step_with_each_step_right_or_off_by_one_at_the_stated_rate()
    {
        var task = SyntheticTask.Get("arithmetic");
        int steps = 0, wrongSteps = 0, wrongAnswers = 0, tooLow = 0;
        for (int i = 0; i < 2000; i++)
        {
            var (prompt, answer, completion) = Row(task, 42, TaskSplit.Train, i);
            var terms = Terms(prompt);
            var (demo, boxed) = Demonstration(completion);
            Assert.Equal(terms.Length - 1, demo.Length);
            Assert.Equal(terms[0], demo[0].Left);
            for (int k = 0; k < demo.Length; k++)
            {
                Assert.Equal(terms[k + 1], demo[k].Term);
                if (k > 0) Assert.Equal(demo[k - 1].Shown, demo[k].Left);   // an error carries on
                int error = demo[k].Shown - (demo[k].Left + demo[k].Term);
                Assert.InRange(error, -1, 1);
                steps++;
                if (error != 0) wrongSteps++;
                if (error < 0) tooLow++;
            }
            Assert.Equal(demo[^1].Shown, boxed);
            if (boxed.ToString(CultureInfo.InvariantCulture) != answer) wrongAnswers++;
        }
        double rate = (double)wrongSteps / steps;
        Assert.InRange(rate, 0.17, 0.23);
        // Errors go both ways, about evenly.
        Assert.InRange((double)tooLow / wrongSteps, 0.4, 0.6);
        // With 1 to 4 steps at 20 % each, well over a fifth of the demonstrations end wrong.
        Assert.InRange(wrongAnswers, 400, 1200);
    }

    [Fact]
    public void Without_demonstration_errors_every_demonstration_is_right()
    {
        var task = new ArithmeticChainTask(demonstrationErrorRate: 0);
        for (int i = 0; i < 500; i++)
        {
            var (prompt, answer, completion) = Row(task, 1, TaskSplit.Train, i);
            var terms = Terms(prompt);
            var (demo, boxed) = Demonstration(completion);
            int running = terms[0];
            for (int k = 0; k < demo.Length; k++)
            {
                running += terms[k + 1];
                Assert.Equal((running - terms[k + 1], terms[k + 1], running), demo[k]);
            }
            Assert.Equal(answer, boxed.ToString(CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void A_custom_arithmetic_task_keeps_to_its_ranges()
    {
        var task = new ArithmeticChainTask(minTerms: 3, maxTerms: 3, maxNumber: 50);
        for (int i = 0; i < 300; i++)
        {
            var terms = Terms(Row(task, 1, TaskSplit.Train, i).Prompt);
            Assert.Equal(3, terms.Length);
            Assert.All(terms, t => Assert.InRange(t, 1, 50));
        }
    }

    [Fact]
    public void Arithmetic_responses_grow_with_the_number_of_terms()
    {
        var task = SyntheticTask.Get("arithmetic");
        var byTerms = Enumerable.Range(0, 1000).Select(i => Row(task, 42, TaskSplit.Train, i))
            .GroupBy(r => Terms(r.Prompt).Length).ToDictionary(g => g.Key, g => g.Select(r => r.Completion.Length).ToArray());
        // Two terms, "1+2=3. \boxed{3}" to "9+9=18. \boxed{18}": 16 to 18 characters. Five terms, four
        // steps: at least "1+1=2, 2+1=3, 3+1=4, 4+1=5. \boxed{5}", 37 characters (an error can shorten it by one).
        Assert.All(byTerms[2], n => Assert.InRange(n, 15, 18));
        Assert.All(byTerms[5], n => Assert.True(n >= 36, $"{n} characters"));
        Assert.True(byTerms[5].Average() > 2 * byTerms[2].Average(), $"{byTerms[5].Average()} vs {byTerms[2].Average()} characters");
        // Lengths spread over the whole range, not a handful of values: 16 and 18 for two terms, up to ~45 for five.
        var lengths = byTerms.Values.SelectMany(v => v).Distinct().Order().ToArray();
        Assert.True(lengths.Length >= 10, "completion lengths barely vary: " + string.Join(", ", lengths));
    }

    // ---- Reverse -----------------------------------------------------------------------------------------------

    [Fact]
    public void Reverse_answers_are_the_letters_in_reverse_order()
    {
        var task = SyntheticTask.Get("reverse");
        var lengths = new HashSet<int>();
        for (int i = 0; i < 1000; i++)
        {
            var (prompt, answer, completion) = Row(task, 42, i % 2 == 0 ? TaskSplit.Train : TaskSplit.Eval, i);
            Assert.StartsWith("Reverse: ", prompt);
            var letters = prompt["Reverse: ".Length..].Split(' ');
            Assert.InRange(letters.Length, 3, 24);
            Assert.All(letters, l => Assert.Matches("^[a-z]$", l));
            lengths.Add(letters.Length);
            string reversed = string.Join(" ", Enumerable.Range(1, letters.Length).Select(k => letters[^k]));
            Assert.Equal(reversed, answer);
            Assert.Equal($"{reversed}. \\boxed{{{reversed}}}", completion);
        }
        Assert.Equal(22, lengths.Count);   // every length from 3 to 24 occurs
    }
}
