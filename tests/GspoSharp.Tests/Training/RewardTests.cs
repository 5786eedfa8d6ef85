using System.Text.Json.Nodes;
using GspoSharp.Rewards;

namespace GspoSharp.Tests.Training;

public class RewardTests
{
    // ---- AnswerExtraction ------------------------------------------------------------------------------

    [Theory]
    [InlineData(@"so the answer is \boxed{42}.", "42")]
    [InlineData(@"\boxed{\frac{1}{2}}", @"\frac{1}{2}")]
    [InlineData(@"x = \boxed{\sqrt{\frac{a}{b}} + {c}} done", @"\sqrt{\frac{a}{b}} + {c}")]
    [InlineData(@"first \boxed{3}, then \boxed{4}, finally \boxed{5}", "5")]
    [InlineData(@"\boxed{ 12 }", "12")]
    [InlineData(@"\boxed{}", "")]
    [InlineData(@"\boxed{z q k}", "z q k")]
    [InlineData(@"no box here: 7", null)]
    [InlineData(@"\boxed{12", null)]                 // never closed
    [InlineData(@"\boxed{\frac{1}{2}", null)]        // outer brace never closed
    [InlineData(@"\boxed 12", null)]
    public void LastBoxed_takes_the_last_box_with_balanced_braces(string text, string? expected) =>
        Assert.Equal(expected, AnswerExtraction.LastBoxed(text));

    [Theory]
    [InlineData("7+2=9, 9+5=14.", "14")]
    [InlineData("The answer is -3", "-3")]
    [InlineData("it costs 2.50 dollars", "2.50")]
    [InlineData("-0.125 is it", "-0.125")]
    [InlineData("about 1,234,567 people", "1234567")]
    [InlineData("from 3 to 12.", "12")]
    [InlineData("12. Done", "12")]
    [InlineData("5-3", "-3")]
    [InlineData("x1 and y22z", "22")]
    [InlineData("no digits at all", null)]
    [InlineData("", null)]
    [InlineData("- . , -", null)]
    public void LastNumber_takes_the_last_number(string text, string? expected) =>
        Assert.Equal(expected, AnswerExtraction.LastNumber(text));

    [Theory]
    [InlineData(@"7+2=9, 9+5=14. \boxed{14}", "14")]
    [InlineData(@"\boxed{14} though maybe 15", "14")]   // a box wins over a later number
    [InlineData(@"7+2=9, 9+5=14.", "14")]
    [InlineData(@"\boxed{13 then 14", "14")]            // an unclosed box falls back to the last number
    [InlineData(@"I don't know", null)]
    public void FinalAnswer_prefers_the_box_and_falls_back_to_the_last_number(string text, string? expected) =>
        Assert.Equal(expected, AnswerExtraction.FinalAnswer(text));

    [Theory]
    [InlineData("1.50", "1.5", true)]
    [InlineData("1.5", "1.50", true)]
    [InlineData("12", " 12 ", true)]
    [InlineData(" 12\n", "12", true)]
    [InlineData("012", "12", true)]
    [InlineData("-0", "0", true)]
    [InlineData("1,000", "1000", true)]
    [InlineData("12", "13", false)]
    [InlineData("1.5", "1.05", false)]
    [InlineData("-3", "3", false)]
    [InlineData("z q k", " z q k ", true)]
    [InlineData("z q k", "k q z", false)]
    [InlineData("abc", "ABC", false)]
    [InlineData(@"\frac{1}{2}", @"\frac{1}{2}", true)]
    [InlineData(@"\frac{1}{2}", "0.5", true)]              // LaTeX is read as mathematics (AnswerEquivalenceTests)
    [InlineData("", "", false)]                            // an empty answer is never right
    [InlineData("", "0", false)]
    public void Equivalent_compares_numbers_as_numbers_and_other_answers_as_trimmed_strings(string answer, string expected, bool equal) =>
        Assert.Equal(equal, AnswerExtraction.Equivalent(answer, expected));

    [Fact]
    public void No_answer_is_never_equivalent() => Assert.False(AnswerExtraction.Equivalent(null, ""));

    // ---- Built-in rewards --------------------------------------------------------------------------------

    static RewardInput Input(string completion, JsonObject? row = null) =>
        new("Add: 7 + 2 + 5", completion, row ?? new JsonObject { ["answer"] = "14" }, Truncated: false);

    [Theory]
    [InlineData(@"7+2=9, 9+5=14. \boxed{14}", 1)]
    [InlineData(@"7+2=9, 9+5=15. \boxed{15}", 0)]
    [InlineData(@"7+2=9, 9+5=14.", 1)]                  // no box: the last number counts
    [InlineData(@"7+2=9, 9+5=14. \boxed{15}", 0)]       // the box counts, not the work
    [InlineData(@"\boxed{14.0}", 1)]
    [InlineData(@"\boxed{ 14 }", 1)]
    [InlineData(@"fourteen", 0)]
    [InlineData(@"", 0)]
    public void Accuracy_is_one_when_the_final_answer_matches(string completion, double expected) =>
        Assert.Equal(expected, new AccuracyReward().Score(Input(completion)).Value);

