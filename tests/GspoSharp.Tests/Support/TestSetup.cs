using System.Runtime.CompilerServices;

namespace GspoSharp.Tests;

/// <summary>
/// xunit runs test classes in parallel, one per core; LibTorch would add a thread per core to each
/// of them, and its spinning OpenMP workers slow oversubscribed runs down many times over. One
/// intra-op thread per test keeps the two cores busy without contention. Child processes started
/// by <see cref="GspoProcess"/> get the same setting through OMP_NUM_THREADS.
/// </summary>
internal static class TestSetup
{
    [ModuleInitializer]
    internal static void OneTorchThreadPerTest() => torch.set_num_threads(1);
}
