using System.Reflection;
using System.Runtime.Loader;

namespace GspoSharp.Rewards;

/// <summary>
/// Where a reward assembly is loaded: its own dependencies come from its directory (as its
/// .deps.json lists them); an assembly the program has already loaded — GspoSharp above all, so
/// that <see cref="IRewardFunction"/> is one type on both sides — is the program's copy, even when
/// the reward's build put another copy beside it.
/// </summary>
internal sealed class RewardAssemblyContext(string path) : AssemblyLoadContext($"reward assembly {Path.GetFileName(path)}")
{
    readonly AssemblyDependencyResolver resolver = new(path);

    protected override Assembly? Load(AssemblyName name)
    {
        // null: the default context resolves it, as it does for the program.
        if (name.Name is { } simple && (simple.StartsWith("GspoSharp", StringComparison.Ordinal) || Default.Assemblies.Any(a => a.GetName().Name == simple)))
            return null;
        return resolver.ResolveAssemblyToPath(name) is { } file ? LoadFromAssemblyPath(file) : null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } file ? LoadUnmanagedDllFromPath(file) : IntPtr.Zero;
}
