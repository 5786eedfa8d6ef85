using GspoSharp.Objectives;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>TrainConfig holds the objective's options once: each is a config key, and the keys write the objective.</summary>
public class TrainConfigObjectiveTests
{
    [Fact]
    public void Every_objective_option_is_a_config_key_of_the_same_type()
    {
        var keys = ConfigFile.Keys.ToHashSet();
        foreach (var option in typeof(PolicyObjectiveOptions).GetProperties().Where(p => p.SetMethod is not null))
        {
            Assert.Contains(ConfigFile.SnakeCase(option.Name), keys);
            Assert.Equal(option.PropertyType, typeof(TrainConfig).GetProperty(option.Name)!.PropertyType);
        }
    }

    [Fact]
    public void The_keys_write_the_objective_and_its_defaults_are_the_configs()
    {
        var config = ConfigFile.Apply(new TrainConfig(),
            "importance_sampling_level: token\nepsilon: 0.1\nepsilon_high: 0.3\nbeta: 0.02\nloss_type: dapo\nmax_completion_length: 77", "a.yaml");
        Assert.Equal(new PolicyObjectiveOptions
        {
            ImportanceSamplingLevel = ImportanceSamplingLevel.Token, Epsilon = 0.1, EpsilonHigh = 0.3, Beta = 0.02,
            LossType = LossType.Dapo, MaxCompletionLength = 77,
        }, config.Objective);
        Assert.Equal(new PolicyObjectiveOptions(), new TrainConfig().Objective);
        Assert.Equal(0.05, (new TrainConfig() with { Beta = 0.05 }).Objective.Beta);
    }
}
