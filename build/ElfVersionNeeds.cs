// Makes TorchSharp's native library load on Linux systems whose libstdc++ is older than the one
// it was linked against.
//
// libLibTorchSharp.so (TorchSharp 0.107) declares, in its ELF version-needs table
// (.gnu.version_r), that it needs libstdc++ version GLIBCXX_3.4.32 (GCC 13). Debian 12 ships
// GCC 12's libstdc++ (up to GLIBCXX_3.4.30), so the dynamic loader refuses the library before
// anything runs. No symbol of that version is ever bound: the only one tagged with it has no
// relocation. Marking such a version need VER_FLG_WEAK tells the loader that a missing version
// is not fatal, which is exactly the truth here.
//
// This file is compiled by MSBuild's RoslynCodeTaskFactory (build/TorchNative.targets) and, with
// ELF_VERSION_NEEDS_NO_MSBUILD defined, by the test project, which checks the logic directly.
// It only edits build outputs, never the NuGet package cache: files are rewritten through a
// temporary file and a rename, which also breaks any hard link into the cache.

#nullable enable
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;

namespace GspoSharp.Build
{
    /// <summary>One entry of an ELF file's version-needs table.</summary>
    public sealed class VersionNeed
    {
        public VersionNeed(string file, string version, ushort flags, ushort index, long flagsOffset)
        {
            File = file; Version = version; Flags = flags; Index = index; FlagsOffset = flagsOffset;
        }

        /// <summary>The library that must provide the version, e.g. libstdc++.so.6.</summary>
        public string File { get; }
        /// <summary>The version name, e.g. GLIBCXX_3.4.32.</summary>
        public string Version { get; }
        /// <summary>vna_flags; bit 0x2 is VER_FLG_WEAK.</summary>
        public ushort Flags { get; }
        /// <summary>vna_other: the index symbols use in .gnu.version to refer to this version.</summary>
        public ushort Index { get; }
        /// <summary>Byte offset of vna_flags in the file.</summary>
        public long FlagsOffset { get; }
        public bool IsWeak => (Flags & ElfVersionNeeds.VerFlagWeak) != 0;
    }

    /// <summary>Reads and edits the symbol-versioning tables of 64-bit little-endian ELF files.</summary>
    public static class ElfVersionNeeds
    {
        public const ushort VerFlagWeak = 0x2;
        const uint ShtRela = 4, ShtRel = 9, ShtDynsym = 11;
        const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;

        sealed class Section
        {
            public uint Type; public long Offset; public long Size; public uint Link; public uint Info; public long EntSize;
        }

        /// <summary>Every (library, version) pair the file declares it needs.</summary>
        public static IReadOnlyList<VersionNeed> ReadNeeds(byte[] elf, string path)
        {
            var sections = ReadSections(elf, path);
            var result = new List<VersionNeed>();
            foreach (var s in sections.Where(s => s.Type == ShtGnuVerneed))
            {
                var strtab = sections[(int)s.Link];
                long entry = s.Offset;
                for (uint i = 0; i < s.Info; i++)
                {
                    ushort count = U16(elf, entry + 2, path);
                    string file = Str(elf, strtab, U32(elf, entry + 4, path), path);
                    long aux = entry + U32(elf, entry + 8, path);
                    for (ushort j = 0; j < count; j++)
                    {
                        result.Add(new VersionNeed(file, Str(elf, strtab, U32(elf, aux + 8, path), path),
                            U16(elf, aux + 4, path), U16(elf, aux + 6, path), aux + 4));
                        aux += U32(elf, aux + 12, path);
                    }
                    entry += U32(elf, entry + 12, path);
                }
            }
            return result;
        }

        /// <summary>Every version name the file defines (.gnu.version_d), e.g. all GLIBCXX_* of libstdc++.</summary>
        public static ISet<string> ReadDefinitions(byte[] elf, string path)
        {
            var sections = ReadSections(elf, path);
            var result = new HashSet<string>(StringComparer.Ordinal);
            foreach (var s in sections.Where(s => s.Type == ShtGnuVerdef))
            {
                var strtab = sections[(int)s.Link];
                long entry = s.Offset;
                for (uint i = 0; i < s.Info; i++)
                {
                    ushort count = U16(elf, entry + 6, path);
                    long aux = entry + U32(elf, entry + 12, path);
                    for (ushort j = 0; j < count; j++)
                    {
                        result.Add(Str(elf, strtab, U32(elf, aux, path), path));
                        aux += U32(elf, aux + 4, path);
                    }
                    entry += U32(elf, entry + 16, path);
                }
            }
            return result;
        }