    [Fact]
    public void Accuracy_reads_numeric_and_string_answers_and_other_fields()
    {
        Assert.Equal(1.0, new AccuracyReward().Score(Input(@"\boxed{14}", new JsonObject { ["answer"] = 14 })).Value);
        Assert.Equal(1.0, new AccuracyReward().Score(Input(@"\boxed{1.50}", new JsonObject { ["answer"] = 1.5 })).Value);
        Assert.Equal(0.0, new AccuracyReward().Score(Input(@"\boxed{1.5}", new JsonObject { ["answer"] = 2 })).Value);
        Assert.Equal(1.0, new AccuracyReward().Score(Input(@"z q k. \boxed{z q k}", new JsonObject { ["answer"] = "z q k" })).Value);
        var solution = new AccuracyReward("solution");
        Assert.Equal(1.0, solution.Score(Input(@"\boxed{7}", new JsonObject { ["answer"] = "8", ["solution"] = "7" })).Value);
        var missing = Assert.Throws<InvalidOperationException>(() => solution.Score(Input(@"\boxed{7}", new JsonObject { ["answer"] = "7" })));
        Assert.Contains("\"solution\"", missing.Message);
    }

    [Theory]
    [InlineData(@"7+2=9, 9+5=14. \boxed{14}", 1)]
    [InlineData(@"\boxed{14}", 1)]
    [InlineData(@"\boxed{14}.", 1)]
    [InlineData(@"\boxed{14}!  ", 1)]
    [InlineData("\\boxed{14}\n", 1)]
    [InlineData(@"\boxed{z q k}", 1)]
    [InlineData(@"\boxed{\frac{1}{2}}", 1)]             // nested braces are part of the answer
    [InlineData(@"\boxed{\frac{1}{2}}.", 1)]
    [InlineData(@"\boxed{1} and \boxed{2}", 1)]
    [InlineData(@"\boxed{14} because 9+5=14", 0)]       // something after the box
    [InlineData(@"\boxed{14}}", 0)]
    [InlineData(@"\boxed{14", 0)]
    [InlineData(@"\boxed{\frac{1}{2}", 0)]
    [InlineData(@"14", 0)]
    [InlineData(@"boxed{14}", 0)]
    [InlineData(@"", 0)]
    public void Format_is_one_when_the_completion_ends_with_a_boxed_answer(string completion, double expected) =>
        Assert.Equal(expected, new FormatReward().Score(Input(completion)).Value);

    [Fact]
    public void Rewards_require_the_fields_they_read()
    {
        Assert.Equal(new[] { "answer" }, new AccuracyReward().RequiredFields);
        Assert.Equal(new[] { "solution" }, new AccuracyReward("solution").RequiredFields);
        Assert.Empty(((IRewardFunction)new FormatReward()).RequiredFields);
        Assert.Equal(("accuracy", "format"), (new AccuracyReward().Name, new FormatReward().Name));
    }

    // ---- RewardModel -----------------------------------------------------------------------------------------

    /// <summary>Scores from a function of the completion; thread-safe.</summary>
    sealed class Stub(string name, Func<string, RewardScore> score) : IRewardFunction
    {
        public string Name => name;
        public RewardScore Score(RewardInput input) => score(input.Completion);
    }

    static Stub Table(string name, Dictionary<string, double> scores) => new(name, c => new RewardScore(scores[c]));

    static RewardInput[] Inputs(params string[] completions) => completions.Select(c => Input(c)).ToArray();

    [Fact]
    public void Totals_are_the_weighted_sums_of_the_functions_scores()
    {
        var a = Table("a", new() { ["x"] = 1, ["y"] = 0, ["z"] = 1 });
        var b = Table("b", new() { ["x"] = 0.4, ["y"] = 1, ["z"] = -2 });
        var model = new RewardModel(new[] { new WeightedReward(a, 2.0), new WeightedReward(b, 0.5) });
        var batch = model.Score(Inputs("x", "y", "z"));

        // 2·1 + 0.5·0.4 = 2.2;  2·0 + 0.5·1 = 0.5;  2·1 + 0.5·(−2) = 1.0
        Assert.Equal(new[] { 2.2, 0.5, 1.0 }, batch.Totals, (p, q) => Math.Abs(p - q) < 1e-12);
        Assert.Equal(new[] { "a", "b" }, batch.ByFunction.Keys.Order());
        Assert.Equal(new[] { 1.0, 0.0, 1.0 }, batch.ByFunction["a"]);
        Assert.Equal(new[] { 0.4, 1.0, -2.0 }, batch.ByFunction["b"]);
        Assert.Empty(batch.Failures);
    }

