using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Tokenization;
using GspoSharp.Rollout;

namespace GspoSharp.Tests.Cli;

/// <summary>gspo init-model and gspo generate, run as the real program.</summary>
public class ModelCommandsTests
{
    [Theory]
    [InlineData("qwen3", ModelType.Qwen3)]
    [InlineData("qwen3_moe", ModelType.Qwen3Moe)]
    [InlineData("qwen2", ModelType.Qwen2)]
    [InlineData("llama", ModelType.Llama)]
    public void Init_model_writes_a_directory_that_loads_like_a_real_checkpoint(string arch, ModelType type)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, arch);
        var result = GspoProcess.Run("init-model", "--arch", arch, "--size", "tiny", "--out", path, "--seed", "3");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("parameters, vocabulary 512", result.Stdout);
        foreach (var file in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(path, file)), file);
        using var lm = ModelDirectory.Load(path);
        Assert.Equal(type, lm.Config.ModelType);
        var tokenizer = HfTokenizer.Load(path);
        Assert.Equal(lm.Config.VocabSize, tokenizer.VocabSize);
        Assert.Equal("What is 12 + 7?", tokenizer.Decode(tokenizer.Encode("What is 12 + 7?")));

        // The same seed gives the same weights.
        string again = Path.Combine(dir.Path, arch + "-again");
        Assert.Equal(0, GspoProcess.Run("init-model", "--arch", arch, "--out", again, "--seed", "3").ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(path, "model.safetensors")), File.ReadAllBytes(Path.Combine(again, "model.safetensors")));
    }

    [Fact]
    public void Init_model_refuses_bad_arguments_and_occupied_directories()
    {
        using var dir = new TempDirectory();
        var arch = GspoProcess.Run("init-model", "--arch", "gpt2", "--out", Path.Combine(dir.Path, "x"));
        Assert.Equal(1, arch.ExitCode);
        Assert.Contains("--arch must be qwen3, qwen3_moe, qwen2 or llama; got 'gpt2'", arch.Stderr);
        File.WriteAllText(Path.Combine(dir.Path, "keep.txt"), "mine");
        var occupied = GspoProcess.Run("init-model", "--arch", "qwen3", "--out", dir.Path);
        Assert.Equal(1, occupied.ExitCode);
        Assert.Contains("already exists and is not empty", occupied.Stderr);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir.Path, "keep.txt")));
    }

    static string Model(TempDirectory dir, string arch = "qwen3_moe")
    {
        string path = Path.Combine(dir.Path, "model");
        TinyModels.Create(path, arch == "qwen3" ? ModelType.Qwen3 : ModelType.Qwen3Moe, ModelSize.Tiny, seed: 1);
        return path;
    }

    [Fact]
    public void Generate_writes_one_line_per_sample_with_the_engines_results()
    {
        using var dir = new TempDirectory();
        string model = Model(dir);
        string input = Path.Combine(dir.Path, "prompts.jsonl"), output = Path.Combine(dir.Path, "out.jsonl");
        File.WriteAllText(input, "{\"prompt\": \"What is 3 + 4?\"}\n{\"prompt_ids\": [5, 6, 7]}\n");
        var result = GspoProcess.Run("generate", "-m", model, "-i", input, "-o", output, "-n", "3", "--max-new-tokens", "6",
            "--temperature", "0.8", "--top-p", "0.95", "--seed", "7", "--chat");
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = File.ReadAllLines(output).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal(6, lines.Count);

        // The same request through the library gives the same samples.
        var tokenizer = HfTokenizer.Load(model);
        using var lm = ModelDirectory.Load(model);
        var chatPrompt = tokenizer.Encode(tokenizer.ApplyChatTemplate(new[] { new ChatMessage("user", "What is 3 + 4?") }, addGenerationPrompt: true));
        using var expected = new RolloutEngine(lm).Generate(new[] { chatPrompt.Select(i => (long)i).ToArray(), new long[] { 5, 6, 7 } },
            new SamplingOptions { Temperature = 0.8, TopP = 0.95, MaxNewTokens = 6, SamplesPerPrompt = 3, Seed = 7, EosTokenIds = new long[] { 511, 509 } });
        for (int i = 0; i < 6; i++)
        {
            var line = lines[i];
            var c = expected.Completions[i];
            Assert.Equal(c.PromptIndex, line["prompt_index"]!.GetValue<int>());
            Assert.Equal(c.PromptIds, line["prompt_ids"]!.AsArray().Select(v => v!.GetValue<long>()));
            Assert.Equal(c.CompletionIds, line["completion_ids"]!.AsArray().Select(v => v!.GetValue<long>()));
            Assert.Equal(c.CompletionIds.Length, line["logprobs"]!.AsArray().Count);
            Assert.Contains(line["finish_reason"]!.GetValue<string>(), new[] { "stop", "length" });
            Assert.Equal(tokenizer.Decode(c.CompletionIds.Select(t => (int)t), skipSpecialTokens: true), line["text"]!.GetValue<string>());
        }
    }

    [Fact]
    public void Generate_streams_a_single_prompt()
    {
        using var dir = new TempDirectory();
        var result = GspoProcess.Run("generate", "-m", Model(dir, "qwen3"), "--prompt", "The answer is", "--max-new-tokens", "8", "--temperature", "0");
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("finish_reason", result.Stderr);
        Assert.False(string.IsNullOrWhiteSpace(result.Stdout));
    }

    [Theory]
    [InlineData(new[] { "--prompt", "x", "--input", "p.jsonl" }, "give either --prompt")]
    [InlineData(new[] { "--prompt", "x", "--max-new-tokens", "0" }, "max_new_tokens must be ≥ 1")]
    [InlineData(new[] { "--prompt", "x", "--top-p", "1.5" }, "top_p must be in (0, 1]")]
    [InlineData(new[] { "--input", "long.jsonl" }, "long.jsonl:1: the prompt has 2048 tokens; the model's context is 2048")]
    [InlineData(new[] { "--input", "bad.jsonl" }, "bad.jsonl:1: expected {\"prompt\": TEXT} or {\"prompt_ids\": [..]}")]
    public void Generate_refuses_bad_requests(string[] args, string message)
    {
        using var dir = new TempDirectory();
        string model = Model(dir, "qwen3");
        File.WriteAllText(Path.Combine(dir.Path, "long.jsonl"), $"{{\"prompt_ids\": [{string.Join(",", Enumerable.Repeat(1, 2048))}]}}\n");
        File.WriteAllText(Path.Combine(dir.Path, "bad.jsonl"), "{\"question\": \"?\"}\n");
        var result = GspoProcess.RunIn(dir.Path, new[] { "generate", "-m", model }.Concat(args).ToArray());
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Stderr);
    }
}
