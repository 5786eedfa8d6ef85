using System.Runtime.InteropServices;

namespace GspoSharp.Models;

/// <summary>
/// LibTorch on the CPU allocates every tensor with the C library's <c>malloc</c>. glibc serves a
/// request of at least its mmap threshold with a private mapping, which <c>free</c> returns to the
/// system at once; smaller requests come from the heap, where freed memory stays resident until the
/// top of the heap happens to be free. The threshold is dynamic by default: freeing a mapped block
/// raises it to that block's size (up to 32 MB on 64-bit), so after the first freed activation or
/// widened weight every tensor up to 32 MB — the bulk of a training step's temporaries — comes from
/// the heap, and the process keeps gigabytes it no longer uses (docs/performance.md, Memory: the
/// 0.6B update with a bfloat16 base peaked at 9.4 GB with the defaults and at 5.4 GB with the
/// threshold pinned). Pinning the threshold at 128 KiB, glibc's initial value, keeps every
/// tensor-sized block mapped and returned on free. Setting a threshold explicitly also turns off the
/// dynamic adjustment; the trim threshold is set with it so that freed heap tops go back too.
/// Only for glibc on Linux (musl, macOS and Windows allocators differ and are left alone), and
/// only where the user has not chosen through glibc's own variables.
/// The price is a fresh, zero-filled mapping for every tensor above 128 KiB where the heap would
/// have reused memory: measured, 25–40% on the updates of the demo and 50M models, whose memory
/// does not matter. So the <c>gspo</c> tool asks for it only for models of at least
/// <see cref="LargeModelParameters"/> (<see cref="ForLargeModels"/>, applied by
/// <see cref="ModelDirectory.Load"/> before the weights are allocated).
/// <para>Small models want the opposite (<see cref="ReuseFreedMemory()"/>, which <c>gspo</c> sets at
/// start): with glibc's defaults a freed block at the top of the heap goes back to the kernel as soon
/// as more than twice the (adaptive) mmap threshold is free, so the next tensor of the same size
/// page-faults its memory in again, zeroed — ~20% of the tiny model's update CPU time was that kernel
/// work (docs/performance.md). Blocks up to 32 MB then come from the heap and up to 256 MB of free top
/// is kept for reuse: a process holds at most that much more than with the defaults. Loading a large
/// model replaces these settings by the pinned ones.</para>
/// <para>A large model also has LibTorch back every tensor of 2 MB or more with transparent huge pages
/// (<see cref="HugePagesVariable"/>: LibTorch then advises the kernel with <c>madvise(MADV_HUGEPAGE)</c>
/// on each such block). With the threshold pinned each of those tensors is a fresh mapping whose pages
/// fault in zeroed, and 2 MB pages fault 512 times less often than 4 KB ones: the Qwen3-0.6B-shaped
/// update (4 × 64 tokens, 2 threads) took 24.2 / 27.3 s instead of 44.2 / 47.9 s at the same peak memory,
/// its rollout 16.5 / 16.6 s instead of 17.6 / 18.7 s (docs/performance.md). Small models are left
/// without: their ≥ 2 MB tensors come from the reused heap, and the 50M-class rollout was no faster with
/// them. LibTorch reads the variable once, at its first allocation, so it takes effect when the large
/// model's weights are the process's first tensors, as in the gspo tool's commands; set it yourself
/// (any value, 0 to refuse) to choose for the whole process.</para>
/// </summary>
public static class NativeAllocatorSettings
{
    // <malloc.h>
    const int MTrimThreshold = -1, MTopPad = -2, MMmapThreshold = -3;

    /// <summary>With <see cref="ReuseFreedMemory()"/>: blocks up to this size come from the heap (glibc's largest mmap threshold).</summary>
    public const int ReusedBlockBytes = 32 << 20;

    /// <summary>With <see cref="ReuseFreedMemory()"/>: free memory kept at the heap's top for reuse.</summary>
    public const int KeptFreeBytes = 256 << 20;

    /// <summary>glibc's default <c>M_TOP_PAD</c>, restored when the thresholds are pinned.</summary>
    const int DefaultTopPadBytes = 128 * 1024;

    /// <summary>The pinned mmap threshold: glibc's initial (and minimum default) value.</summary>
    public const int MmapThresholdBytes = 128 * 1024;

    /// <summary>Freed heap tops above this size go back to the system (glibc's default before its dynamic adjustment).</summary>
    public const int TrimThresholdBytes = 128 * 1024;

