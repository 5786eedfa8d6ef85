using System.Reflection;

namespace GspoSharp.Rewards;

/// <summary>
/// Reward functions by the name a config gives them (<c>reward_funcs</c>): the built-ins, and the
/// rewards of user assemblies (<c>reward_assembly</c>, <see cref="AddAssembly"/>). Every
/// <see cref="Create"/> makes a new instance.
/// </summary>
public sealed class RewardRegistry
{
    readonly Dictionary<string, (Func<IRewardFunction> Create, string Source)> rewards = new(StringComparer.Ordinal);

    /// <summary>The built-in rewards: accuracy (<see cref="AccuracyReward"/>) and format (<see cref="FormatReward"/>).</summary>
    public static RewardRegistry BuiltIn()
    {
        var registry = new RewardRegistry();
        registry.Add("accuracy", () => new AccuracyReward(), "built-in");
        registry.Add("format", () => new FormatReward(), "built-in");
        return registry;
    }

    /// <summary>The names known, in the order they were added.</summary>
    public IReadOnlyList<string> Names => rewards.Keys.ToList();

    /// <summary>Adds a reward called <paramref name="name"/>, made by <paramref name="create"/>; <paramref name="source"/>
    /// says where it comes from in messages.</summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    public void Add(string name, Func<IRewardFunction> create, string source = "program")
    {
        if (rewards.TryGetValue(name, out var existing))
            throw new ArgumentException($"reward '{name}' of {source} has the name of a reward of {existing.Source}; names must be unique.");
        rewards[name] = (create, source);
    }

    /// <summary>A new instance of the reward called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No reward has that name (the message lists the known ones).</exception>
    public IRewardFunction Create(string name) => rewards.TryGetValue(name, out var reward)
        ? reward.Create()
        : throw new ArgumentException($"reward_funcs: unknown reward '{name}'; {Known()}.");

    string Known()
    {
        var groups = rewards.GroupBy(r => r.Value.Source).Select(g => $"{g.Key}: {string.Join(", ", g.Select(r => r.Key))}").ToList();
        return string.Join("; ", groups) + (groups.Count == 1 ? " (more with reward_assembly: a .NET assembly of IRewardFunction classes, docs/library.md)" : "");
    }

    /// <summary>
    /// Loads the .NET assembly at <paramref name="path"/> and adds its rewards: every public, non-abstract
    /// class implementing <see cref="IRewardFunction"/> with a public parameterless constructor, under the
    /// <see cref="IRewardFunction.Name"/> of an instance (made once here to read it; each use makes a new one).
    /// The assembly's own dependencies are resolved from its directory; the GspoSharp assemblies, and any
    /// assembly the program has loaded already, are the program's, so its rewards implement the same interface.
    /// </summary>
    /// <exception cref="ArgumentException">The file is missing or not a .NET assembly, a type cannot be loaded or
    /// constructed, two rewards share a name, or the assembly holds no reward; the message names the path and type.</exception>
    public void AddAssembly(string path)
    {
        string where = $"reward_assembly: {path}";
        if (!File.Exists(path)) throw new ArgumentException($"{where}: file not found.");
        Assembly assembly;
        Type[] types;
        try
        {
            assembly = new RewardAssemblyContext(Path.GetFullPath(path)).LoadFromAssemblyPath(Path.GetFullPath(path));
            types = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException or TypeLoadException or ReflectionTypeLoadException)
        {
            throw new ArgumentException($"{where}: cannot load it as a .NET assembly: {e.Message}");
        }
        var found = types.Where(t => t.IsClass && !t.IsAbstract && !t.ContainsGenericParameters && typeof(IRewardFunction).IsAssignableFrom(t)).ToList();
        var usable = found.Where(t => t.GetConstructor(Type.EmptyTypes) is not null).ToList();
        if (usable.Count == 0)
            throw new ArgumentException($"{where}: no reward in it: a reward is a public, non-abstract class implementing GspoSharp.Rewards.IRewardFunction " +
                                        $"with a public parameterless constructor{(found.Count > 0 ? $" ({string.Join(", ", found.Select(t => t.FullName))} lack one)" : "")}.");
        foreach (var type in usable)
        {
            string name;
            try
            {
                name = New(type).Name;
            }
            catch (Exception e)
            {
                throw new ArgumentException($"{where}: {type.FullName}: creating it or reading its Name threw: {e.Message}");
            }
            Add(name, () => New(type), $"{Path.GetFileName(path)} ({type.FullName})");
        }
    }

    static IRewardFunction New(Type type)
    {
        try
        {
            return (IRewardFunction)Activator.CreateInstance(type)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
