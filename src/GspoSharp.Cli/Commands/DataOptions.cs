using System.CommandLine;
using GspoSharp.Rewards;
using GspoSharp.Tasks;

namespace GspoSharp.Cli.Commands;

/// <summary>The <c>--task NAME | --dataset FILE</c> pair of the commands that read prompts (sft, eval).</summary>
internal sealed class DataOptions(string taskDescription, string datasetDescription)
{
    /// <summary>A built-in task.</summary>
    public Option<string?> Task { get; } = new("--task") { Description = taskDescription };

    /// <summary>A JSON Lines file.</summary>
    public Option<FileInfo?> Dataset { get; } = new("--dataset") { Description = datasetDescription };

    /// <summary>Refuses none or both of the two.</summary>
    public void Check(ParseResult parse)
    {
        if ((parse.GetValue(Task) is null) == (parse.GetValue(Dataset) is null))
            throw new ArgumentException("give exactly one of --task and --dataset.");
    }

    /// <summary>The task's <paramref name="split"/> stream, or the file's rows checked for the fields <paramref name="rewards"/> need.</summary>
    public Dataset Open(ParseResult parse, TaskSplit split, long seed, IEnumerable<IRewardFunction> rewards)
    {
        Check(parse);
        return Tasks.Dataset.Open(parse.GetValue(Task), parse.GetValue(Dataset)?.FullName, split, seed, rewards);
    }
}
