using GspoSharp.Objectives;

namespace GspoSharp.Tests.Objectives;

public class ObjectiveOptionsTests
{
    [Fact]
    public void Unset_clip_ranges_take_the_papers_defaults_for_the_level()
    {
        Assert.Equal((3e-4, 4e-4), (PolicyObjectiveOptions.Gspo().ClipLow, PolicyObjectiveOptions.Gspo().ClipHigh));
        Assert.Equal((3e-4, 4e-4), (PolicyObjectiveOptions.GspoToken().ClipLow, PolicyObjectiveOptions.GspoToken().ClipHigh));
        Assert.Equal((0.2, 0.27), (PolicyObjectiveOptions.Grpo().ClipLow, PolicyObjectiveOptions.Grpo().ClipHigh));
        // As in TRL: epsilon_high defaults to epsilon once epsilon is set.
        var symmetric = PolicyObjectiveOptions.Grpo() with { Epsilon = 0.1 };
        Assert.Equal((0.1, 0.1), (symmetric.ClipLow, symmetric.ClipHigh));
        Assert.Equal(LossType.Grpo, new PolicyObjectiveOptions().LossType);
        Assert.Equal(0.0, new PolicyObjectiveOptions().Beta);
    }

    [Theory]
    [InlineData("token", ImportanceSamplingLevel.Token)]
    [InlineData("sequence", ImportanceSamplingLevel.Sequence)]
    [InlineData(" Sequence_Token ", ImportanceSamplingLevel.SequenceToken)]
    public void Trl_level_names_parse_and_print(string text, ImportanceSamplingLevel level)
    {
        Assert.Equal(level, PolicyObjectiveOptions.Names.ParseLevel(text));
        Assert.Equal(text.Trim().ToLowerInvariant(), PolicyObjectiveOptions.Names.Of(level));
    }

    [Fact]
    public void Trl_loss_type_and_scale_rewards_names_parse()
    {
        Assert.Equal(LossType.DrGrpo, PolicyObjectiveOptions.Names.ParseLossType("dr_grpo"));
        Assert.Equal(LossType.Dapo, PolicyObjectiveOptions.Names.ParseLossType("bnpo"));
        Assert.Equal(ScaleRewards.None, PolicyObjectiveOptions.Names.ParseScaleRewards("false"));
        Assert.Equal(ScaleRewards.Batch, PolicyObjectiveOptions.Names.ParseScaleRewards("batch"));
        Assert.Contains("loss_type", Assert.Throws<ArgumentException>(() => PolicyObjectiveOptions.Names.ParseLossType("sum")).Message);
    }

    [Theory]
    [InlineData(-0.1, null, 0.0, "epsilon")]
    [InlineData(1.0, null, 0.0, "epsilon")]
    [InlineData(0.2, -1.0, 0.0, "epsilon_high")]
    [InlineData(0.2, 0.2, -0.5, "beta")]
    [InlineData(double.NaN, null, 0.0, "epsilon")]
    public void Out_of_range_values_are_rejected_naming_the_option(double epsilon, double? epsilonHigh, double beta, string name)
    {
        var options = new PolicyObjectiveOptions { Epsilon = epsilon, EpsilonHigh = epsilonHigh, Beta = beta };
        Assert.StartsWith(name + " ", Assert.Throws<ArgumentException>(() => options.Validate()).Message);
    }

    [Fact]
    public void Questionable_combinations_warn()
    {
        Assert.Empty(PolicyObjectiveOptions.Gspo().Validate());
        Assert.Empty(PolicyObjectiveOptions.Grpo().Validate());
        Assert.Single((PolicyObjectiveOptions.Gspo() with { LossType = LossType.DrGrpo }).Validate());
        Assert.Contains("token-level clip range", Assert.Single((PolicyObjectiveOptions.Gspo() with { Epsilon = 0.2 }).Validate()));
    }
}
