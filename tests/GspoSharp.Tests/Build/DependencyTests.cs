using GspoSharp.Training;

namespace GspoSharp.Tests.Build;

/// <summary>Which library depends on what: plots and YAML stay out of the core, RL stays out of the models.</summary>
public class DependencyTests
{
    static IEnumerable<string> References(Type type) => type.Assembly.GetReferencedAssemblies().Select(a => a.Name!);

    [Fact]
    public void The_core_library_references_neither_YAML_nor_plotting()
    {
        var core = References(typeof(GspoTrainer)).ToList();
        Assert.Contains("TorchSharp", core);
        Assert.DoesNotContain(core, name => name.StartsWith("YamlDotNet", StringComparison.Ordinal) || name.StartsWith("ScottPlot", StringComparison.Ordinal));
        Assert.Contains("YamlDotNet", References(typeof(TrainingRun)));
        Assert.Contains("ScottPlot", References(typeof(GspoSharp.Reports.RunReport)));
    }

    [Fact]
    public void The_models_library_references_no_other_GspoSharp_assembly()
    {
        Assert.DoesNotContain(References(typeof(GspoSharp.Models.LanguageModel)), name => name.StartsWith("GspoSharp", StringComparison.Ordinal));
    }
}
