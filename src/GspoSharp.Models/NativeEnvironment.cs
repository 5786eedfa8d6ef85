using System.Runtime.InteropServices;

namespace GspoSharp.Models;

/// <summary>Sets variables in the environment that native libraries (LibTorch, OpenMP) read. .NET keeps its own copy of
/// the environment on Unix, so <see cref="Environment.SetEnvironmentVariable(string, string)"/> alone is not seen there.</summary>
internal static class NativeEnvironment
{
    [DllImport("libc", EntryPoint = "setenv")]
    static extern int SetEnv(string name, string value, int overwrite);

    /// <summary>Sets <paramref name="name"/> to <paramref name="value"/> unless it is set; whether it was set here.</summary>
    public static bool SetUnlessSet(string name, string value)
    {
        if (Environment.GetEnvironmentVariable(name) is not null) return false;
        if (OperatingSystem.IsWindows()) Environment.SetEnvironmentVariable(name, value);
        else SetEnv(name, value, 0);
        return true;
    }
}
