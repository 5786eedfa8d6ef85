namespace GspoSharp.Models;

/// <summary>
/// LibTorch's OpenMP worker threads spin while they wait for work by default. On a machine with
/// few cores, where .NET's own threads (GC, JIT, thread pool) also need a core, a spinning worker
/// can hold the core a descheduled peer needs, and small operations then stall for milliseconds:
/// measured here, two short MoE experiments side by side took 136 s with the default and 12 s with
/// passive waiting (docs/performance.md, Threads). Passive waiting must be chosen before LibTorch
/// starts OpenMP, through the process environment that native code reads.
/// </summary>
public static class OpenMpSettings
{
    /// <summary>Sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy. Call before the first tensor operation.</summary>
    public static void PreferPassiveWaiting() => NativeEnvironment.SetUnlessSet("OMP_WAIT_POLICY", "PASSIVE");
}
