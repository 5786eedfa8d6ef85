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
            var type = ModelConfig.ParseType(parse.GetValue(arch)!)
                       ?? throw new ArgumentException($"--arch must be qwen3, qwen3_moe, qwen2 or llama; got '{parse.GetValue(arch)}'.");
            var modelSize = TinyConfigs.ParseSize(parse.GetValue(size)!)
                            ?? throw new ArgumentException($"--size must be tiny, small or 50m; got '{parse.GetValue(size)}'.");
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
