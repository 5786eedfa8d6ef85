using System.Text;

namespace GspoSharp.Models.Checkpoints;

/// <summary>Small files of a run (config, summary, report) written whole or not at all.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="text"/> (UTF-8, no BOM) to a temporary file next to
    /// <paramref name="path"/>, flushes it and renames it into place: readers see the old file or the
    /// new one, and a failure (disk full, no permission) leaves neither a partial file nor the temporary.
    /// </summary>
    public static void WriteAllText(string path, string text)
    {
        using var staged = new StagedFiles();
        staged.Stage(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(text)));
        staged.Publish(path);
    }
}
