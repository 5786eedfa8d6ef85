using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text;
using GspoSharp.Objectives;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace GspoSharp.Training;

/// <summary>
/// Reads a <see cref="TrainConfig"/> from a flat YAML (or JSON) file of <c>key: value</c> lines and
/// <c>key=value</c> overrides, and writes one back. Unknown keys, nested values and values of the
/// wrong type are refused with the file, line and key named.
/// </summary>
public static class ConfigFile
{
    static readonly IReadOnlyDictionary<string, PropertyInfo> Properties = typeof(TrainConfig)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.GetCustomAttribute<DescriptionAttribute>() is not null)
        .ToDictionary(p => SnakeCase(p.Name));

    /// <summary>Keys that may be unset (null or ~): those whose property is declared nullable.</summary>
    static readonly HashSet<string> NullableKeys = Properties
        .Where(p => new NullabilityInfoContext().Create(p.Value).WriteState == NullabilityState.Nullable)
        .Select(p => p.Key).ToHashSet();

    /// <summary>TRL's names accepted for a key (docs/config.md says which); a single value given for a list key is a one-item list.</summary>
    static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>
    {
        ["vllm_server_base_url"] = "rollout_servers",
    };

    /// <summary>The keys, in declaration order.</summary>
    public static IEnumerable<string> Keys => Properties.Keys;

    /// <summary>Applies <paramref name="path"/> (if given) and then <paramref name="overrides"/> on <paramref name="baseConfig"/>.</summary>
    public static TrainConfig Load(TrainConfig baseConfig, string? path, IEnumerable<string> overrides)
    {
        var config = baseConfig;
        if (path is not null)
        {
            if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found.");
            config = Apply(config, File.ReadAllText(path), path);
        }
        foreach (var item in overrides)
        {
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"--set {item}: expected key=value.");
            config = Apply(config, $"{item[..eq].Trim()}: {item[(eq + 1)..]}", $"--set {item}", lineNumbers: false);
        }
        return config;
    }

    /// <summary>Applies the <c>key: value</c> entries of YAML <paramref name="text"/>; <paramref name="source"/> names it
    /// in errors, with line numbers when <paramref name="lineNumbers"/> (a file).</summary>
    public static TrainConfig Apply(TrainConfig config, string text, string source, bool lineNumbers = true)
    {
        var stream = YamlFile.Load(text, source, lineNumbers);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" }) return config;
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new ArgumentException($"{source}: expected key: value lines.");
        return Apply(config, root, source, lineNumbers);
    }

    /// <summary>Applies the entries of a YAML mapping (e.g. a section of an experiment matrix).</summary>
    public static TrainConfig Apply(TrainConfig config, YamlMappingNode root, string source, bool lineNumbers = true)
    {
        var copy = config with { };
        foreach (var (keyNode, valueNode) in root.Children)
        {
            string where = lineNumbers ? $"{source}:{keyNode.Start.Line}" : source;
            string key = keyNode is YamlScalarNode { Value: { } name }
                ? name
                : throw new ArgumentException($"{where}: a key must be a plain name, not a {(keyNode is YamlSequenceNode ? "list" : "mapping")}.");
            var value = valueNode;
            if (Aliases.TryGetValue(key, out var canonical))
            {
                key = canonical;
                if (value is YamlScalarNode { Value: not (null or "" or "null" or "~") } one) value = new YamlSequenceNode(one);
            }
            if (!Properties.TryGetValue(key, out var property))
                throw new ArgumentException($"{where}: unknown key '{key}'{Suggestion(key)}.");
            property.SetValue(copy, Convert(value, property.PropertyType, NullableKeys.Contains(key), $"{where}: {key}"));
        }
        // Naming a dataset replaces the task (a built-in default) unless the same entries name a task too.
        bool names(string key) => root.Children.ContainsKey(new YamlScalarNode(key));
        if (names("dataset") && copy.Dataset is not null && !names("task")) copy = copy with { Task = null };
        return copy;
    }

    static object? Convert(YamlNode node, Type type, bool nullable, string where)
    {
        if (node is YamlScalarNode scalar && scalar.Style == ScalarStyle.Plain && scalar.Value is null or "null" or "~" or "")
            return nullable ? null : throw new ArgumentException($"{where} cannot be null.");
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(IReadOnlyList<string>) || type == typeof(IReadOnlyList<double>))
        {
            if (node is not YamlSequenceNode sequence) throw new ArgumentException($"{where} must be a list, e.g. [a, b].");
            var items = sequence.Children.Select((item, i) => Convert(item, type.GetGenericArguments()[0], false, $"{where}[{i}]")).ToList();
            return type == typeof(IReadOnlyList<string>) ? items.Cast<string>().ToList() : items.Cast<double>().ToList();
        }
        if (node is not YamlScalarNode { Value: { } text })
            throw new ArgumentException($"{where} must be a single value, not a {(node is YamlSequenceNode ? "list" : "mapping")}.");
        try
        {
            if (type == typeof(string)) return text;
            if (type == typeof(bool)) return text switch { "true" or "True" => true, "false" or "False" => false, _ => throw new FormatException() };
            if (type == typeof(int)) return int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
            if (type == typeof(long)) return long.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture);
            if (type == typeof(double)) return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (type == typeof(ImportanceSamplingLevel)) return PolicyObjectiveOptions.Names.ParseLevel(text);
            if (type == typeof(LossType)) return PolicyObjectiveOptions.Names.ParseLossType(text);
            if (type == typeof(ScaleRewards)) return PolicyObjectiveOptions.Names.ParseScaleRewards(text);
            if (type == typeof(SaveDtype)) return SaveDtypes.Parse(text);
            if (type == typeof(LearningRateSchedule))
                return Enum.GetValues<LearningRateSchedule>().FirstOrDefault(v => SnakeCase(v.ToString()) == text, (LearningRateSchedule)(-1)) is var s && (int)s >= 0
                    ? s : throw new ArgumentException("must be constant, cosine or linear");
            if (type.IsEnum)   // any other enum: its members in snake_case
                return Enum.GetValues(type).Cast<Enum>().FirstOrDefault(v => SnakeCase(v.ToString()) == text)
                       ?? throw new ArgumentException($"must be {string.Join(", ", Enum.GetValues(type).Cast<Enum>().Select(v => SnakeCase(v.ToString())))}");
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"{where}: '{text}' is not {Article(type)}.");
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{where}: {e.Message}");
        }
        throw new InvalidOperationException($"no conversion to {type}.");
    }

    static string Article(Type type) => type == typeof(bool) ? "true or false" : type == typeof(double) ? "a number" : "an integer";

    static string Suggestion(string key)
    {
        // The distance table is key length × name length: no suggestion for a key far longer than any name.
        if (key.Length > 64) return "";
        var best = Properties.Keys.OrderBy(k => Distance(k, key)).First();
        return Distance(best, key) <= Math.Max(2, key.Length / 3) ? $" (did you mean '{best}'?)" : "";
    }

    static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }

    /// <summary>PascalCase → snake_case (NumGenerations → num_generations, AdamBeta1 → adam_beta1).</summary>
    public static string SnakeCase(string name) => TrainConfig.Key(name);

    /// <summary>The config as YAML, one documented key per line (the resolved config of a run).</summary>
    public static string ToYaml(TrainConfig config)
    {
        var text = new StringBuilder();
        foreach (var (key, property) in Properties)
            text.Append(key).Append(": ").AppendLine(Format(property.GetValue(config)));
        return text.ToString();
    }

    /// <summary>Every key with its default and description (for --help and docs).</summary>
    public static IEnumerable<(string Key, string Default, string Description)> Describe() =>
        Properties.Select(p => (p.Key, Format(p.Value.GetValue(new TrainConfig())), p.Value.GetCustomAttribute<DescriptionAttribute>()!.Description));

    /// <summary>True for strings that would not read back as themselves unquoted: empty, a null or bool
    /// word, surrounded by spaces, starting like a list entry, or holding YAML punctuation.</summary>
    static bool NeedsQuotes(string s) =>
        s.Length == 0 || s is "null" or "~" or "true" or "false" || char.IsWhiteSpace(s[0]) || char.IsWhiteSpace(s[^1]) ||
        s[0] is '-' or '?' || s.Any(c => ":#[]{},&*!|>'\"%@`".Contains(c));

    static string Format(object? value) => value switch
    {
        null => "null",
        string s => NeedsQuotes(s) ? $"\"{s.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"" : s,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        ImportanceSamplingLevel l => PolicyObjectiveOptions.Names.Of(l),
        LossType l => PolicyObjectiveOptions.Names.Of(l),
        ScaleRewards s => PolicyObjectiveOptions.Names.Of(s),
        SaveDtype d => SaveDtypes.Name(d),
        Enum e => SnakeCase(e.ToString()),
        IEnumerable<string> list => "[" + string.Join(", ", list.Select(Format)) + "]",
        IEnumerable<double> list => "[" + string.Join(", ", list.Select(d => Format(d))) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "null",
    };
}