        /// <summary>
        /// Names of dynamic symbols tagged with <paramref name="versionIndex"/> that some dynamic
        /// relocation refers to, i.e. symbols the loader would really have to bind at that version.
        /// </summary>
        public static IReadOnlyList<string> BoundSymbols(byte[] elf, ushort versionIndex, string path)
        {
            var sections = ReadSections(elf, path);
            int dynsymIndex = sections.FindIndex(s => s.Type == ShtDynsym);
            var versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
            if (dynsymIndex < 0 || versym == null) return Array.Empty<string>();
            var dynsym = sections[dynsymIndex];
            var strtab = sections[(int)dynsym.Link];

            var tagged = new HashSet<uint>();
            long symbolCount = dynsym.Size / 24;
            for (uint i = 0; i < symbolCount; i++)
                if ((U16(elf, versym.Offset + 2L * i, path) & 0x7fff) == versionIndex) tagged.Add(i);

            var bound = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var rel in sections.Where(s => (s.Type == ShtRela || s.Type == ShtRel) && s.Link == dynsymIndex))
            {
                long size = rel.Type == ShtRela ? 24 : 16;
                for (long at = rel.Offset; at + size <= rel.Offset + rel.Size; at += size)
                {
                    uint symbol = (uint)(U64(elf, at + 8, path) >> 32);
                    if (tagged.Contains(symbol))
                        bound.Add(Str(elf, strtab, U32(elf, dynsym.Offset + 24L * symbol, path), path));
                }
            }
            return bound.ToList();
        }

        /// <summary>
        /// Marks weak every version that <paramref name="path"/> needs from <paramref name="library"/>
        /// but <paramref name="available"/> lacks, provided no relocation binds a symbol of that version.
        /// Returns the versions it weakened (already-weak ones are left as they are, so a second run
        /// changes nothing). The file is replaced through a temporary file and a rename, keeping its
        /// timestamp so that incremental copies still see it as up to date.
        /// </summary>
        public static IReadOnlyList<string> WeakenMissing(string path, string library, ISet<string> available)
        {
            byte[] elf = File.ReadAllBytes(path);
            var missing = ReadNeeds(elf, path)
                .Where(n => n.File == library && !available.Contains(n.Version) && !n.IsWeak)
                .ToList();
            if (missing.Count == 0) return Array.Empty<string>();

            foreach (var need in missing)
            {
                var bound = BoundSymbols(elf, need.Index, path);
                if (bound.Count > 0)
                    throw new InvalidDataException(
                        $"{path}: needs {need.Version} from {library} for symbol(s) {string.Join(", ", bound)}, " +
                        $"which the system {library} does not provide; a newer {library} is required.");
                ushort flags = (ushort)(need.Flags | VerFlagWeak);
                elf[need.FlagsOffset] = (byte)flags;
                elf[need.FlagsOffset + 1] = (byte)(flags >> 8);
            }

            // Copy (keeps the file mode), edit the copy, then rename it over the original: the
            // original's inode, possibly a hard link into the package cache, is never written.
            DateTime timestamp = File.GetLastWriteTimeUtc(path);
            string temp = path + ".weaken.tmp";
            File.Copy(path, temp, overwrite: true);
            using (var stream = new FileStream(temp, FileMode.Open, FileAccess.Write))
                foreach (var need in missing)
                {
                    stream.Position = need.FlagsOffset;
                    stream.Write(elf, (int)need.FlagsOffset, 2);
                }
            File.SetLastWriteTimeUtc(temp, timestamp);
            File.Replace(temp, path, null);
            return missing.Select(n => n.Version).ToList();
        }

