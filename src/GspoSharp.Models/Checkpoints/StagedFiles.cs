using GspoSharp.Models.TestHooks;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// Writes files under temporary names next to their destinations, then publishes them by
/// renaming. A rename within one directory is atomic, so a destination name only ever holds a
/// complete file: the old one or the new one. Disposing removes every temporary not yet
/// published, so a failure anywhere leaves nothing half-written behind.
/// </summary>
internal sealed class StagedFiles : IDisposable
{
    readonly Dictionary<string, string> pending = new(StringComparer.Ordinal);   // destination → temporary

    /// <summary>Writes a file to a temporary name next to <paramref name="destination"/> and flushes it to disk.</summary>
    public void Stage(string destination, Action<Stream> write)
    {
        string directory = Path.GetDirectoryName(Path.GetFullPath(destination))!;
        // A leading dot and a random part: never mistaken for, nor colliding with, a checkpoint file.
        string temporary = Path.Combine(directory, $".{Path.GetFileName(destination)}.{Guid.NewGuid():N}.tmp");
        pending.Add(destination, temporary);   // before creating it, so that Dispose removes a partial file
        using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 20);
        write(stream);
        CrashPoints.Hit(CrashPoints.FileWrite, destination);   // test only: leaves a partial temporary
        // On disk before the rename, so that a crash cannot publish a name over missing data.
        stream.Flush(flushToDisk: true);
    }

    /// <summary>Renames a staged file to its destination, replacing any file there.</summary>
    public void Publish(string destination)
    {
        CrashPoints.Hit(CrashPoints.FileRename, destination);   // test only
        File.Move(pending[destination], destination, overwrite: true);
        pending.Remove(destination);
    }

    /// <summary>Removes the temporaries of files not published.</summary>
    public void Dispose()
    {
        foreach (string temporary in pending.Values)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Best effort: the original failure is the one worth reporting.
            }
        }
        pending.Clear();
    }
}
