using System.Diagnostics;
using GspoSharp.Build;

namespace GspoSharp.Tests.Build;

/// <summary>
/// TorchSharp's native library loads and computes, because the build weakened exactly the
/// libstdc++ version needs this system cannot satisfy (build/ElfVersionNeeds.cs).
/// </summary>
public class TorchNativeTests
{
    const string Library = "libstdc++.so.6";
    const string Version = "GLIBCXX_3.4.32";

    [Fact]
    public void Torch_loads_and_computes_with_autograd()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2).requires_grad_();
        var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        var product = a.matmul(b);   // [[19, 22], [43, 50]]
        Assert.Equal(new float[] { 19, 22, 43, 50 }, product.data<float>().ToArray());
        product.sum().backward();
        Assert.Equal(new float[] { 11, 15, 11, 15 }, a.grad!.data<float>().ToArray());   // row sums of bᵀ
    }

    static string? OutputCopy() => Directory
        .EnumerateFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories)
        .FirstOrDefault();

    static ISet<string>? SystemVersions()
    {
        string? system = ElfVersionNeeds.FindSystemLibrary(Library);
        return system is null ? null : ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(system), system);
    }

    [Fact]
    public void The_build_weakened_exactly_the_versions_the_system_lacks()
    {
        if (!OperatingSystem.IsLinux()) return;
        string path = OutputCopy() ?? throw new InvalidOperationException("libLibTorchSharp.so is not in the test output.");
        var available = SystemVersions()!;
        var needs = ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(path), path).Where(n => n.File == Library).ToList();
        Assert.NotEmpty(needs);
        foreach (var need in needs)
            Assert.True(need.IsWeak == !available.Contains(need.Version),
                $"{need.Version}: weak = {need.IsWeak}, but the system {(available.Contains(need.Version) ? "has" : "lacks")} it");
    }

    [Fact]
    public void The_package_cache_copy_is_never_modified()
    {
        string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                      ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string cached = Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (!File.Exists(cached)) return;   // another cache layout: nothing to check here
        var need = ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(cached), cached).Single(n => n.Version == Version);
        Assert.False(need.IsWeak);
    }

    /// <summary>An unpatched copy of the library: the output copy with the weak flags cleared again.</summary>
    static string PristineCopy(string directory)
    {
        string source = OutputCopy()!;
        byte[] elf = File.ReadAllBytes(source);
        foreach (var need in ElfVersionNeeds.ReadNeeds(elf, source).Where(n => n.IsWeak))
            elf[need.FlagsOffset] &= unchecked((byte)~ElfVersionNeeds.VerFlagWeak);
        string copy = Path.Combine(directory, "libLibTorchSharp.so");
        File.WriteAllBytes(copy, elf);
        return copy;
    }

    [Fact]
    public void Weakening_changes_one_flag_is_idempotent_and_keeps_the_timestamp()
    {
        using var dir = new TempDirectory();
        string path = PristineCopy(dir.Path);
        var stamp = new DateTime(2020, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, stamp);
        byte[] before = File.ReadAllBytes(path);
        var available = ElfVersionNeeds.ReadNeeds(before, path).Select(n => n.Version).Where(v => v != Version).ToHashSet();

        Assert.Equal(new[] { Version }, ElfVersionNeeds.WeakenMissing(path, Library, available));
        byte[] after = File.ReadAllBytes(path);
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        var need = ElfVersionNeeds.ReadNeeds(after, path).Single(n => n.Version == Version);
        Assert.Equal(new[] { (int)need.FlagsOffset }, changed);
        Assert.True(need.IsWeak);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(path));

        Assert.Empty(ElfVersionNeeds.WeakenMissing(path, Library, available));
        Assert.Equal(after, File.ReadAllBytes(path));
        Assert.Empty(ElfVersionNeeds.WeakenMissing(path, Library, available.Append(Version).ToHashSet()));
    }

    [Fact]
    public void The_only_symbol_of_the_weakened_version_is_never_relocated()
    {
        using var dir = new TempDirectory();
        string path = PristineCopy(dir.Path);
        byte[] elf = File.ReadAllBytes(path);
        var needs = ElfVersionNeeds.ReadNeeds(elf, path);
        Assert.Empty(ElfVersionNeeds.BoundSymbols(elf, needs.Single(n => n.Version == Version).Index, path));
        // Versions that are really used are recognised as such, so weakening them is refused.
        Assert.NotEmpty(ElfVersionNeeds.BoundSymbols(elf, needs.Single(n => n.Version == "GLIBCXX_3.4").Index, path));
        var error = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.WeakenMissing(path, Library, new HashSet<string>()));
        Assert.Contains("needs GLIBCXX_", error.Message);
        Assert.Contains("for symbol(s)", error.Message);
        Assert.Equal(elf, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_hard_link_target_is_left_untouched()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var dir = new TempDirectory();
        string original = PristineCopy(dir.Path);
        string link = Path.Combine(dir.Path, "linked.so");
        Process.Start("ln", new[] { original, link })!.WaitForExit();
        byte[] before = File.ReadAllBytes(original);
        var available = ElfVersionNeeds.ReadNeeds(before, original).Select(n => n.Version).Where(v => v != Version).ToHashSet();

        Assert.Single(ElfVersionNeeds.WeakenMissing(link, Library, available));
        Assert.Equal(before, File.ReadAllBytes(original));
        Assert.NotEqual(before, File.ReadAllBytes(link));
    }

    [Fact]
    public void Files_that_are_not_elf_or_are_truncated_are_reported_by_name()
    {
        using var dir = new TempDirectory();
        string text = Path.Combine(dir.Path, "notes.txt");
        File.WriteAllText(text, new string('x', 100));
        Assert.Contains("notes.txt: not an ELF file", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.WeakenMissing(text, Library, new HashSet<string>())).Message);

        string truncated = Path.Combine(dir.Path, "cut.so");
        File.WriteAllBytes(truncated, File.ReadAllBytes(OutputCopy()!).Take(4096).ToArray());
        Assert.Contains("cut.so: truncated or malformed ELF", Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(truncated), truncated)).Message);
    }
}
