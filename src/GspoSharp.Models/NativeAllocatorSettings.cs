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
/// </summary>
public static class NativeAllocatorSettings
{
    // <malloc.h>
    const int MTrimThreshold = -1, MMmapThreshold = -3;

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
    }

    /// <summary>Whether a model of <paramref name="parameters"/> parameters has the thresholds pinned.</summary>
    internal static bool Pins(bool forLarge, double parameters) => forLarge && parameters >= LargeModelParameters;

    /// <summary>glibc's own ways to set its allocator; any of them set means the user chose, and is left alone.</summary>
    internal static readonly string[] UserChoices = { "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES" };

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int MallOpt(int param, int value);

    [DllImport("libc", EntryPoint = "gnu_get_libc_version")]
    static extern IntPtr GnuGetLibcVersion();

    /// <summary>
    /// Pins glibc's mmap and trim thresholds unless the user set <c>MALLOC_MMAP_THRESHOLD_</c>,
    /// <c>MALLOC_TRIM_THRESHOLD_</c> or <c>GLIBC_TUNABLES</c>. Returns whether the thresholds were set.
    /// Call at process start, before the first tensor.
    /// </summary>
    public static bool ReturnFreedTensorMemory() => ReturnFreedTensorMemory(Environment.GetEnvironmentVariable);

    /// <summary>The same with the environment read through <paramref name="environment"/> (tests).</summary>
    internal static bool ReturnFreedTensorMemory(Func<string, string?> environment)
    {
        if (!OperatingSystem.IsLinux() || !IsGlibc()) return false;
        if (UserChoices.Any(name => environment(name) is not null)) return false;
        // mallopt returns 1 on success, 0 on error; a refusal leaves glibc's defaults, which work, only with more memory.
        return MallOpt(MMmapThreshold, MmapThresholdBytes) == 1 & MallOpt(MTrimThreshold, TrimThresholdBytes) == 1;
    }

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
