using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;

namespace GspoSharp.Tests.Cli;

/// <summary>gspo train, sft and eval as a user runs them, on tiny settings.</summary>
public class TrainingCommandsTests
{
    const string Quick = """
        task: arithmetic
        init_size: tiny
        sft_steps: 3
        sft_batch_size: 8
        prompts_per_step: 2
        num_generations: 4
        steps_per_generation: 2
        max_completion_length: 16
        learning_rate: 1.0e-4
        max_steps: 2
        eval_prompts: 4
        eval_num_samples: 2
        """;

    [Fact]
    public void Train_runs_and_writes_its_run_directory()
    {
        using var dir = new TempDirectory();
        string config = Path.Combine(dir.Path, "quick.yaml"), run = Path.Combine(dir.Path, "run");
        File.WriteAllText(config, Quick);
        var result = GspoProcess.Run("train", "--config", config, "--run-dir", run, "--set", "seed=3");
        Assert.True(result.ExitCode == 0, result.Stderr + result.Stdout);
        Assert.Contains("held-out accuracy after", result.Stdout);
        foreach (var path in new[] { "config.yaml", "metrics.jsonl", "summary.json", "initial-model/config.json", "sft-model/model.safetensors", "final-model/tokenizer.json" })
            Assert.True(File.Exists(Path.Combine(run, path)), path);
        Assert.Contains("seed: 3", File.ReadAllText(Path.Combine(run, "config.yaml")));
        var summary = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "summary.json")))!.AsObject();
        foreach (var key in new[] { "accuracy_before", "accuracy_after", "steps", "wall_seconds" }) Assert.True(summary.ContainsKey(key), key);
        Assert.Equal(2, summary["steps"]!.GetValue<int>());
        var lines = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(new[] { 1, 2, 2 }, lines.Select(l => l["step"]!.GetValue<int>()));
        Assert.True(lines[0].ContainsKey("clip_ratio/region_mean") && lines[0].ContainsKey("reward"));

        // The same directory is never overwritten by another run.
        var again = GspoProcess.Run("train", "--config", config, "--run-dir", run);
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("already holds a run", again.Stderr);

        // The trained model evaluates and fine-tunes from the CLI too.
        var eval = GspoProcess.Run("eval", "--model", Path.Combine(run, "final-model"), "--task", "arithmetic", "--prompts", "4", "-k", "2",
            "--max-new-tokens", "16", "--output", Path.Combine(dir.Path, "eval.json"));
        Assert.True(eval.ExitCode == 0, eval.Stderr);
        Assert.InRange(JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "eval.json")))!["accuracy"]!.GetValue<double>(), 0, 1);
        var sft = GspoProcess.Run("sft", "--model", Path.Combine(run, "final-model"), "--task", "arithmetic", "--steps", "2", "--batch-size", "4",
            "--out", Path.Combine(dir.Path, "sft"));
        Assert.True(sft.ExitCode == 0, sft.Stderr);
        Assert.True(File.Exists(Path.Combine(dir.Path, "sft", "model.safetensors")));
    }

    [Fact]
    public void Sft_saves_in_the_dtype_its_model_is_stored_in_unless_told_otherwise()
    {
        using var dir = new TempDirectory();
        string source = Path.Combine(dir.Path, "tiny");
        TinyModels.Create(source, ModelType.Qwen3, ModelSize.Tiny, seed: 1);
        (string Stored, string TorchDtype) Saved(string model)
        {
            using var checkpoint = HfSafetensorsCheckpoint.Open(model);
            return (string.Join(",", checkpoint.Entries.Select(e => e.DtypeName).Distinct()),
                JsonNode.Parse(File.ReadAllText(Path.Combine(model, "config.json")))!["torch_dtype"]!.GetValue<string>());
        }
        GspoProcess.Result Sft(string from, string to, params string[] more) =>
            GspoProcess.Run(["sft", "--model", from, "--task", "arithmetic", "--steps", "1", "--batch-size", "2", "--out", to, .. more]);

        string bf16 = Path.Combine(dir.Path, "bf16"), auto = Path.Combine(dir.Path, "auto");
        var narrowed = Sft(source, bf16, "--save-dtype", "bfloat16");
        Assert.True(narrowed.ExitCode == 0, narrowed.Stderr);
        Assert.Equal(("BF16", "bfloat16"), Saved(bf16));
        var kept = Sft(bf16, auto);   // auto: as the bfloat16 --model is stored
        Assert.True(kept.ExitCode == 0, kept.Stderr);
        Assert.Equal(("BF16", "bfloat16"), Saved(auto));

        string never = Path.Combine(dir.Path, "never");
        var bad = Sft(source, never, "--save-dtype", "bf16");
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("error: --save-dtype is 'bf16'; must be auto, float32, bfloat16 or float16.", bad.Stderr);
        Assert.False(Directory.Exists(never));
    }

    [Theory]
    [InlineData("num_generations=1", "num_generations: is 1; group advantages need at least 2")]
    [InlineData("steps_per_generation=3", "steps_per_generation: 8 completions per step")]
    [InlineData("epsilon=-0.1", "epsilon: epsilon must be in [0, 1)")]
    [InlineData("num_generation=4", "--set num_generation=4: unknown key 'num_generation' (did you mean 'num_generations'?)")]
    [InlineData("max_steps=many", "--set max_steps=many: max_steps: 'many' is not an integer")]
    [InlineData("reward_funcs=[accuracy, taste]", "reward_funcs: unknown reward 'taste'")]
    public void Bad_configs_are_refused_before_any_work_naming_the_key(string setting, string message)
    {
        using var dir = new TempDirectory();
        string config = Path.Combine(dir.Path, "bad.yaml"), run = Path.Combine(dir.Path, "run");
        File.WriteAllText(config, Quick);
        var result = GspoProcess.Run("train", "--config", config, "--run-dir", run, "--set", setting);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void Print_config_shows_the_demo_recipe_with_every_key()
    {
        var result = GspoProcess.Run("train", "--print-config", "--set", "max_steps=7");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("importance_sampling_level: sequence", result.Stdout);
        Assert.Contains("max_steps: 7", result.Stdout);
        Assert.Contains("init_size: tiny", result.Stdout);
    }

    [Fact]
    public void A_config_file_error_names_the_file_and_line()
    {
        using var dir = new TempDirectory();
        string config = Path.Combine(dir.Path, "bad.yaml");
        File.WriteAllText(config, Quick + "\nmax_steps: 5\n");
        var duplicate = GspoProcess.Run("train", "--config", config, "--run-dir", Path.Combine(dir.Path, "run"));
        Assert.Equal(1, duplicate.ExitCode);
        Assert.Contains("bad.yaml:13", duplicate.Stderr);   // the duplicate is the 13th line
        Assert.Contains("Duplicate key", duplicate.Stderr);
        File.WriteAllText(config, "task: arithmetic\nlearning_rate: fast\n");
        var type = GspoProcess.Run("train", "--config", config, "--run-dir", Path.Combine(dir.Path, "run"));
        Assert.Contains("bad.yaml:2: learning_rate: 'fast' is not a number", type.Stderr);
    }

    [Fact]
    public void An_unwritable_run_directory_is_a_clear_error_that_leaves_nothing_behind()
    {
        using var dir = new TempDirectory();
        string config = Path.Combine(dir.Path, "run.yaml");
        File.WriteAllText(config, Quick);
        string blocker = Path.Combine(dir.Path, "not-a-directory");
        File.WriteAllText(blocker, "a file where the run's parent directory should be");
        var result = GspoProcess.Run("train", "--config", config, "--run-dir", Path.Combine(blocker, "run"));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error:", result.Stderr.Trim());
        Assert.Contains("not-a-directory", result.Stderr);
        Assert.Equal(new[] { blocker, config }.Order(), Directory.GetFileSystemEntries(dir.Path).Order());
    }
}
