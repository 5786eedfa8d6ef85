using System.Text.Json.Nodes;
using GspoSharp.Rewards;

namespace GspoSharp.Tests.Training;

/// <summary>reward_assembly: a real compiled assembly (tests/SampleRewards, built beside the tests and never referenced by them).</summary>
public class RewardAssemblyTests
{
    /// <summary>SampleRewards.dll as its project built it, in the configuration of these tests.</summary>
    internal static string SampleRewards { get; } = Path.Combine(Repository.Root, "tests", "SampleRewards", "bin",
        new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "SampleRewards.dll");

    static RewardInput Input(string completion, JsonObject? row = null) =>
        new("prompt", completion, row ?? new JsonObject { ["prompt"] = "p" }, Truncated: false);

    [Fact]
    public void Its_rewards_are_named_by_their_Name_and_score_as_written()
    {
        var registry = RewardRegistry.BuiltIn();
        registry.AddAssembly(SampleRewards);
        Assert.Equal(new[] { "accuracy", "format", "brevity", "broken", "variety" }, registry.Names.Take(2).Concat(registry.Names.Skip(2).Order(StringComparer.Ordinal)));
        Assert.Equal(1, registry.Create("brevity").Score(Input("short")).Value);
        Assert.Equal(0, registry.Create("brevity").Score(Input("short", new JsonObject { ["prompt"] = "p", ["limit"] = 3 })).Value);
        Assert.Equal(0.75, registry.Create("variety").Score(Input("abca")).Value);   // 3 distinct of 4
        Assert.Equal(new[] { "prompt" }, registry.Create("brevity").RequiredFields);
        // Each use is a new instance; the interface is the program's own type.
        Assert.NotSame(registry.Create("variety"), registry.Create("variety"));
        Assert.IsAssignableFrom<IRewardFunction>(registry.Create("variety"));
    }

    [Fact]
    public void A_class_without_a_parameterless_constructor_is_not_a_reward_and_unknown_names_list_the_known()
    {
        var registry = RewardRegistry.BuiltIn();
        registry.AddAssembly(SampleRewards);
        var message = Assert.Throws<ArgumentException>(() => registry.Create("configured")).Message;
        Assert.StartsWith("reward_funcs: unknown reward 'configured'; built-in: accuracy, format; SampleRewards.dll (SampleRewards.", message);
        Assert.Contains("brevity", message);
        Assert.Equal("reward_funcs: unknown reward 'taste'; built-in: accuracy, format (more with reward_assembly: a .NET assembly of IRewardFunction classes, docs/library.md).",
            Assert.Throws<ArgumentException>(() => RewardRegistry.BuiltIn().Create("taste")).Message);
    }

    [Fact]
    public void Load_failures_and_clashing_names_are_clear_errors()
    {
        using var dir = new TempDirectory();
        string missing = Path.Combine(dir.Path, "missing.dll"), junk = Path.Combine(dir.Path, "junk.dll");
        File.WriteAllText(junk, "not a PE file");
        Assert.Equal($"reward_assembly: {missing}: file not found.", Assert.Throws<ArgumentException>(() => RewardRegistry.BuiltIn().AddAssembly(missing)).Message);
        Assert.StartsWith($"reward_assembly: {junk}: cannot load it as a .NET assembly: ",
            Assert.Throws<ArgumentException>(() => RewardRegistry.BuiltIn().AddAssembly(junk)).Message);
        var twice = RewardRegistry.BuiltIn();
        twice.AddAssembly(SampleRewards);
        Assert.Contains("has the name of a reward of SampleRewards.dll", Assert.Throws<ArgumentException>(() => twice.AddAssembly(SampleRewards)).Message);
        // An assembly without rewards: GspoSharp.Models holds none.
        string models = typeof(GspoSharp.Models.ModelDirectory).Assembly.Location;
        Assert.StartsWith($"reward_assembly: {models}: no reward in it: a reward is a public, non-abstract class implementing GspoSharp.Rewards.IRewardFunction",
            Assert.Throws<ArgumentException>(() => RewardRegistry.BuiltIn().AddAssembly(models)).Message);
    }

    [Fact]
    public void Gspo_train_names_the_assemblys_rewards_logs_them_and_counts_the_throwing_one()
    {
        using var dir = new TempDirectory();
        string config = Path.Combine(dir.Path, "run.yaml"), run = Path.Combine(dir.Path, "run");
        File.WriteAllText(config, $"""
            task: arithmetic
            init_size: tiny
            prompts_per_step: 2
            num_generations: 2
            steps_per_generation: 1
            max_completion_length: 8
            max_steps: 1
            eval_prompts: 2
            eval_num_samples: 1
            report: false
            reward_assembly: "{SampleRewards}"
            reward_funcs: [accuracy, brevity, broken]
            reward_weights: [1.0, 0.5, 1.0]
            """);
        var result = GspoProcess.Run("train", "--config", config, "--run-dir", run);
        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        var line = JsonNode.Parse(File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))[0])!.AsObject();
        Assert.True(line.ContainsKey("rewards/brevity/mean"));
        Assert.Equal(0, line["rewards/broken/mean"]!.GetValue<double>());
        Assert.Equal(4, line["reward_failures"]!.GetValue<double>());   // 2 prompts × 2 samples, each call threw
        Assert.Contains("4 reward call(s) threw and were scored 0; first: broken on completion 0: the grading service is down", result.Stdout + result.Stderr);

        var unknown = GspoProcess.Run("train", "--config", config, "--run-dir", Path.Combine(dir.Path, "never"), "--set", "reward_funcs=[accuracy, configured, broken]");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("error: reward_funcs: unknown reward 'configured'; built-in: accuracy, format; SampleRewards.dll", unknown.Stderr);
        var missing = GspoProcess.Run("train", "--config", config, "--run-dir", Path.Combine(dir.Path, "never"), "--set", "reward_assembly=nowhere.dll");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("error: reward_assembly: nowhere.dll: file not found.", missing.Stderr);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "never")));
    }
}
