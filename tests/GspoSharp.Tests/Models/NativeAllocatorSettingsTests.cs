using GspoSharp.Models;

namespace GspoSharp.Tests.Models;

/// <summary>glibc's thresholds: freed memory reused at start, pinned for large models, and left alone when the user chose through glibc's own variables.</summary>
public class NativeAllocatorSettingsTests
{
    [Fact]
    public void Pins_the_thresholds_on_glibc_when_the_user_chose_nothing()
    {
        bool glibc = OperatingSystem.IsLinux() && File.Exists("/proc/self/maps")
                     && File.ReadLines("/proc/self/maps").Any(l => l.Contains("libc.so.6", StringComparison.Ordinal));
        Assert.Equal(glibc, NativeAllocatorSettings.ReturnFreedTensorMemory(_ => null));
    }

    [Fact]
    public void Keeps_freed_memory_for_reuse_on_glibc_when_the_user_chose_nothing()
    {
        bool glibc = OperatingSystem.IsLinux() && File.Exists("/proc/self/maps")
                     && File.ReadLines("/proc/self/maps").Any(l => l.Contains("libc.so.6", StringComparison.Ordinal));
        Assert.Equal(glibc, NativeAllocatorSettings.ReuseFreedMemory(_ => null));
    }

    [Theory]
    [InlineData("MALLOC_TOP_PAD_", "0")]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")]
    public void Reuse_leaves_the_allocator_alone_when_the_user_set_a_glibc_variable(string name, string value)
    {
        Assert.False(NativeAllocatorSettings.ReuseFreedMemory(n => n == name ? value : null));
    }

    [Theory]
    [InlineData("MALLOC_MMAP_THRESHOLD_", "1048576")]
    [InlineData("MALLOC_TRIM_THRESHOLD_", "0")]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")]
    public void Leaves_the_allocator_alone_when_the_user_set_a_glibc_variable(string name, string value)
    {
        Assert.False(NativeAllocatorSettings.ReturnFreedTensorMemory(n => n == name ? value : null));
    }

    [Theory]
    [InlineData(true, 99_999_999, false)]
    [InlineData(true, 100_000_000, true)]
    [InlineData(true, 596_049_920, true)]
    [InlineData(false, 596_049_920, false)]
    public void Only_large_models_pin_and_only_when_asked(bool forLarge, double parameters, bool pins)
    {
        Assert.Equal(pins, NativeAllocatorSettings.Pins(forLarge, parameters));
    }

    [Fact]
    public void Huge_pages_are_left_to_the_user_who_set_the_variable()
    {
        Assert.False(NativeAllocatorSettings.AdviseHugePages(n => n == NativeAllocatorSettings.HugePagesVariable ? "0" : null));
    }
}
