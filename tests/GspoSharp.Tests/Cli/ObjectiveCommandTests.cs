using System.Text.Json;

namespace GspoSharp.Tests.Cli;

public class ObjectiveCommandTests
{
    [Fact]
    public void Help_lists_the_commands()
    {
        var result = GspoProcess.Run("--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("objective", result.Stdout);
        Assert.Contains("advantages", result.Stdout);
    }

    [Fact]
    public void Built_in_example_prints_the_three_objectives_with_their_numbers()
    {
        var result = GspoProcess.Run("objective", "--json");
        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        // The example is the batch of HandComputedObjectiveTests: GSPO loss −(e^−0.1 + 0.5002 − 2e^−0.0001)/3.
        double expected = -(Math.Exp(-0.1) + 1.0004 * 0.5 - 2 * Math.Exp(-0.0001)) / 3;
        Assert.Equal(expected, json.RootElement.GetProperty("sequence").GetProperty("loss").GetDouble(), 12);
        Assert.Equal(expected, json.RootElement.GetProperty("sequence_token").GetProperty("loss").GetDouble(), 12);
        Assert.Equal(0.5, json.RootElement.GetProperty("sequence").GetProperty("metrics").GetProperty("ClipRegionTokens").GetDouble());
        Assert.Equal(0.0, json.RootElement.GetProperty("token").GetProperty("metrics").GetProperty("ClipRegionTokens").GetDouble());
    }

    [Fact]
    public void A_batch_file_is_read_and_options_apply()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "batch.json");
        File.WriteAllText(path, """
            {"responses": [
              {"logprobs": [-1.0, -2.0], "old_logprobs": [-1.0, -2.0], "advantage": 1.0},
              {"logprobs": [-0.5], "old_logprobs": [-0.5], "advantage": -1.0}
            ]}
            """);
        var result = GspoProcess.Run("objective", "-i", path, "--importance-sampling-level", "token", "--json");
        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Stdout);
        var grpo = json.RootElement.GetProperty("token");
        Assert.Equal(0.0, grpo.GetProperty("loss").GetDouble(), 15);   // on-policy: −(1 − 1)/2
        // On-policy gradient −Â_i/(N·|y_i|): −1/4, −1/4 and +1/2.
        var gradient = grpo.GetProperty("gradient").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => v.GetDouble());
        Assert.Equal(new[] { -0.25, -0.25, 0.5 }, gradient);
    }

    [Theory]
    [InlineData("{\"responses\": [", "invalid JSON at line 1")]
    [InlineData("{\"responses\": [{\"logprobs\": [-1], \"advantage\": 1}]}", "responses[0] has no \"old_logprobs\"")]
    [InlineData("{\"responses\": [{\"logprobs\": [-1, -2], \"old_logprobs\": [-1], \"advantage\": 1}]}", "responses[0].old_logprobs has 1 values but logprobs has 2")]
    [InlineData("{\"responses\": [{\"logprobs\": [-1, \"x\"], \"old_logprobs\": [-1, -1], \"advantage\": 1}]}", "responses[0].logprobs[1] is String")]
    [InlineData("{\"responses\": []}", "\"responses\" is empty")]
    public void Bad_batch_files_fail_with_the_place_named(string content, string message)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "bad.json");
        File.WriteAllText(path, content);
        var result = GspoProcess.Run("objective", "-i", path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("bad.json", result.Stderr);
        Assert.Contains(message, result.Stderr);
    }

    [Fact]
    public void Bad_options_fail_clearly()
    {
        var missing = GspoProcess.Run("objective", "-i", "no-such-file.json");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("no-such-file.json: file not found", missing.Stderr);

        var level = GspoProcess.Run("objective", "--importance-sampling-level", "word");
        Assert.Equal(1, level.ExitCode);
        Assert.Contains("importance_sampling_level must be token, sequence or sequence_token", level.Stderr);

        var epsilon = GspoProcess.Run("objective", "--epsilon", "-1");
        Assert.Equal(1, epsilon.ExitCode);
        Assert.Contains("epsilon must be in [0, 1)", epsilon.Stderr);
    }

    [Fact]
    public void Advantages_command_prints_group_relative_advantages()
    {
        var result = GspoProcess.Run("advantages", "--rewards", "1,0,1,1", "-G", "2", "--scale-rewards", "none");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("0.500000", result.Stdout);
        Assert.Contains("-0.500000", result.Stdout);
        Assert.Contains("frac_reward_zero_std = 0.5", result.Stdout);

        var bad = GspoProcess.Run("advantages", "--rewards", "1,zero", "-G", "2");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("item 2 ('zero') is not a number", bad.Stderr);
    }
}
