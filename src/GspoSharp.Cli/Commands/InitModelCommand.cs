using System.CommandLine;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;

namespace GspoSharp.Cli.Commands;

/// <summary><c>gspo init-model</c>: a complete, randomly initialised model directory in Hugging Face format.</summary>
internal static class InitModelCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = "qwen3 | qwen3_moe | qwen2 | llama", Required = true };
        var size = new Option<string>("--size") { Description = "tiny | small | 50m", DefaultValueFactory = _ => "tiny" };
        var output = new Option<string>("--out", "-o") { Description = "Directory to create (must not exist or be empty).", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of the weight initialisation.", DefaultValueFactory = _ => 0 };
        var command = new Command("init-model", "Create a small model (config, safetensors, tokenizer) from scratch.") { arch, size, output, seed };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var type = parse.GetValue(arch) switch
            {
                "qwen3" => ModelType.Qwen3,
                "qwen3_moe" => ModelType.Qwen3Moe,
                "qwen2" => ModelType.Qwen2,
                "llama" => ModelType.Llama,
                var other => throw new ArgumentException($"--arch must be qwen3, qwen3_moe, qwen2 or llama; got '{other}'."),
            };
            var modelSize = parse.GetValue(size) switch
            {
                "tiny" => ModelSize.Tiny,
                "small" => ModelSize.Small,
                "50m" => ModelSize.Bench50M,
                var other => throw new ArgumentException($"--size must be tiny, small or 50m; got '{other}'."),
            };
            string directory = parse.GetValue(output)!;
            TinyModels.Create(directory, type, modelSize, parse.GetValue(seed));
            var config = ModelConfig.Load(Path.Combine(directory, ModelDirectory.ConfigFileName));
            Console.WriteLine($"{ModelConfig.Name(type)} {parse.GetValue(size)}: {config.ParameterCount():N0} parameters, " +
                              $"vocabulary {config.VocabSize} → {directory}");
            return 0;
        }));
        return command;
    }
}
