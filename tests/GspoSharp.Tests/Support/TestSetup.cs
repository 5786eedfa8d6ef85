using System.Runtime.CompilerServices;

namespace GspoSharp.Tests;

/// <summary>
/// One LibTorch intra-op thread in the test process. The models under test are tiny, so a second
/// thread gains little, and LibTorch's OpenMP workers spin while they wait: next to the test
/// runner's own threads on a 2-core machine that stalls small operations badly (the gspo tool
/// avoids it with passive waiting, docs/performance.md). Child processes started by
/// <see cref="GspoProcess"/> get the same setting through OMP_NUM_THREADS.
/// </summary>
internal static class TestSetup
{
    [ModuleInitializer]
    internal static void OneTorchThread() => torch.set_num_threads(1);
}
