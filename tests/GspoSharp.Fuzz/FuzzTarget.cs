using GspoSharp.Fuzz.Mutations;

namespace GspoSharp.Fuzz;

/// <summary>
/// One parser under fuzz: the format its input has (for structure-aware mutations) and how to
/// set it up on <see cref="Fixtures"/>. A new input kind — e.g. the HTTP request bodies of a
/// future <c>gspo serve</c> — is one more <see cref="FuzzTarget"/> in <see cref="Targets.All"/>
/// whose <see cref="TargetSetup.Parse"/> hands the bytes written to <see cref="TargetSetup.InputPath"/>
/// to the request parser (read them back with File.ReadAllBytes if it takes a body, not a path).
/// </summary>
/// <param name="Name">The name used on the command line and in reports.</param>
/// <param name="Description">What is read and what is done with it.</param>
/// <param name="Format">How structure-aware mutations see the input.</param>
/// <param name="Setup">Builds the target's seeds, input path and parse on the fixtures.</param>
public sealed record FuzzTarget(string Name, string Description, InputFormat Format, Func<Fixtures, TargetSetup> Setup);

/// <summary>A target ready to run.</summary>
/// <param name="Seeds">Valid inputs; every one must be accepted as it is.</param>
/// <param name="InputPath">Where each input is written before <see cref="Parse"/> runs.</param>
/// <param name="Parse">Reads the input (and uses what it read, as the program would).</param>
/// <param name="Judge">For an exception thrown by <see cref="Parse"/>: null when it is a documented refusal, else what is wrong.</param>
public sealed record TargetSetup(IReadOnlyList<byte[]> Seeds, string InputPath, Action Parse, Func<Exception, string?> Judge);

/// <summary>The contract of a refusal: a documented exception type with a message that names the input.</summary>
public static class Refusal
{
    /// <summary>Accepts <typeparamref name="T"/> whose message contains <paramref name="name"/> (the file, or the directory holding it).</summary>
    public static Func<Exception, string?> Of<T>(string name) where T : Exception => e => Judge<T>(e, name);

    /// <summary>Accepts <typeparamref name="T"/> whose message starts with <c>path:LINE:</c> or <c>path:</c>.</summary>
    public static Func<Exception, string?> OfLine<T>(string path) where T : Exception => e =>
        e is T && !e.Message.StartsWith(path + ":", StringComparison.Ordinal)
            ? $"the message does not start with the file ({path}): {e.Message}"
            : Judge<T>(e, path);

    public static string? Judge<T>(Exception e, string name) where T : Exception => e switch
    {
        T when e.Message.Contains(name, StringComparison.Ordinal) => null,
        T => $"the {typeof(T).Name} does not name {name}: {e.Message}",
        _ => $"undocumented {e.GetType().FullName} (only {typeof(T).Name} is documented): {e.Message}",
    };
}
