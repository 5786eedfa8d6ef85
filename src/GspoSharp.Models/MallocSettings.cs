using System.Runtime.InteropServices;

namespace GspoSharp.Models;

/// <summary>
/// How glibc's malloc hands memory back to the kernel. LibTorch allocates every intermediate tensor
/// with malloc and frees it moments later. With glibc's defaults a freed block at the top of the heap
/// is returned to the kernel as soon as more than twice the (adaptive) mmap threshold is free, and a
/// block above that threshold is mapped and unmapped on every allocation — so the next tensor of the
/// same size page-faults its memory in again, zeroed. Measured on the tiny model's update (forward,
/// log-probs, backward; docs/performance.md), that kernel work was ~20% of the CPU time and went to
/// ~0% with the settings below.
/// <para>Blocks up to 32 MB (glibc's largest mmap threshold) come from the heap, and up to 256 MB of
/// free memory at its top is kept for reuse: a process holds at most that much more than with the
/// defaults. Larger blocks (a 150k-vocabulary chunk of logits) are still mapped and returned.</para>
/// </summary>
public static class MallocSettings
{
    const int TrimThreshold = -1, TopPad = -2, MmapThreshold = -3;   // glibc's M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD

    /// <summary>Keep in the heap what the defaults would hand back (32 MB blocks, 256 MB of free top).</summary>
    public const int MaxHeapBlock = 32 << 20, KeptFree = 256 << 20;

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int parameter, int value);

    /// <summary>Applies the settings on glibc Linux unless the user tuned malloc through the environment
    /// (<c>MALLOC_*_</c> variables or <c>GLIBC_TUNABLES</c>); returns whether it did.</summary>
    public static bool ReuseFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        foreach (var name in new[] { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES" })
            if (Environment.GetEnvironmentVariable(name) is not null) return false;
        try
        {
            return MallOpt(MmapThreshold, MaxHeapBlock) == 1 && MallOpt(TrimThreshold, KeptFree) == 1 && MallOpt(TopPad, 16 << 20) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;   // not glibc (musl): its allocator has no such settings
        }
    }
}
