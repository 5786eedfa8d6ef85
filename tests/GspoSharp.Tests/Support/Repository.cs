namespace GspoSharp.Tests;

/// <summary>Paths inside the repository the tests were built from.</summary>
public static class Repository
{
    /// <summary>The directory holding GspoSharp.slnx.</summary>
    public static string Root { get; } = FindRoot();

    static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GspoSharp.slnx"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("the repository root (GspoSharp.slnx) is not above the test binaries.");
    }
}
