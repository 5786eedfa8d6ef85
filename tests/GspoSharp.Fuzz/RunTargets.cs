using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Cli.Commands;
using GspoSharp.Experiments;
using GspoSharp.Fuzz.Mutations;
using GspoSharp.Models;
using GspoSharp.Rewards;
using GspoSharp.Rollout;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Fuzz;

/// <summary>Targets for the files a run and the gspo commands read.</summary>
public static class RunTargets
{
    public static FuzzTarget Dataset { get; } = new("dataset.jsonl",
        "a JSON Lines dataset: Dataset.FromJsonLines with the accuracy and format rewards, then every row's prompt as the trainer encodes it (chat template on)",
        InputFormat.JsonLines, fixtures =>
        {
            string dir = fixtures.WorkDirectory("dataset.jsonl");
            string input = Path.Combine(dir, "train.jsonl");
            var task = SyntheticTask.Get("arithmetic");
            var synthetic = string.Join("\n", Enumerable.Range(0, 4).Select(i => task.Example(1, TaskSplit.Train, i).ToJsonString()));
            var seeds = new List<byte[]>
            {
                File.ReadAllBytes(Path.Combine(Fixtures.RepositoryRoot, "tests/GspoSharp.Tests/Training/data/gsm8k-sample.jsonl")),
                Encoding.UTF8.GetBytes(synthetic + "\n"),
                Encoding.UTF8.GetBytes("""
                    {"prompt": "What is 2 + 3?", "answer": 5, "completion": "2 + 3 = 5. \\boxed{5}"}

                    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "1+1?"}], "answer": "2"}
                    """),
            };
            IRewardFunction[] rewards = [new AccuracyReward(), new FormatReward()];
            return new TargetSetup(seeds, input, () =>
            {
                var dataset = Tasks.Dataset.FromJsonLines(input, rewards);
                for (long i = 0; i < dataset.Count; i++) fixtures.ChatPolicy.EncodePrompt(dataset.Row(i));
            }, Refusal.OfLine<InvalidDataException>(input));
        });

    public static FuzzTarget GenerateInput { get; } = new("generate-input.jsonl",
        "the --input of gspo generate: every line's prompt ids (a prompt encoded, or prompt_ids), then one token sampled from the tiny model",
        InputFormat.JsonLines, fixtures =>
        {
            string dir = fixtures.WorkDirectory("generate-input.jsonl");
            string input = Path.Combine(dir, "prompts.jsonl");
            var seeds = new List<byte[]>
            {
                Encoding.UTF8.GetBytes("{\"prompt\": \"What is 2 + 3?\"}\n{\"prompt_ids\": [1, 2, 3, 4]}\n{\"prompt\": \"Café 😀\"}\n"),
            };
            return new TargetSetup(seeds, input, () =>
            {
                var policy = fixtures.LanguageModel;
                var prompts = GenerateCommand.ReadPrompts(input, policy);
                using var result = new RolloutEngine(policy.Model, policy.Decode).Generate(prompts,
                    new SamplingOptions { MaxNewTokens = 1, EosTokenIds = policy.EosTokenIds, Seed = 1 });
            }, Refusal.OfLine<InvalidDataException>(input));
        });

    public static FuzzTarget ScoreInput { get; } = new("score-input.jsonl",
        "the --input of gspo score: every line's ids, checked against the tiny model's vocabulary and context",
        InputFormat.JsonLines, fixtures =>
        {
            string dir = fixtures.WorkDirectory("score-input.jsonl");
            string input = Path.Combine(dir, "ids.jsonl");
            var config = ModelConfigOf(fixtures.DenseModel);
            var seeds = new List<byte[]> { Encoding.UTF8.GetBytes("{\"ids\": [1, 2, 3]}\n{\"ids\": [5, 511, 0, 7, 9]}\n{\"ids\": [3]}\n") };
            return new TargetSetup(seeds, input, () => ScoreCommand.ReadRows(input, config), Refusal.OfLine<InvalidDataException>(input));
        });

    public static FuzzTarget TokenizeInput { get; } = new("tokenize-input.jsonl",
        "the --input of gspo tokenize: every line's text encoded with the tiny tokenizer",
        InputFormat.JsonLines, fixtures =>
        {
            string dir = fixtures.WorkDirectory("tokenize-input.jsonl");
            string input = Path.Combine(dir, "texts.jsonl");
            var seeds = new List<byte[]> { Encoding.UTF8.GetBytes("{\"text\": \"What is 2 + 3?\"}\n{\"text\": \"<|im_start|>user\\nCafé 😀<|im_end|>\"}\n{\"text\": \"\"}\n") };
            return new TargetSetup(seeds, input, () => TokenizeCommand.Encode(input, fixtures.LanguageModel.Tokenizer),
                Refusal.OfLine<InvalidDataException>(input));
        });

