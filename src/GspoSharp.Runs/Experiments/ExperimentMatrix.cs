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
        var stream = YamlFile.Load(File.ReadAllText(path), path);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ArgumentException($"{path}: expected a mapping with name, seeds, base, models and arms.");
        var known = new[] { "name", "seeds", "target_accuracy", "base", "models", "arms" };
        foreach (var key in root.Children.Keys)
            if (!known.Contains(Text(key, path, "a key")))
                throw new ArgumentException($"{path}:{key.Start.Line}: unknown key '{Text(key, path, "a key")}'; a matrix has {string.Join(", ", known)}.");

        string name = Scalar(root, "name", path) ?? Path.GetFileNameWithoutExtension(path);
        var seedList = Node(root, "seeds", path) as YamlSequenceNode ?? throw new ArgumentException($"{path}: seeds must be a list, e.g. [1, 2, 3].");
        var seeds = seedList.Children.Select((s, i) =>
            s is YamlScalarNode { Value: { } text } && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long seed)
                ? seed
                : throw new ArgumentException($"{path}:{s.Start.Line}: seeds[{i}] is not an integer.")).ToList();
        if (seeds.Count == 0) throw new ArgumentException($"{path}:{seedList.Start.Line}: seeds is empty.");
        if (seeds.Distinct().Count() < seeds.Count) throw new ArgumentException($"{path}:{seedList.Start.Line}: a seed appears twice in seeds.");
        double? target = Scalar(root, "target_accuracy", path) is { } t
            ? double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double accuracy) && accuracy is >= 0 and <= 1
                ? accuracy
                : throw new ArgumentException($"{path}:{Node(root, "target_accuracy", path)!.Start.Line}: target_accuracy '{t}' is not a number in [0, 1].")
            : null;
        var baseConfig = ConfigFile.Apply(new TrainConfig(), Mapping(root, "base", path), $"{path} (base)");
        var models = new Dictionary<string, TrainConfig>(StringComparer.Ordinal);
        foreach (var (key, value) in Mapping(root, "models", path).Children)
        {
            string model = DirectoryName(key, path, "a model");
            models[model] = ConfigFile.Apply(baseConfig, Options(value, path, $"model {model}"), $"{path} (model {model})");
        }
        if (models.Count == 0) throw new ArgumentException($"{path}: models is empty.");

        var runs = new List<PlannedRun>();
        foreach (var (armKey, armValue) in Mapping(root, "arms", path).Children)
        {
            string arm = DirectoryName(armKey, path, "an arm");
            var armOptions = Options(armValue, path, $"arm {arm}");
            var options = new YamlMappingNode(armOptions.Children.Where(c => Text(c.Key, path, "a key") != "models"));
            var only = armOptions.Children.FirstOrDefault(c => Text(c.Key, path, "a key") == "models").Value switch
            {
                null => null,
                YamlSequenceNode list => list.Children.Select(c => Text(c, path, $"arm {arm}: an item of models")).ToList(),
                var other => throw new ArgumentException($"{path}:{other.Start.Line}: arm {arm}: models must be a list of model names."),
            };
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

    /// <summary>The text of a scalar used as a name; a list or mapping in its place is refused.</summary>
    static string Text(YamlNode node, string path, string what) => node is YamlScalarNode { Value: { } text }
        ? text
        : throw new ArgumentException($"{path}:{node.Start.Line}: {what} must be a plain name, not a {(node is YamlSequenceNode ? "list" : "mapping")}.");

    /// <summary>A model or arm name: it becomes a directory under runs/, so it must be a plain file name.</summary>
    static string DirectoryName(YamlNode node, string path, string what)
    {
        string name = Text(node, path, $"{what} name");
        return name.Length > 0 && name is not ("." or "..") && name.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\']) < 0
            ? name
            : throw new ArgumentException($"{path}:{node.Start.Line}: {what} is named '{name}'; names become directories, so they must be plain file names.");
    }

    static YamlMappingNode Options(YamlNode node, string path, string what) => node as YamlMappingNode
        ?? throw new ArgumentException($"{path}:{node.Start.Line}: {what} must be a mapping of options, e.g. {{ init_arch: qwen3 }}.");

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
