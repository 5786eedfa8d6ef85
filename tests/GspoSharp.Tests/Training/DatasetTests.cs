using GspoSharp.Training;
using GspoSharp.Rewards;
using GspoSharp.Tasks;

namespace GspoSharp.Tests.Training;

public class DatasetTests
{
    static readonly IRewardFunction[] Accuracy = { new AccuracyReward() };
    static readonly IRewardFunction[] FormatOnly = { new FormatReward() };

    static string Write(TempDirectory dir, string content, string name = "data.jsonl")
    {
        string path = Path.Combine(dir.Path, name);
        File.WriteAllText(path, content);
        return path;
    }

    static string Refused(TempDirectory dir, string content, IEnumerable<IRewardFunction>? rewards = null)
    {
        string path = Write(dir, content);
        return Assert.Throws<InvalidDataException>(() => Dataset.FromJsonLines(path, rewards ?? Accuracy)).Message;
    }

    [Fact]
    public void Rows_with_a_prompt_are_read_in_order_with_every_field()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, """
            {"prompt": "Add: 1 + 2", "answer": "3", "completion": "1+2=3. \\boxed{3}"}
            {"prompt": "Add: 4 + 4", "answer": 8, "source": "hand"}
            """);
        var data = Dataset.FromJsonLines(path, Accuracy);
        Assert.Equal(2L, data.Count);
        Assert.Equal(path, data.Name);
        Assert.Equal("Add: 1 + 2", (string)data.Row(0)["prompt"]!);
        Assert.Equal("3", (string)data.Row(0)["answer"]!);
        Assert.Equal("1+2=3. \\boxed{3}", (string)data.Row(0)["completion"]!);
        Assert.Equal(8, (int)data.Row(1)["answer"]!);
        Assert.Equal("hand", (string)data.Row(1)["source"]!);
    }

    [Fact]
    public void Rows_with_chat_messages_are_read()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, """
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}], "answer": "4"}
            {"messages": [{"role": "user", "content": "3+3?"}], "answer": "6"}
            """);
        var data = Dataset.FromJsonLines(path, Accuracy);
        Assert.Equal(2L, data.Count);
        var messages = data.Row(0)["messages"]!.AsArray();
        Assert.Equal(2, messages.Count);
        Assert.Equal("system", (string)messages[0]!["role"]!);
        Assert.Equal("2+2?", (string)messages[1]!["content"]!);
        Assert.Equal("6", (string)data.Row(1)["answer"]!);
    }

    [Fact]
    public void Blank_lines_are_skipped_but_still_counted_in_line_numbers()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "{\"prompt\": \"a\", \"answer\": \"1\"}\n\n   \n{\"prompt\": \"b\", \"answer\": \"2\"}\n\n");
        var data = Dataset.FromJsonLines(path, Accuracy);
        Assert.Equal(2L, data.Count);
        Assert.Equal("b", (string)data.Row(1)["prompt"]!);

        var message = Refused(dir, "{\"prompt\": \"a\", \"answer\": \"1\"}\n\n{\"prompt\": 7, \"answer\": \"2\"}\n");
        Assert.StartsWith($"{Path.Combine(dir.Path, "data.jsonl")}:3: ", message);
    }

    [Theory]
    [InlineData("{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"prompt\": \"b\", \"answer\": ", 2, "invalid JSON")]
    [InlineData("{\"prompt\": \"a\", \"answer\": \"1\"}\nprompt: b", 2, "invalid JSON")]
    [InlineData("{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"prompt\": \"a\", \"answer\": \"1\"}\n[\"b\", \"2\"]", 3, "expected a JSON object")]
    [InlineData("\"just a string\"", 1, "expected a JSON object")]
    [InlineData("null", 1, "expected a JSON object")]
    [InlineData("{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"question\": \"b\", \"answer\": \"2\"}", 2, "needs a \"prompt\" string or a \"messages\" list")]
    [InlineData("{\"prompt\": 12, \"answer\": \"1\"}", 1, "needs a \"prompt\" string")]
    [InlineData("{\"prompt\": null, \"answer\": \"1\"}", 1, "needs a \"prompt\" string")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": 5}], \"answer\": \"1\"}", 1, "\"messages\" list of {\"role\", \"content\"} strings")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": [\"a\"]}], \"answer\": \"1\"}", 1, "\"messages\" list")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}], \"answer\": \"1\"}", 1, "\"messages\" list")]
    [InlineData("{\"messages\": [{\"content\": \"hi\"}], \"answer\": \"1\"}", 1, "\"messages\" list")]
    [InlineData("{\"messages\": [\"hi\"], \"answer\": \"1\"}", 1, "\"messages\" list")]
    [InlineData("{\"messages\": [], \"answer\": \"1\"}", 1, "\"messages\" list")]
    [InlineData("{\"messages\": \"hi\", \"answer\": \"1\"}", 1, "\"messages\" list")]
    [InlineData("{\"prompt\": \"a\", \"answer\": \"1\"}\n{\"prompt\": \"b\"}", 2, "missing field \"answer\", which the rewards need")]
    [InlineData("{\"prompt\": \"a\", \"answer\": null}", 1, "missing field \"answer\"")]
    public void A_bad_row_is_refused_naming_file_and_line(string content, int line, string problem)
    {
        using var dir = new TempDirectory();
        var message = Refused(dir, content);
        Assert.StartsWith($"{Path.Combine(dir.Path, "data.jsonl")}:{line}: ", message);
        Assert.Contains(problem, message);
    }

    [Fact]
    public void The_answer_is_only_required_when_a_reward_reads_it()
    {
        using var dir = new TempDirectory();
        string path = Write(dir, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\"}\n");
        Assert.Equal(2L, Dataset.FromJsonLines(path, FormatOnly).Count);
        Assert.Equal(2L, Dataset.FromJsonLines(path, Array.Empty<IRewardFunction>()).Count);
        Assert.Contains($"{path}:1: missing field \"answer\"", Assert.Throws<InvalidDataException>(() => Dataset.FromJsonLines(path, Accuracy)).Message);
        // A reward reading another field requires that one instead.
        string solutions = Write(dir, "{\"prompt\": \"a\", \"answer\": \"1\"}\n", "solutions.jsonl");
        Assert.Contains($"{solutions}:1: missing field \"solution\"",
            Assert.Throws<InvalidDataException>(() => Dataset.FromJsonLines(solutions, new IRewardFunction[] { new FormatReward(), new AccuracyReward("solution") })).Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n  \n")]
    public void An_empty_file_is_refused(string content)
    {
        using var dir = new TempDirectory();
        string path = Write(dir, content);
        Assert.Equal($"{path}: no rows.", Assert.Throws<InvalidDataException>(() => Dataset.FromJsonLines(path, Accuracy)).Message);
    }

    [Fact]
    public void A_missing_file_is_refused_with_its_path()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "absent.jsonl");
        Assert.Equal($"{path}: file not found.", Assert.Throws<FileNotFoundException>(() => Dataset.FromJsonLines(path, Accuracy)).Message);
    }

    static Dataset ThreeRows(TempDirectory dir) =>
        Dataset.FromJsonLines(Write(dir, "{\"prompt\": \"p0\"}\n{\"prompt\": \"p1\"}\n{\"prompt\": \"p2\"}\n"), FormatOnly);

    static string PromptOf(Dataset data, long index) => (string)data.Row(index)["prompt"]!;

    [Fact]
    public void A_finite_dataset_wraps_around()
    {
        using var dir = new TempDirectory();
        var data = ThreeRows(dir);
        Assert.Equal(new[] { "p0", "p1", "p2", "p0", "p1", "p2", "p0" }, Enumerable.Range(0, 7).Select(i => PromptOf(data, i)));
        Assert.Equal("p1", PromptOf(data, 3_000_000_001L));   // 3·10⁹ + 1 ≡ 1 (mod 3), beyond int
    }

    [Fact]
    public void Take_keeps_the_first_rows_and_wraps_around_them()
    {
        using var dir = new TempDirectory();
        var data = ThreeRows(dir);
        var two = data.Take(2);
        Assert.Equal(2L, two.Count);
        Assert.Equal(data.Name, two.Name);
        Assert.Equal(new[] { "p0", "p1", "p0", "p1" }, Enumerable.Range(0, 4).Select(i => PromptOf(two, i)));
        Assert.Equal(3L, data.Take(10).Count);
        Assert.Equal(3L, data.Count);   // the original is unchanged
    }

    [Fact]
    public void A_task_stream_is_unlimited_and_its_rows_have_prompt_answer_and_completion()
    {
        var task = SyntheticTask.Get("arithmetic");
        var train = Dataset.FromTask(task, TaskSplit.Train, seed: 5);
        Assert.Null(train.Count);
        Assert.Equal("arithmetic (train)", train.Name);
        Assert.Equal("reverse (eval)", Dataset.FromTask(SyntheticTask.Get("reverse"), TaskSplit.Eval, 5).Name);
        foreach (long i in new long[] { 0, 1, 17, 1_000_000 })
        {
            var row = train.Row(i);
            Assert.StartsWith("Add: ", (string)row["prompt"]!);
            Assert.Matches(@"^\d+$", (string)row["answer"]!);
            Assert.Contains("\\boxed{", (string)row["completion"]!);
            Assert.Equal(task.Example(5, TaskSplit.Train, i).ToJsonString(), row.ToJsonString());
        }

        var heldOut = Dataset.FromTask(task, TaskSplit.Eval, 5).Take(3);
        Assert.Equal(3L, heldOut.Count);
        Assert.Equal(heldOut.Row(0).ToJsonString(), heldOut.Row(3).ToJsonString());
        Assert.Equal(task.Example(5, TaskSplit.Eval, 2).ToJsonString(), heldOut.Row(2).ToJsonString());
    }

    [Fact]
    public void Task_rows_are_accepted_by_the_rewards_they_are_scored_with()
    {
        var task = SyntheticTask.Get("arithmetic");
        var required = new TrainConfig().RewardFuncs.SelectMany(name => TrainingRun.Reward(name).RequiredFields).Distinct();
        var row = Dataset.FromTask(task, TaskSplit.Train, 1).Row(0);
        Assert.Equal(new[] { "answer" }, required);
        Assert.All(required, field => Assert.NotNull(row[field]));
    }
}