    [Fact]
    public void Built_in_rewards_combine_with_the_tasks_weights()
    {
        var model = new RewardModel(new[] { new WeightedReward(new AccuracyReward(), 1.0), new WeightedReward(new FormatReward(), 0.1) });
        var batch = model.Score(Inputs(@"\boxed{14}", @"\boxed{15}", "14", "15 is it"));
        Assert.Equal(new[] { 1.1, 0.1, 1.0, 0.0 }, batch.Totals, (p, q) => Math.Abs(p - q) < 1e-12);
        Assert.Equal(new[] { 1.0, 0.0, 1.0, 0.0 }, batch.ByFunction["accuracy"]);
        Assert.Equal(new[] { 1.0, 1.0, 0.0, 0.0 }, batch.ByFunction["format"]);
    }

    [Fact]
    public void Named_components_are_reported_per_completion()
    {
        var parts = new Stub("parts", c => new RewardScore(c.Length, new Dictionary<string, double> { ["len"] = c.Length, ["half"] = c.Length / 2.0 }));
        var batch = new RewardModel(new[] { new WeightedReward(parts, 1.0) }).Score(Inputs("ab", "abcde"));
        Assert.Equal(new[] { 2.0, 5.0 }, batch.ByFunction["parts"]);
        Assert.Equal(new[] { 2.0, 5.0 }, batch.ByFunction["parts/len"]);
        Assert.Equal(new[] { 1.0, 2.5 }, batch.ByFunction["parts/half"]);
    }

    [Fact]
    public void A_reward_that_throws_scores_zero_there_and_is_recorded_while_the_rest_score_normally()
    {
        var fragile = new Stub("fragile", c => c == "boom" ? throw new InvalidOperationException("cannot parse 'boom'") : new RewardScore(1));
        var steady = new Stub("steady", c => new RewardScore(c.Length));
        var model = new RewardModel(new[] { new WeightedReward(fragile, 3.0), new WeightedReward(steady, 0.5) });
        var batch = model.Score(Inputs("ok", "boom", "fine"));

        Assert.Equal(new[] { 1.0, 0.0, 1.0 }, batch.ByFunction["fragile"]);
        Assert.Equal(new[] { 2.0, 4.0, 4.0 }, batch.ByFunction["steady"]);
        // 3·1 + 0.5·2 = 4;  3·0 + 0.5·4 = 2;  3·1 + 0.5·4 = 5
        Assert.Equal(new[] { 4.0, 2.0, 5.0 }, batch.Totals);
        var failure = Assert.Single(batch.Failures);
        Assert.Equal(("fragile", 1, "cannot parse 'boom'"), failure);
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void A_reward_that_is_not_a_finite_number_counts_as_a_failure(double bad, string shown)
    {
        var odd = new Stub("odd", c => new RewardScore(c == "bad" ? bad : 0.5));
        var batch = new RewardModel(new[] { new WeightedReward(odd, 2.0) }).Score(Inputs("good", "bad"));
        Assert.Equal(new[] { 0.5, 0.0 }, batch.ByFunction["odd"]);
        Assert.Equal(new[] { 1.0, 0.0 }, batch.Totals);
        var failure = Assert.Single(batch.Failures);
        Assert.Equal(("odd", 1), (failure.Function, failure.Completion));
        Assert.Contains(shown, failure.Message);
    }

    [Fact]
    public void Scores_of_a_large_batch_land_at_their_own_completion_and_failures_come_in_order()
    {
        // Scored in parallel: each completion's score is its own index, every tenth one fails.
        var indexed = new Stub("indexed", c =>
        {
            int i = int.Parse(c, System.Globalization.CultureInfo.InvariantCulture);
            return i % 10 == 3 ? throw new ArgumentException($"row {i}") : new RewardScore(i);
        });
        var batch = new RewardModel(new[] { new WeightedReward(indexed, 0.5) }).Score(Inputs(Enumerable.Range(0, 500).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray()));
        for (int i = 0; i < 500; i++)
        {
            double expected = i % 10 == 3 ? 0 : i;
            Assert.Equal(expected, batch.ByFunction["indexed"][i]);
            Assert.Equal(0.5 * expected, batch.Totals[i]);
        }
        var expectedFailures = Enumerable.Range(0, 50).Select(k => ("indexed", 10 * k + 3, $"row {10 * k + 3}"));
        Assert.Equal(expectedFailures, batch.Failures);
    }

    [Fact]
    public void An_empty_batch_scores_to_empty_arrays()
    {
        var batch = new RewardModel(new[] { new WeightedReward(new FormatReward(), 1.0) }).Score(Array.Empty<RewardInput>());
        Assert.Empty(batch.Totals);
        Assert.Empty(batch.ByFunction["format"]);
        Assert.Empty(batch.Failures);
    }

    [Fact]
    public void A_model_without_reward_functions_is_refused() =>
        Assert.Throws<ArgumentException>(() => new RewardModel(Array.Empty<WeightedReward>()));
}
