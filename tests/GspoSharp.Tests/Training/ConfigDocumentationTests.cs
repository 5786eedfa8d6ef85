using System.Text;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>docs/config.md lists every key of TrainConfig with its default and description, and stays so.</summary>
public class ConfigDocumentationTests
{
    internal static string Render()
    {
        var text = new StringBuilder();
        text.AppendLine("# Run configuration (`gspo train --config FILE`)");
        text.AppendLine();
        text.AppendLine("A flat YAML (or JSON) file of `key: value` lines; any key may also be given as");
        text.AppendLine("`--set key=value`. Keys follow TRL's `GRPOConfig` where TRL has the concept. Unknown keys,");
        text.AppendLine("values of the wrong type and inconsistent combinations are refused before any work starts,");
        text.AppendLine("naming the file, line and key. `gspo train --print-config` prints a resolved config.");
        text.AppendLine("This page is generated from `TrainConfig` (a test fails when it is out of date; regenerate");
        text.AppendLine("with `GSPO_UPDATE_DOCS=1 dotnet test GspoSharp.slnx --filter ConfigDocumentation`).");
        text.AppendLine();
        text.AppendLine("| key | default | meaning and source of the default |");
        text.AppendLine("|---|---|---|");
        foreach (var (key, value, description) in ConfigFile.Describe())
            text.AppendLine($"| `{key}` | `{value}` | {description.Replace("|", "\\|")} |");
        return text.ToString();
    }

    [Fact]
    public void Docs_list_every_key_with_its_default()
    {
        string path = Path.Combine(Repository.Root, "docs", "config.md");
        string expected = Render();
        if (Environment.GetEnvironmentVariable("GSPO_UPDATE_DOCS") == "1") File.WriteAllText(path, expected);
        Assert.True(File.Exists(path) && File.ReadAllText(path) == expected,
            "docs/config.md is out of date; regenerate it with GSPO_UPDATE_DOCS=1 dotnet test GspoSharp.slnx --filter ConfigDocumentation");
    }
}
