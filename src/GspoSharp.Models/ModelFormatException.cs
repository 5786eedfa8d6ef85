namespace GspoSharp.Models;

/// <summary>
/// A model directory, checkpoint, config or tokenizer file is missing, malformed or uses a
/// feature GspoSharp does not implement. The message names the file and the tensor or field.
/// </summary>
public sealed class ModelFormatException : Exception
{
    /// <summary>Creates the exception with a message that names the file and the tensor or field.</summary>
    public ModelFormatException(string message) : base(message) { }

    /// <summary>Creates the exception wrapping the underlying cause.</summary>
    public ModelFormatException(string message, Exception inner) : base(message, inner) { }
}
