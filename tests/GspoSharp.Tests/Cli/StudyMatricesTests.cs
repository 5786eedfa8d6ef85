using GspoSharp.Experiments;

namespace GspoSharp.Tests.Cli;

/// <summary>Every committed matrix in experiments/ loads and validates every run's config, so none can rot unnoticed.</summary>
public class StudyMatricesTests
{
    static string Matrix(string name) => Path.Combine(Repository.Root, "experiments", name + ".yaml");

    [Theory]
    [InlineData("smoke", 12)]
    [InlineData("study", 36)]
    [InlineData("tune-gspo-epsilon", 4)]
    [InlineData("pilot-volatility", 6)]
    [InlineData("pilot-long", 2)]
    [InlineData("regime", 5 * 10 + 3)]
    [InlineData("stability", 3 * (2 * 4 + 1))]
    [InlineData("directions", 3 * 11)]
    [InlineData("architectures", 3 * 4 * 2)]
    [InlineData("architectures-small", 3 * 4 * 2)]
    [InlineData("directions-small", 3 * 5)]
    [InlineData("regime-mismatch", 12)]
    [InlineData("stability-mismatch", 30)]
    [InlineData("stability-small", 3 * (8 + 4) + 3 * (7 + 2))]   // MoE: 8 arms + 4 at lr 1e-3; dense: 7 arms + gspo-tuned, gspo-sapo
    public void A_committed_matrix_loads_with_all_its_runs(string name, int runs)
    {
        var matrix = ExperimentMatrix.Load(Matrix(name));
        Assert.Equal(name, matrix.Name);
        Assert.Equal(runs, matrix.Runs.Count);
    }

    [Fact]
    public void The_deep_moe_of_the_study_has_16_layers_and_top_8_of_64_experts_and_its_dense_twin_the_same_active_width()
    {
        var matrix = ExperimentMatrix.Load(Matrix("stability"));
        var moe = matrix.Models["moe"].InitShape;
        Assert.Equal(new GspoSharp.Models.ModelShape(16, 64, 8, 16), moe);
        Assert.Equal(16, matrix.Models["dense"].InitNumHiddenLayers);
        Assert.Equal(8 * 16, GspoSharp.Models.TinyConfigs.Create(GspoSharp.Models.Architecture.ModelType.Qwen3, GspoSharp.Models.ModelSize.Tiny, 512).IntermediateSize);
    }
}
