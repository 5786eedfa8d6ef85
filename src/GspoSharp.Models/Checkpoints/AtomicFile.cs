using System.Text;

namespace GspoSharp.Models.Checkpoints;

/// <summary>Small files of a run (config, summary, reports and their plots) written whole or not at all.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="text"/> (UTF-8, no BOM) to a temporary file next to
    /// <paramref name="path"/>, flushes it and renames it into place: readers see the old file or the
    /// new one, and a failure (disk full, no permission) leaves neither a partial file nor the temporary.
    /// </summary>
    public static void WriteAllText(string path, string text) => WriteAllBytes(path, new UTF8Encoding(false).GetBytes(text));

    /// <summary>Writes <paramref name="bytes"/> the same way: whole or not at all.</summary>
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        using var staged = new StagedFiles();
        staged.Stage(path, stream => stream.Write(bytes));
        staged.Publish(path);
    }
}