    /// <summary>Models from this size on have the thresholds pinned once <see cref="ForLargeModels"/> was called.</summary>
    public const long LargeModelParameters = 100_000_000;

    static bool forLargeModels, pinned;

    /// <summary>From now on, loading a model of at least <see cref="LargeModelParameters"/> parameters pins the
    /// thresholds (<see cref="ReturnFreedTensorMemory()"/>) before its weights are allocated. The gspo tool calls this at start.</summary>
    public static void ForLargeModels() => forLargeModels = true;

    /// <summary>Called before a model of <paramref name="parameters"/> parameters is built: pins the thresholds once if
    /// <see cref="ForLargeModels"/> asked for it and the model is large.</summary>
    internal static void ModelLoading(double parameters)
    {
        if (pinned || !Pins(forLargeModels, parameters)) return;
        pinned = true;
        ReturnFreedTensorMemory();
        AdviseHugePages();
    }

    /// <summary>LibTorch's switch for transparent huge pages on its CPU tensors of at least 2 MB (Linux).</summary>
    public const string HugePagesVariable = "THP_MEM_ALLOC_ENABLE";

    /// <summary>Turns LibTorch's huge pages on (<see cref="HugePagesVariable"/> = 1) on Linux unless the user set the
    /// variable; whether it was set here. Call before the first tensor is allocated: LibTorch reads it then.</summary>
    public static bool AdviseHugePages() => AdviseHugePages(Environment.GetEnvironmentVariable);

    /// <summary>The same with the environment read through <paramref name="environment"/> (tests).</summary>
    internal static bool AdviseHugePages(Func<string, string?> environment) =>
        OperatingSystem.IsLinux() && environment(HugePagesVariable) is null && NativeEnvironment.SetUnlessSet(HugePagesVariable, "1");

    /// <summary>Whether a model of <paramref name="parameters"/> parameters has the thresholds pinned.</summary>
    internal static bool Pins(bool forLarge, double parameters) => forLarge && parameters >= LargeModelParameters;

    /// <summary>glibc's own ways to set its allocator; any of them set means the user chose, and is left alone.</summary>
    internal static readonly string[] UserChoices = { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES" };

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int param, int value);

    [DllImport("libc", EntryPoint = "gnu_get_libc_version")]
    static extern IntPtr GnuGetLibcVersion();

    /// <summary>
    /// Keeps freed tensor memory in the heap for reuse (blocks up to <see cref="ReusedBlockBytes"/>, up to
    /// <see cref="KeptFreeBytes"/> of free top) unless the user chose through glibc's variables
    /// (<see cref="UserChoices"/>). Returns whether the settings were made. Call at process start.
    /// </summary>
    public static bool ReuseFreedMemory() => ReuseFreedMemory(Environment.GetEnvironmentVariable);

    /// <summary>The same with the environment read through <paramref name="environment"/> (tests).</summary>
    internal static bool ReuseFreedMemory(Func<string, string?> environment)
    {
        if (pinned || !Applies(environment)) return false;
        return MallOpt(MMmapThreshold, ReusedBlockBytes) == 1 & MallOpt(MTrimThreshold, KeptFreeBytes) == 1 & MallOpt(MTopPad, 16 << 20) == 1;
    }

    /// <summary>
    /// Pins glibc's mmap and trim thresholds (and its top pad back to the default) unless the user set one of
    /// <see cref="UserChoices"/>. Returns whether the thresholds were set. Call before the model's weights are allocated.
    /// </summary>
    public static bool ReturnFreedTensorMemory() => ReturnFreedTensorMemory(Environment.GetEnvironmentVariable);

    /// <summary>The same with the environment read through <paramref name="environment"/> (tests).</summary>
    internal static bool ReturnFreedTensorMemory(Func<string, string?> environment)
    {
        if (!Applies(environment)) return false;
        // mallopt returns 1 on success, 0 on error; a refusal leaves glibc's defaults, which work, only with more memory.
        return MallOpt(MMmapThreshold, MmapThresholdBytes) == 1 & MallOpt(MTrimThreshold, TrimThresholdBytes) == 1
               & MallOpt(MTopPad, DefaultTopPadBytes) == 1;
    }

    static bool Applies(Func<string, string?> environment) =>
        OperatingSystem.IsLinux() && IsGlibc() && !UserChoices.Any(name => environment(name) is not null);

    static bool IsGlibc()
    {
        try
        {
            return GnuGetLibcVersion() != IntPtr.Zero;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;   // another C library (musl)
        }
    }
}
