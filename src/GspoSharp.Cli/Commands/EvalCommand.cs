using GspoSharp.Models;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Tasks;
using GspoSharp.Training;
using Spectre.Console;

namespace GspoSharp.Cli.Commands;

/// <summary><c>gspo eval</c>: held-out accuracy (pass@1 averaged over k samples) of a model.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Model directory.", Required = true };
        var adapter = new Option<DirectoryInfo?>("--adapter") { Description = "PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) to apply on the model." };
        var dataOptions = new DataOptions("Built-in task whose held-out stream is used (arithmetic | reverse | long-sum).", "JSON Lines with \"prompt\"/\"messages\" and \"answer\".");
        var prompts = new Option<int>("--prompts") { Description = "Held-out prompts.", DefaultValueFactory = _ => 200 };
        var samples = new Option<int>("-k", "--samples") { Description = "Samples per prompt (pass@1 averaged over them).", DefaultValueFactory = _ => 4 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature (0 = greedy).", DefaultValueFactory = _ => 1.0 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens per sample.", DefaultValueFactory = _ => 256 };
        var chat = new Option<bool>("--chat") { Description = "Wrap plain prompts in the chat template." };
        var seed = new Option<long>("--seed") { Description = "Seed of the task stream and of sampling (use the run's seed for its held-out set).", DefaultValueFactory = _ => 42 };
        var output = new Option<FileInfo?>("--output", "-o") { Description = "Write the result as JSON here." };
        var command = new Command("eval", "Held-out accuracy of a model: pass@1 averaged over k samples per prompt.")
        {
            model, adapter, dataOptions.Task, dataOptions.Dataset, prompts, samples, temperature, maxNew, chat, seed, output,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var data = dataOptions.Open(parse, TaskSplit.Eval, parse.GetValue(seed), new[] { TrainingRun.Reward("accuracy") });
            using var policy = LanguageModel.Load(parse.GetValue(model)!.FullName, parse.GetValue(chat));
            if (parse.GetValue(adapter) is { } a) Models.Adapters.PeftAdapter.Load(policy.Model, a.FullName);
            var result = Evaluation.Run(policy, data, parse.GetValue(prompts), parse.GetValue(samples), parse.GetValue(maxNew),
                parse.GetValue(temperature), parse.GetValue(seed) + 1);
            var table = new Table().AddColumns("model", "data", "prompts", "samples", "temperature", "accuracy", "mean length");
            table.AddRow(Markup.Escape(parse.GetValue(model)!.Name), Markup.Escape(data.Name), result.Prompts.ToString(CultureInfo.InvariantCulture),
                result.SamplesPerPrompt.ToString(CultureInfo.InvariantCulture), parse.GetValue(temperature).ToString(CultureInfo.InvariantCulture),
                result.Accuracy.ToString("F3", CultureInfo.InvariantCulture), result.MeanLength.ToString("F1", CultureInfo.InvariantCulture));
            AnsiConsole.Write(table);
            if (parse.GetValue(output) is { } file)
                JsonLines.Write(file.FullName, w => w.WriteLine(new JsonObject
                {
                    ["model"] = parse.GetValue(model)!.FullName, ["data"] = data.Name, ["accuracy"] = result.Accuracy,
                    ["prompts"] = result.Prompts, ["samples_per_prompt"] = result.SamplesPerPrompt,
                    ["temperature"] = parse.GetValue(temperature), ["mean_length"] = result.MeanLength,
                }.ToJsonString(new JsonSerializerOptions { WriteIndented = true })));
            return 0;
        }));
        return command;
    }
}
