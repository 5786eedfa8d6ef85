using GspoSharp.Experiments;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>
/// Run configs and experiment matrices the parser fuzzer made, each of which ended in another
/// exception than the documented ArgumentException naming the file — or, for deep nesting, in a
/// stack overflow that ended the process.
/// </summary>
public class YamlRefusalTests
{
    static readonly string DeepList = "epsilon: " + new string('[', 20_000) + new string(']', 20_000) + "\n";

    [Theory]
    [InlineData("learning_rate: 1e-5\n[a, b]: 1\n", "config.yaml:2: a key must be a plain name, not a list")]
    [InlineData("{a: 1}: 2\n", "config.yaml:1: a key must be a plain name, not a mapping")]
    [InlineData("beta: 0\nepsilon: [1, 2\nepsilon_high: null\nseed: 1\n", "config.yaml: not valid YAML")]
    [InlineData("seed: " + "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "config.yaml:1: lists and mappings are nested more than 64 deep")]
    public void A_run_config_is_refused_naming_the_file(string yaml, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), yaml, "config.yaml"));
        Assert.StartsWith(message, e.Message);
    }

    [Theory]
    [InlineData("seed: \"\\udc00\\ud800\"\n")]          // YamlDotNet: ArgumentOutOfRangeException
    [InlineData("seeds: [1]*undefined\nseed: 1\n")]        // YamlDotNet: ArgumentException from its node builder
    public void Yaml_the_library_fails_on_with_other_exceptions_is_refused_naming_the_file(string yaml)
    {
        var e = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), yaml, "config.yaml"));
        Assert.StartsWith("config.yaml", e.Message);
    }

    [Fact]
    public void An_unknown_key_of_a_hundred_thousand_characters_costs_no_distance_table()
    {
        string key = new('k', 100_000);
        long before = GC.GetAllocatedBytesForCurrentThread();
        // An explicit key ("? "): YAML limits implicit keys to 1024 characters.
        var e = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), "? " + key + "\n: 1\n", "config.yaml"));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.StartsWith("config.yaml:1: unknown key 'kkk", e.Message);
        // A suggestion would fill a 100 001 × (name length + 1) table for each of the ~50 names: over 500 MB.
        Assert.True(allocated < 32 << 20, $"{allocated:N0} bytes allocated");
    }

    [Fact]
    public void Twenty_thousand_nested_lists_are_refused_instead_of_overflowing_the_stack()
    {
        var e = Assert.Throws<ArgumentException>(() => ConfigFile.Apply(new TrainConfig(), DeepList, "config.yaml"));
        Assert.StartsWith("config.yaml:1: lists and mappings are nested more than 64 deep", e.Message);
    }

    const string Valid = "name: m\nseeds: [1, 2]\nbase: { task: arithmetic, init_size: tiny }\nmodels:\n  dense: { init_arch: qwen3 }\narms:\n  gspo: { importance_sampling_level: sequence }\n";

    [Theory]
    [InlineData("seeds: [1, 2]", "seeds: [1, 99999999999999999999]", ":2: seeds[1] is not an integer")]
    [InlineData("seeds: [1, 2]", "seeds: [1, x]", ":2: seeds[1] is not an integer")]
    [InlineData("seeds: [1, 2]", "seeds: [1, [2]]", ":2: seeds[1] is not an integer")]
    [InlineData("seeds: [1, 2]", "seeds: []", ":2: seeds is empty")]
    [InlineData("seeds: [1, 2]", "seeds: [2, 2]", ":2: a seed appears twice in seeds")]
    [InlineData("name: m", "name: m\ntarget_accuracy: x", ":2: target_accuracy 'x' is not a number in [0, 1]")]
    [InlineData("dense: { init_arch: qwen3 }", "dense: qwen3", ":5: model dense must be a mapping of options")]
    [InlineData("dense: { init_arch: qwen3 }", "[dense]: { init_arch: qwen3 }", ":5: a model name must be a plain name, not a list")]
    [InlineData("dense: { init_arch: qwen3 }", "../../elsewhere: { init_arch: qwen3 }", ":5: a model is named '../../elsewhere'; names become directories")]
    [InlineData("gspo: { importance_sampling_level: sequence }", "gspo: [sequence]", ":7: arm gspo must be a mapping of options")]
    [InlineData("gspo: { importance_sampling_level: sequence }", "gspo: { models: dense }", ":7: arm gspo: models must be a list of model names")]
    [InlineData("gspo: { importance_sampling_level: sequence }", "gspo: { models: [[dense]] }", ":7: arm gspo: an item of models must be a plain name, not a list")]
    [InlineData("gspo: { importance_sampling_level: sequence }", "..: {}", ":7: an arm is named '..'")]
    [InlineData("name: m", "{x: 1}: m", ":1: a key must be a plain name, not a mapping")]
    [InlineData("init_size: tiny }", "init_size: " + "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[tiny]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] }", ":3: lists and mappings are nested more than 64 deep")]
    [InlineData("init_size: tiny }", "init_size: [[tiny }", ": not valid YAML")]
    public void A_matrix_is_refused_naming_the_file_and_line(string replace, string with, string message)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "matrix.yaml");
        Assert.Contains(replace, Valid);
        File.WriteAllText(path, Valid.Replace(replace, with));
        var e = Assert.Throws<ArgumentException>(() => ExperimentMatrix.Load(path));
        Assert.StartsWith(path + message, e.Message);
    }

    [Fact]
    public void The_valid_matrix_of_these_tests_loads()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "matrix.yaml");
        File.WriteAllText(path, Valid);
        Assert.Equal(2, ExperimentMatrix.Load(path).Runs.Count);
    }
}
