using System.CommandLine;
using GspoSharp.Models;
using GspoSharp.Tasks;
using GspoSharp.Training;

namespace GspoSharp.Cli.Commands;

/// <summary><c>gspo sft</c>: supervised warm start on demonstrations ("completion" fields), saved as a new model.</summary>
internal static class SftCommand
{
    public static Command Create()
    {
        var model = new Option<DirectoryInfo>("--model", "-m") { Description = "Model directory to start from.", Required = true };
        var data = new DataOptions("Built-in task (arithmetic | reverse | long-sum).", "JSON Lines with \"prompt\"/\"messages\" and \"completion\".");
        var output = new Option<string>("--out", "-o") { Description = "Directory for the fine-tuned model.", Required = true };
        var steps = new Option<int>("--steps") { Description = "Optimizer steps.", DefaultValueFactory = _ => 800 };
        var batch = new Option<int>("--batch-size") { Description = "Demonstrations per step.", DefaultValueFactory = _ => 32 };
        var lr = new Option<double>("--learning-rate") { Description = "Peak learning rate (10% warm-up, cosine).", DefaultValueFactory = _ => new SftOptions().LearningRate };
        var chat = new Option<bool>("--chat") { Description = "Wrap plain prompts in the chat template." };
        var seed = new Option<long>("--seed") { Description = "Seed of the task stream.", DefaultValueFactory = _ => 42 };
        var saveDtype = new Option<string>("--save-dtype")
        {
            Description = "Dtype of the saved weights: auto (as --model is stored) | float32 | bfloat16 | float16.", DefaultValueFactory = _ => "auto",
        };
        var command = new Command("sft", "Supervised fine-tuning on demonstrations (the cold start before RL).")
        {
            model, data.Task, data.Dataset, output, steps, batch, lr, chat, seed, saveDtype,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            data.Check(parse);
            SaveDtype dtype;
            try
            {
                dtype = SaveDtypes.Parse(parse.GetValue(saveDtype)!);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"--save-dtype {e.Message}");
            }
            var rows = data.Open(parse, TaskSplit.Train, parse.GetValue(seed), Array.Empty<Rewards.IRewardFunction>());
            string source = parse.GetValue(model)!.FullName;
            var storageDtype = SaveDtypes.Resolve(dtype, source);
            using var policy = LanguageModel.Load(source, parse.GetValue(chat));
            var options = new SftOptions
            {
                Steps = parse.GetValue(steps), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(lr), Seed = parse.GetValue(seed),
            };
            if (options.Steps < 1 || options.BatchSize < 1 || !(options.LearningRate > 0))
                throw new ArgumentException("--steps and --batch-size must be ≥ 1 and --learning-rate > 0.");
            TrainCommand.Run(progress =>
            {
                progress.Stage("sft", $"{options.Steps} steps × {options.BatchSize} demonstrations from {rows.Name}");
                SupervisedFineTuning.Run(policy, rows, options, (step, loss, _) => progress.SftStep(step, options.Steps, loss));
                progress.Stage("save", $"{parse.GetValue(output)} ({ModelDirectory.DtypeName(storageDtype)})");
                ModelDirectory.Save(policy.Model, parse.GetValue(output)!, companionsFrom: source, storageDtype: storageDtype);
                return 0;
            }, Math.Max(1, options.Steps / 20));
            return 0;
        }));
        return command;
    }
}
