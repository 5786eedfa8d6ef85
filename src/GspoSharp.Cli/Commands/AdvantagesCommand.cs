using System.CommandLine;
using System.Globalization;
using GspoSharp.Objectives;
using Spectre.Console;

namespace GspoSharp.Cli.Commands;

/// <summary><c>gspo advantages</c>: group-relative advantages of a list of rewards.</summary>
internal static class AdvantagesCommand
{
    public static Command Create()
    {
        var rewards = new Option<string>("--rewards")
        {
            Description = "Comma-separated rewards, in consecutive groups of --num-generations (e.g. 1,0,0,1).",
            Required = true,
        };
        var groupSize = new Option<int>("--num-generations", "-G")
        {
            Description = "Responses per prompt, G (TRL num_generations).",
            Required = true,
        };
        var scale = new Option<string>("--scale-rewards")
        {
            Description = "group: divide by the group std (the paper); batch: by the batch std; none: no division (Dr. GRPO).",
            DefaultValueFactory = _ => PolicyObjectiveOptions.Names.Of(ObjectiveDefaults.RewardScaling),
        };
        var command = new Command("advantages", "Group-relative advantages Â = (r − group mean) / (group std + 1e-4).")
        {
            rewards, groupSize, scale,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var values = parse.GetValue(rewards)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select((text, i) => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
                    ? v : throw new ArgumentException($"--rewards: item {i + 1} ('{text}') is not a number."))
                .ToArray();
            int g = parse.GetValue(groupSize);
            var result = GroupAdvantages.Compute(values, g, PolicyObjectiveOptions.Names.ParseScaleRewards(parse.GetValue(scale)!));

            var table = new Table().AddColumns("group", "reward", "advantage");
            for (int i = 0; i < values.Length; i++)
                table.AddRow(new Text((i / g).ToString(CultureInfo.InvariantCulture)),
                    new Text(values[i].ToString("G6", CultureInfo.InvariantCulture)),
                    new Text(result.Advantages[i].ToString("F6", CultureInfo.InvariantCulture)));
            AnsiConsole.Write(table);
            AnsiConsole.WriteLine($"frac_reward_zero_std = {result.FracRewardZeroStd.ToString("G4", CultureInfo.InvariantCulture)}");
            return 0;
        }));
        return command;
    }
}