        /// <summary>
        /// The file the dynamic loader would use for <paramref name="soname"/>: the first match in
        /// LD_LIBRARY_PATH, then in the loader cache (ldconfig -p), then in the usual directories.
        /// </summary>
        public static string? FindSystemLibrary(string soname)
        {
            var dirs = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
                .Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries);
            foreach (var dir in dirs)
                if (File.Exists(Path.Combine(dir, soname))) return Path.Combine(dir, soname);
            foreach (var fromCache in LoaderCache(soname))
                if (File.Exists(fromCache)) return fromCache;
            foreach (var dir in new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
                         "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib" })
                if (File.Exists(Path.Combine(dir, soname))) return Path.Combine(dir, soname);
            return null;
        }

        static IEnumerable<string> LoaderCache(string soname)
        {
            foreach (var ldconfig in new[] { "/sbin/ldconfig", "/usr/sbin/ldconfig" })
            {
                if (!File.Exists(ldconfig)) continue;
                var start = new ProcessStartInfo(ldconfig, "-p") { RedirectStandardOutput = true, UseShellExecute = false };
                using var process = Process.Start(start);
                if (process == null) continue;
                string output = process.StandardOutput.ReadToEnd();
                process.WaitForExit();
                // Lines look like: "\tlibstdc++.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libstdc++.so.6"
                bool is64 = Environment.Is64BitProcess;
                return output.Split('\n')
                    .Select(l => l.Trim())
                    .Where(l => l.StartsWith(soname + " ", StringComparison.Ordinal) && l.Contains("=>"))
                    .Where(l => !is64 || l.Contains("64"))
                    .Select(l => l.Substring(l.IndexOf("=>", StringComparison.Ordinal) + 2).Trim())
                    .ToList();
            }
            return Array.Empty<string>();
        }

        static List<Section> ReadSections(byte[] elf, string path)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException($"{path}: not an ELF file.");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException($"{path}: only 64-bit little-endian ELF files are supported.");
            long shoff = (long)U64(elf, 0x28, path);
            ushort shentsize = U16(elf, 0x3A, path), shnum = U16(elf, 0x3C, path);
            if (shoff == 0 || shnum == 0)
                throw new InvalidDataException($"{path}: has no section headers.");
            var sections = new List<Section>(shnum);
            for (int i = 0; i < shnum; i++)
            {
                long h = shoff + (long)i * shentsize;
                sections.Add(new Section
                {
                    Type = U32(elf, h + 4, path), Offset = (long)U64(elf, h + 24, path), Size = (long)U64(elf, h + 32, path),
                    Link = U32(elf, h + 40, path), Info = U32(elf, h + 44, path), EntSize = (long)U64(elf, h + 56, path),
                });
            }
            foreach (var s in sections.Where(s => s.Type is ShtGnuVerneed or ShtGnuVerdef or ShtDynsym))
                if (s.Link >= sections.Count)
                    throw new InvalidDataException($"{path}: section links to string table {s.Link}, which does not exist.");
            return sections;
        }

        static string Str(byte[] elf, Section strtab, uint offset, string path)
        {
            long start = strtab.Offset + offset;
            long end = start;
            while (end < elf.Length && end < strtab.Offset + strtab.Size && elf[end] != 0) end++;
            if (end >= elf.Length) throw Truncated(path, start);
            return Encoding.ASCII.GetString(elf, (int)start, (int)(end - start));
        }

        static ushort U16(byte[] b, long at, string path) =>
            at >= 0 && at + 2 <= b.Length ? BitConverter.ToUInt16(b, (int)at) : throw Truncated(path, at);
        static uint U32(byte[] b, long at, string path) =>
            at >= 0 && at + 4 <= b.Length ? BitConverter.ToUInt32(b, (int)at) : throw Truncated(path, at);
        static ulong U64(byte[] b, long at, string path) =>
            at >= 0 && at + 8 <= b.Length ? BitConverter.ToUInt64(b, (int)at) : throw Truncated(path, at);
        static Exception Truncated(string path, long at) =>
            new InvalidDataException($"{path}: truncated or malformed ELF (offset {at} is outside the file).");
    }

#if !ELF_VERSION_NEEDS_NO_MSBUILD
    /// <summary>MSBuild task: weaken the version needs the system library cannot satisfy.</summary>
    public sealed class WeakenMissingVersionNeeds : Microsoft.Build.Utilities.Task
    {
        /// <summary>ELF files to edit in place (build or publish outputs only).</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <summary>The needed library whose versions are checked, e.g. libstdc++.so.6.</summary>
        [Microsoft.Build.Framework.Required]
        public string Library { get; set; } = "";

        public override bool Execute()
        {
            string? system = ElfVersionNeeds.FindSystemLibrary(Library);
            if (system == null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                    $"{Library} was not found on this system; native TorchSharp files left unchanged.");
                return true;
            }
            var available = ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(system), system);
            foreach (var item in Files)
            {
                string path = item.GetMetadata("FullPath");
                try
                {
                    var weakened = ElfVersionNeeds.WeakenMissing(path, Library, available);
                    if (weakened.Count > 0)
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                            $"{Path.GetFileName(path)}: marked {string.Join(", ", weakened)} weak ({system} lacks it).");
                }
                catch (InvalidDataException e)
                {
                    Log.LogError(e.Message);
                }
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
