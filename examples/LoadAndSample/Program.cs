// Load a Hugging Face model directory and sample from it.
//
//   dotnet run -c Release --project examples/LoadAndSample -- [--model DIR] [--prompt TEXT] [--samples N] [--max-new-tokens N]
//
// Without --model a tiny, untrained Qwen3 is created in a temporary directory first: its samples are
// noise, but every step is the one a real checkpoint (e.g. Qwen3-0.6B) takes.
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Training;

string? model = Option("--model");
string prompt = Option("--prompt") ?? "Add: 2 + 3";
int samples = int.Parse(Option("--samples") ?? "3");
int maxNewTokens = int.Parse(Option("--max-new-tokens") ?? "32");

string? created = null;
if (model is null)
{
    created = model = Path.Combine(Path.GetTempPath(), $"gspo-example-model-{Guid.NewGuid():N}");
    TinyModels.Create(created, ModelType.Qwen3, ModelSize.Tiny, seed: 1);
}
try
{
    // The weights, the tokenizer (tokenizer.json) and the end-of-sequence ids (generation_config.json).
    using var policy = LanguageModel.Load(model, chatTemplate: false);
    Console.WriteLine($"model: {ModelConfig.Name(policy.Model.Config.ModelType)}, {policy.Model.Config.NumHiddenLayers} layers, " +
                      $"vocabulary {policy.Model.Config.VocabSize}");

    // A prompt row is what a dataset holds: "prompt" (or chat "messages"); the policy renders and encodes it.
    long[] promptIds = policy.EncodePrompt(new JsonObject { ["prompt"] = prompt });
    var engine = new RolloutEngine(policy.Model, policy.Decode);
    using var result = engine.Generate([promptIds], new SamplingOptions
    {
        Temperature = 0.8, TopP = 0.95, MaxNewTokens = maxNewTokens, SamplesPerPrompt = samples,
        EosTokenIds = policy.EosTokenIds, Seed = 7,
    });
    Console.WriteLine($"prompt: {prompt} ({promptIds.Length} tokens)");
    foreach (var c in result.Completions)
        Console.WriteLine($"sample {c.SampleIndex}: {c.CompletionIds.Length} tokens, finish {c.FinishReason.ToString().ToLowerInvariant()}, " +
                          $"log-prob {c.LogProbs.Sum():F2}: {c.Text.ReplaceLineEndings(" ")}");
    Console.WriteLine($"{result.GeneratedTokens} tokens in {result.PrefillSeconds + result.DecodeSeconds:F2} s");
}
finally
{
    if (created is not null) Directory.Delete(created, recursive: true);
}

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