    public static FuzzTarget TrainConfigFile { get; } = new("train-config.yaml",
        "a run config (gspo train --config): ConfigFile.Load, then TrainConfig.Validate",
        InputFormat.Yaml, fixtures =>
        {
            string dir = fixtures.WorkDirectory("train-config.yaml");
            string input = Path.Combine(dir, "config.yaml");
            // Recipes for a GPU name device: cuda, which this build refuses; the rest of them is what is fuzzed.
            var seeds = Fixtures.RepositoryFiles("recipes", "*.yaml")
                .Select(s => Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(s).Replace("device: cuda", "device: cpu"))).ToList();
            seeds.Add(Encoding.UTF8.GetBytes(ConfigFile.ToYaml(new TrainConfig())));
            var keys = ConfigFile.Keys.ToList();
            return new TargetSetup(seeds, input, () =>
            {
                var config = ConfigFile.Load(new TrainConfig(), input, []);
                try
                {
                    config.Validate();
                }
                catch (ArgumentException e)
                {
                    // Validation names the key, not the file: the run has already read it.
                    throw new ValidationFailed(e, keys);
                }
            }, e => e is ValidationFailed v ? v.Judge() : Refusal.Judge<ArgumentException>(e, input));
        });

    public static FuzzTarget ExperimentMatrixFile { get; } = new("experiment-matrix.yaml",
        "an experiment matrix (gspo experiment --matrix): ExperimentMatrix.Load, every run's config validated",
        InputFormat.Yaml, fixtures =>
        {
            string dir = fixtures.WorkDirectory("experiment-matrix.yaml");
            string input = Path.Combine(dir, "matrix.yaml");
            return new TargetSetup(Fixtures.RepositoryFiles("experiments", "*.yaml"), input, () => ExperimentMatrix.Load(input),
                Refusal.Of<ArgumentException>(input));
        });

    public static FuzzTarget ObjectiveBatch { get; } = new("objective-batch.json",
        "the batch file of gspo objective: ObjectiveBatchFile.Read",
        InputFormat.Json, fixtures =>
        {
            string dir = fixtures.WorkDirectory("objective-batch.json");
            string input = Path.Combine(dir, "batch.json");
            var example = new JsonObject
            {
                ["responses"] = new JsonArray(ObjectiveBatchFile.Example.Select(r => (JsonNode)new JsonObject
                {
                    ["logprobs"] = new JsonArray(r.LogProbs.Select(v => (JsonNode)v).ToArray()),
                    ["old_logprobs"] = new JsonArray(r.OldLogProbs.Select(v => (JsonNode)v).ToArray()),
                    ["advantage"] = r.Advantages[0],
                }).ToArray()),
            };
            var seeds = new List<byte[]>
            {
                Encoding.UTF8.GetBytes(example.ToJsonString()),
                Encoding.UTF8.GetBytes("""
                    {"responses": [{"logprobs": [-1.0, -2.0], "old_logprobs": [-1.1, -1.9], "advantages": [0.5, -0.5], "ref_logprobs": [-1.2, -2.1]}]}
                    """),
            };
            return new TargetSetup(seeds, input, () => ObjectiveBatchFile.Read(input), Refusal.Of<InvalidDataException>(input));
        });

    static Models.Architecture.ModelConfig ModelConfigOf(string directory) =>
        Models.Architecture.ModelConfig.Load(Path.Combine(directory, ModelDirectory.ConfigFileName));

    /// <summary>A config that read cleanly but failed validation: the message must name one of the config's keys.</summary>
    sealed class ValidationFailed(ArgumentException inner, IReadOnlyList<string> keys) : Exception(inner.Message, inner)
    {
        public string? Judge() => keys.Any(k => Message.Contains(k, StringComparison.Ordinal))
            ? null
            : $"validation failed without naming a key: {Message}";
    }
}

/// <summary>Every target, in the order the command runs them.</summary>
public static class Targets
{
    // HTTP request bodies of `gspo serve` join here when the server exists: one FuzzTarget per
    // endpoint, InputFormat.Json, seeded with the bodies its tests send.
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        ModelTargets.Safetensors, ModelTargets.CheckpointIndex, ModelTargets.Config, ModelTargets.ModelDirectoryConfig,
        ModelTargets.GenerationConfigFile,
        ModelTargets.TokenizerJson, ModelTargets.TokenizerConfigJson,
        RunTargets.Dataset, RunTargets.GenerateInput, RunTargets.ScoreInput, RunTargets.TokenizeInput,
        RunTargets.TrainConfigFile, RunTargets.ExperimentMatrixFile, RunTargets.ObjectiveBatch,
    ];

    public static FuzzTarget Named(string name) =>
        All.FirstOrDefault(t => t.Name == name) ?? throw new ArgumentException($"no fuzz target '{name}'; targets: {string.Join(", ", All.Select(t => t.Name))}.");
}
