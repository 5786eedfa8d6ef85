using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Tokenization;
using GspoSharp.Objectives;
using GspoSharp.Tests.Models.Tokenization;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>
/// The real-checkpoint recipes cannot download their models here, so each runs on a tiny model of
/// its architecture with the genuine tokenizer and chat template, on GSM8K-style rows: everything
/// but the model size is the recipe's own.
/// </summary>
public class RecipeTests
{
    /// <summary>A tiny model of <paramref name="type"/> over the real Qwen3 vocabulary, with the real tokenizer files.</summary>
    static string TinyWithRealTokenizer(string directory, ModelType type)
    {
        string tokenizerDirectory = RealTokenizers.DirectoryOf("qwen3");
        var tokenizer = HfTokenizer.Load(tokenizerDirectory);
        using var model = new CausalLm(TinyConfigs.Create(type, ModelSize.Tiny, tokenizer.VocabSize, tokenizer.EosTokenId, tokenizer.PadTokenId));
        model.InitializeWeights(3);
        ModelDirectory.Save(model, directory, companionsFrom: tokenizerDirectory);
        return directory;
    }

    [Theory]
    [InlineData("qwen3-0.6b-gsm8k.yaml", ModelType.Qwen3, false)]
    // Qwen2.5 shares Qwen3's byte-level BPE (Qwen3 adds the think tokens); the npm package ships Qwen3's files.
    [InlineData("qwen2.5-0.5b-instruct-gsm8k.yaml", ModelType.Qwen2, false)]
    [InlineData("qwen3-30b-a3b-gsm8k.yaml", ModelType.Qwen3Moe, false)]
    [InlineData("qwen3-30b-a3b-gsm8k.yaml", ModelType.Qwen3Moe, true)]
    public void A_recipe_runs_on_a_tiny_model_of_its_architecture_with_the_real_tokenizer(string recipe, ModelType type, bool routingReplay)
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(AppContext.BaseDirectory, "Training", "data", "gsm8k-sample.jsonl");
        var config = ConfigFile.Load(new TrainConfig(), Path.Combine(Repository.Root, "recipes", recipe), new[]
        {
            $"model={TinyWithRealTokenizer(Path.Combine(dir.Path, "model"), type)}", "device=cpu", $"dataset={data}", $"eval_dataset={data}",
            "prompts_per_step=2", "num_generations=2", "max_completion_length=8", "gradient_accumulation_steps=1", "max_steps=2",
            "save_steps=1", "eval_steps=0", "eval_prompts=2", "report=false", $"routing_replay={(routingReplay ? "true" : "false")}",
        });
        // The recipe's own GSPO settings are the paper's.
        Assert.Equal(ImportanceSamplingLevel.Sequence, config.ImportanceSamplingLevel);
        Assert.Equal((3e-4, 4e-4, 0.0, 4), (config.Epsilon!.Value, config.EpsilonHigh!.Value, config.Beta, config.StepsPerGeneration));
        Assert.True(config.ChatTemplate);

        string run = Path.Combine(dir.Path, "run");
        var summary = TrainingRun.Execute(config, run, new QuietProgress());
        Assert.Null(summary.Stopped);
        Assert.Equal(2, summary.Steps);
        Assert.Equal(2, new Checkpoints(run).List().Count);
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).First();
        Assert.True(metrics.ContainsKey("clip_fraction/tokens/region"));
        Assert.Equal(type == ModelType.Qwen3Moe, metrics.ContainsKey("routing/volatility"));

        // The prompts really went through the Qwen chat template of the genuine tokenizer.
        using var policy = LanguageModel.Load(Path.Combine(run, "final-model"), chatTemplate: true);
        string prompt = policy.PromptText(Tasks.Dataset.FromJsonLines(data, Array.Empty<Rewards.IRewardFunction>()).Row(0));
        Assert.StartsWith("<|im_start|>system\nPlease reason step by step", prompt);
        Assert.EndsWith("<|im_start|>assistant\n", prompt);
    }

    [Theory]
    [InlineData("qwen3-0.6b-gsm8k-lora.yaml", false, "float32")]
    [InlineData("qwen3-1.7b-gsm8k-lora.yaml", true, "bfloat16")]
    public void A_lora_recipe_trains_an_adapter_on_a_tiny_qwen3_with_the_real_tokenizer(string recipe, bool checkpointing, string baseDtype)
    {
        using var dir = new TempDirectory();
        string data = Path.Combine(AppContext.BaseDirectory, "Training", "data", "gsm8k-sample.jsonl");
        string model = TinyWithRealTokenizer(Path.Combine(dir.Path, "model"), ModelType.Qwen3);
        var config = ConfigFile.Load(new TrainConfig(), Path.Combine(Repository.Root, "recipes", recipe), new[]
        {
            $"model={model}", "device=cpu", $"dataset={data}", $"eval_dataset={data}", "prompts_per_step=2", "num_generations=2",
            "max_completion_length=8", "gradient_accumulation_steps=1", "max_steps=2", "save_steps=1", "eval_steps=0", "eval_prompts=2", "report=false",
        });
        Assert.True(config.UsePeft);
        Assert.Equal((16, 32.0), (config.LoraR, config.LoraAlpha));
        Assert.Equal(new[] { "all-linear" }, config.LoraTargetModules);
        Assert.Equal((checkpointing, baseDtype), (config.GradientCheckpointing, config.BaseDtype));
        Assert.Equal((ImportanceSamplingLevel.Sequence, 3e-4, 4e-4), (config.ImportanceSamplingLevel, config.Epsilon!.Value, config.EpsilonHigh!.Value));

        string run = Path.Combine(dir.Path, "run");
        var summary = TrainingRun.Execute(config, run, new QuietProgress());
        Assert.Null(summary.Stopped);
        using var policy = LanguageModel.Load(model, chatTemplate: true);
        var settings = GspoSharp.Models.Adapters.PeftAdapter.Load(policy.Model, Path.Combine(run, "final-model"));
        Assert.Equal(2.0, settings.Scaling);
        Assert.Equal(7 * policy.Model.Config.NumHiddenLayers * 2, policy.Model.TrainableParameters().Count);
        Assert.True(File.Exists(Path.Combine(run, "final-model", "tokenizer.json")));
    }

    [Fact]
    public void Every_recipe_and_the_demo_parse_and_validate()
    {
        foreach (var path in Directory.GetFiles(Path.Combine(Repository.Root, "recipes"), "*.yaml"))
        {
            var config = ConfigFile.Load(new TrainConfig(), path, new[] { "device=cpu" });
            Assert.Empty(config.Validate());
        }
    }
}
