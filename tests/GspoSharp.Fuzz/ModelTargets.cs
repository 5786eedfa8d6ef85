using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Fuzz.Mutations;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Models.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Fuzz;

/// <summary>Targets for the files of a model directory. Every refusal is a <see cref="ModelFormatException"/>.</summary>
public static class ModelTargets
{
    public static FuzzTarget Safetensors { get; } = new("safetensors",
        "a .safetensors file: SafetensorsReader.Open, then every tensor read and converted to float32",
        InputFormat.Safetensors, fixtures =>
        {
            string dir = fixtures.WorkDirectory("safetensors");
            var seeds = new List<byte[]>();
            using (var scope = NewDisposeScope())
            {
                string path = Path.Combine(dir, "seed.safetensors");
                SafetensorsWriter.Write(path, new Dictionary<string, Tensor>
                {
                    ["a.weight"] = arange(6, ScalarType.Float32).reshape(2, 3),
                    ["ids"] = arange(4, ScalarType.Int64),
                    ["mask"] = tensor(new[] { true, false }),
                    ["scalar"] = tensor(1.5, ScalarType.Float64),
                    ["empty"] = zeros(0, 4),
                }, metadata: new Dictionary<string, string> { ["format"] = "pt" });
                seeds.Add(File.ReadAllBytes(path));
                SafetensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = ones(3, 2), ["y"] = ones(5) }, ScalarType.BFloat16);
                seeds.Add(File.ReadAllBytes(path));
            }
            seeds.Add(File.ReadAllBytes(Path.Combine(fixtures.DenseModel, HfSafetensorsCheckpoint.SingleFileName)));
            string input = Path.Combine(dir, "model.safetensors");
            return new TargetSetup(seeds, input, () =>
            {
                using var reader = SafetensorsReader.Open(input);
                foreach (var entry in reader.Entries)
                {
                    using var scope = NewDisposeScope();
                    reader.ReadTensor(entry.Name);
                }
            }, Refusal.Of<ModelFormatException>(input));
        });

    public static FuzzTarget CheckpointIndex { get; } = new("safetensors-index",
        "model.safetensors.index.json of a sharded checkpoint: HfSafetensorsCheckpoint.Open (index and shards checked), every tensor read",
        InputFormat.Json, fixtures =>
        {
            string dir = fixtures.WorkDirectory("safetensors-index");
            using (var scope = NewDisposeScope())
            {
                // Shards of at most 64 bytes: one tensor each.
                HfSafetensorsCheckpoint.Save(dir, new Dictionary<string, Tensor>
                {
                    ["model.embed_tokens.weight"] = ones(4, 2), ["model.norm.weight"] = ones(2),
                    ["lm_head.weight"] = ones(4, 2), ["model.layers.0.mlp.up_proj.weight"] = ones(3, 2),
                }, maxShardBytes: 64);
            }
            string input = Path.Combine(dir, HfSafetensorsCheckpoint.IndexFileName);
            var seeds = new List<byte[]> { File.ReadAllBytes(input) };
            return new TargetSetup(seeds, input, () =>
            {
                using var checkpoint = HfSafetensorsCheckpoint.Open(dir);
                foreach (var entry in checkpoint.Entries)
                {
                    using var scope = NewDisposeScope();
                    checkpoint.ReadTensor(entry.Name);
                }
            }, Refusal.Of<ModelFormatException>(dir));
        });

    public static FuzzTarget Config { get; } = new("config.json",
        "config.json of each architecture: ModelConfig.Load (every field typed and checked)",
        InputFormat.Json, fixtures =>
        {
            string dir = fixtures.WorkDirectory("config.json");
            string input = Path.Combine(dir, ModelDirectory.ConfigFileName);
            var seeds = new List<byte[]>
            {
                File.ReadAllBytes(Path.Combine(fixtures.DenseModel, ModelDirectory.ConfigFileName)),
                File.ReadAllBytes(Path.Combine(fixtures.MoeModel, ModelDirectory.ConfigFileName)),
                Fixtures.ConfigJson(ModelType.Qwen3Moe, j => j["mlp_only_layers"] = new JsonArray(1)),
                Fixtures.ConfigJson(ModelType.Qwen2, j => j["use_sliding_window"] = false),
                Fixtures.ConfigJson(ModelType.Llama, j =>
                {
                    j["rope_scaling"] = new JsonObject
                    {
                        ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0,
                        ["original_max_position_embeddings"] = 8192,
                    };
                    j["eos_token_id"] = new JsonArray(1, 2);
                }),
                Fixtures.ConfigJson(ModelType.Llama, j => j["rope_scaling"] = new JsonObject { ["type"] = "linear", ["factor"] = 2.0 }),
            };
            return new TargetSetup(seeds, input, () => ModelConfig.Load(input), Refusal.Of<ModelFormatException>(input));
        });

    public static FuzzTarget ModelDirectoryConfig { get; } = new("model-directory",
        "config.json of a tiny Qwen3 model directory: ModelDirectory.Load (config validated, checkpoint checked against it, model built, weights loaded)",
        InputFormat.Json, fixtures =>
        {
            string dir = fixtures.WorkDirectory("model-directory", copyOf: fixtures.DenseModel);
            string input = Path.Combine(dir, ModelDirectory.ConfigFileName);
            var seeds = new List<byte[]> { File.ReadAllBytes(input) };
            return new TargetSetup(seeds, input, () =>
            {
                using var model = ModelDirectory.Load(dir);
            }, Refusal.Of<ModelFormatException>(dir));
        });

    public static FuzzTarget GenerationConfigFile { get; } = new("generation_config.json",
        "generation_config.json: GenerationConfig.Load",
        InputFormat.Json, fixtures =>
        {
            string dir = fixtures.WorkDirectory("generation_config.json");
            string input = Path.Combine(dir, ModelDirectory.GenerationConfigFileName);
            var seeds = new List<byte[]>
            {
                File.ReadAllBytes(Path.Combine(fixtures.DenseModel, ModelDirectory.GenerationConfigFileName)),
                Encoding.UTF8.GetBytes("""
                    {"bos_token_id": 151643, "do_sample": true, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
                     "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": "4.51.0"}
                    """),
            };
            return new TargetSetup(seeds, input, () => GenerationConfig.Load(input), Refusal.Of<ModelFormatException>(input));
        });

    /// <summary>Text that reaches every stage of the tokenizer: added tokens, digits, spaces, accents, an emoji, a lone
    /// surrogate, and a run of one letter on which a mutated Split pattern such as (a+)+$ backtracks catastrophically.</summary>
    const string SampleText = "<|im_start|>user\nWhat is 12 + 30?  Café 😀 x\uD800 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!<|im_end|>\n";

    public static FuzzTarget TokenizerJson { get; } = TokenizerTarget("tokenizer.json", HfTokenizer.FileName, fixtures =>
    {
        var tiny = File.ReadAllBytes(Path.Combine(fixtures.DenseModel, HfTokenizer.FileName));
        // The same vocabulary with the components real checkpoints use: a normalizer, a Split
        // pre-tokenizer before ByteLevel, a TemplateProcessing post-processor.
        var json = JsonNode.Parse(tiny)!.AsObject();
        json["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "NFC" }) };
        json["post_processor"] = JsonNode.Parse("""
            {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [], "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [0], "tokens": ["<|endoftext|>"]}}}
            """);
        return [tiny, Encoding.UTF8.GetBytes(json.ToJsonString())];
    });

    public static FuzzTarget TokenizerConfigJson { get; } = TokenizerTarget("tokenizer_config.json", "tokenizer_config.json", fixtures =>
    {
        var tiny = File.ReadAllBytes(Path.Combine(fixtures.DenseModel, "tokenizer_config.json"));
        var json = JsonNode.Parse(tiny)!.AsObject();
        json["eos_token"] = new JsonObject { ["content"] = "<|im_end|>", ["lstrip"] = false };
        json["bos_token"] = null;
        json["chat_template"] = new JsonArray(new JsonObject { ["name"] = "default", ["template"] = json["chat_template"]?.DeepClone() });
        return [tiny, Encoding.UTF8.GetBytes(json.ToJsonString())];
    });

    /// <summary>
    /// HfTokenizer.Load on a directory holding the tiny model's tokenizer files, one of them the
    /// input; then what the program does with a tokenizer: encode, decode, render a chat.
    /// </summary>
    static FuzzTarget TokenizerTarget(string name, string fileName, Func<Fixtures, List<byte[]>> seeds) => new(name,
        $"{fileName} beside the tiny model's other tokenizer files: HfTokenizer.Load, then encode, decode and a chat rendering",
        InputFormat.Json, fixtures =>
        {
            string dir = fixtures.WorkDirectory(name);
            foreach (var file in new[] { HfTokenizer.FileName, "tokenizer_config.json" })
                File.Copy(Path.Combine(fixtures.DenseModel, file), Path.Combine(dir, file));
            string input = Path.Combine(dir, fileName);
            return new TargetSetup(seeds(fixtures), input, () =>
            {
                var tokenizer = HfTokenizer.Load(dir);
                var ids = tokenizer.Encode(SampleText);
                tokenizer.Decode(ids);
                tokenizer.Decode([-1, int.MaxValue, .. ids], skipSpecialTokens: true);
                if (tokenizer.ChatFormat is not null)
                    tokenizer.Encode(tokenizer.ApplyChatTemplate([new ChatMessage("system", "s"), new ChatMessage("user", SampleText)], addGenerationPrompt: true));
            }, Refusal.Of<ModelFormatException>(dir));
        });
}
