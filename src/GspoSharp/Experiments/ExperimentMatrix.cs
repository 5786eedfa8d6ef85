using System.Globalization;
using GspoSharp.Training;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace GspoSharp.Experiments;

/// <summary>One training run of a matrix: a model × an arm × a seed.</summary>
/// <param name="Model">The model's name in the matrix.</param>
/// <param name="Arm">The arm's name.</param>
/// <param name="Seed">The run's seed (data order and sampling).</param>
/// <param name="Config">base + model + arm + seed; the model and the warm start are set by the runner.</param>
public sealed record PlannedRun(string Model, string Arm, long Seed, TrainConfig Config)
{
    /// <summary>Directory of the run, relative to the experiment's output directory.</summary>
    public string RelativeDirectory => Path.Combine("runs", Model, Arm, $"seed-{Seed}");
}

/// <summary>
/// A grid of training runs that differ only in the named options (docs/experiments.md):
/// <code>
/// name: study
/// seeds: [1, 2, 3]
/// target_accuracy: 0.75           # for "steps to target"
/// base: { key: value, … }         # every run: data, sizes, optimizer, steps, SFT warm start
/// models: { dense: { init_arch: qwen3 }, moe: { init_arch: qwen3_moe } }
/// arms:   { gspo: { importance_sampling_level: sequence }, grpo-rr: { …, models: [moe] } }
/// </code>
/// Every arm and seed of a model starts from the same warm-started weights (one SFT per model).
/// </summary>
public sealed record ExperimentMatrix(string Name, IReadOnlyList<long> Seeds, double? TargetAccuracy, TrainConfig Base,
    IReadOnlyDictionary<string, TrainConfig> Models, IReadOnlyList<PlannedRun> Runs)
{
    /// <summary>Reads and checks <paramref name="path"/>; every run's config is validated before anything runs.</summary>
    public static ExperimentMatrix Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.");
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(File.ReadAllText(path)));
        }
        catch (YamlException e)
        {
            throw new ArgumentException($"{path}:{e.Start.Line}: {e.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ArgumentException($"{path}: expected a mapping with name, seeds, base, models and arms.");
        var known = new[] { "name", "seeds", "target_accuracy", "base", "models", "arms" };
        foreach (var key in root.Children.Keys.Cast<YamlScalarNode>())
            if (!known.Contains(key.Value))
                throw new ArgumentException($"{path}:{key.Start.Line}: unknown key '{key.Value}'; a matrix has {string.Join(", ", known)}.");

        string name = Scalar(root, "name", path) ?? Path.GetFileNameWithoutExtension(path);
        var seeds = (Node(root, "seeds", path) as YamlSequenceNode)?.Children
            .Select(s => long.Parse(((YamlScalarNode)s).Value!, CultureInfo.InvariantCulture)).ToList()
            ?? throw new ArgumentException($"{path}: seeds must be a list, e.g. [1, 2, 3].");
        double? target = Scalar(root, "target_accuracy", path) is { } t ? double.Parse(t, CultureInfo.InvariantCulture) : null;
        var baseConfig = ConfigFile.Apply(new TrainConfig(), Mapping(root, "base", path), $"{path} (base)");
        var models = Mapping(root, "models", path).Children.ToDictionary(
            m => ((YamlScalarNode)m.Key).Value!,
            m => ConfigFile.Apply(baseConfig, (YamlMappingNode)m.Value, $"{path} (model {((YamlScalarNode)m.Key).Value})"));
        if (models.Count == 0) throw new ArgumentException($"{path}: models is empty.");

        var runs = new List<PlannedRun>();
        foreach (var (armKey, armValue) in Mapping(root, "arms", path).Children)
        {
            string arm = ((YamlScalarNode)armKey).Value!;
            var options = new YamlMappingNode(((YamlMappingNode)armValue).Children.Where(c => ((YamlScalarNode)c.Key).Value != "models"));
            var only = (((YamlMappingNode)armValue).Children.FirstOrDefault(c => ((YamlScalarNode)c.Key).Value == "models").Value as YamlSequenceNode)?
                .Children.Select(c => ((YamlScalarNode)c).Value!).ToList();
            foreach (var model in only ?? models.Keys.ToList())
            {
                if (!models.TryGetValue(model, out var modelConfig))
                    throw new ArgumentException($"{path}: arm {arm} names model '{model}', which models does not define.");
                var armConfig = ConfigFile.Apply(modelConfig, options, $"{path} (arm {arm})");
                foreach (var seed in seeds)
                {
                    var config = armConfig with { Seed = seed };
                    try
                    {
                        config.Validate();
                    }
                    catch (ArgumentException e)
                    {
                        throw new ArgumentException($"{path}: run {model}/{arm}/seed-{seed}: {e.Message}");
                    }
                    runs.Add(new PlannedRun(model, arm, seed, config));
                }
            }
        }
        return new ExperimentMatrix(name, seeds, target, baseConfig, models, runs);
    }

    static YamlNode? Node(YamlMappingNode root, string key, string path) =>
        root.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    static string? Scalar(YamlMappingNode root, string key, string path) => Node(root, key, path) switch
    {
        null => null,
        YamlScalarNode s => s.Value,
        var other => throw new ArgumentException($"{path}:{other.Start.Line}: {key} must be a single value."),
    };

    static YamlMappingNode Mapping(YamlMappingNode root, string key, string path) => Node(root, key, path) as YamlMappingNode
        ?? throw new ArgumentException($"{path}: {key} must be a mapping.");
}
