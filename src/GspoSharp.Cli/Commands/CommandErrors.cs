using System.Text.Json;
using GspoSharp.Models;

namespace GspoSharp.Cli.Commands;

/// <summary>Turns the errors a user can cause into one line on stderr and exit code 1.</summary>
internal static class CommandErrors
{
    /// <summary>Exit code of a command that failed because of its input.</summary>
    public const int BadInput = 1;

    public static int Run(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or ModelFormatException
                                      or InvalidDataException or JsonException or IOException or UnauthorizedAccessException)
        {
            // Plain text, one line: no wrapping at the terminal width, easy to grep in CI logs.
            Console.Error.WriteLine($"error: {e.Message}");
            return BadInput;
        }
    }
}
