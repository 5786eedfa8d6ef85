using System.CommandLine;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo merge</c>: folds a LoRA adapter into its base (W ← W + s·B·A, computed in float64) and
/// writes a complete Hugging Face model directory in the base's dtype, as PEFT's <c>merge_and_unload</c>
/// followed by <c>save_pretrained</c> does.
/// </summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Base Hugging Face model directory.", Required = true };
        var adapter = new Option<DirectoryInfo>("--adapter") { Description = "PEFT LoRA adapter directory trained on that base.", Required = true };
        var output = new Option<DirectoryInfo>("--out", "-o") { Description = "Directory for the merged model (must not exist or be empty).", Required = true };
        var command = new Command("merge", "Fold a LoRA adapter into its base model and save the result in Hugging Face format.") { model, adapter, output };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            string baseDirectory = parse.GetValue(model)!.FullName;
            var storage = ModelDirectory.StorageDtype(baseDirectory);   // what the base's weights are stored in, as save_dtype: auto reads it
            using var lm = ModelDirectory.Load(baseDirectory);   // float32 holds float32, bfloat16 and float16 weights exactly
            var settings = PeftAdapter.Load(lm, parse.GetValue(adapter)!.FullName);
            Lora.Merge(lm);
            ModelDirectory.Save(lm, parse.GetValue(output)!.FullName, companionsFrom: baseDirectory, storageDtype: storage);
            Console.WriteLine($"merged r = {settings.Rank}, s = {settings.Scaling:G6} into {parse.GetValue(output)!.FullName} ({ModelDirectory.DtypeName(storage)})");
            return 0;
        }));
        return command;
    }
}
