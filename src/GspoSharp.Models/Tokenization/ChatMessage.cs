namespace GspoSharp.Models.Tokenization;

/// <summary>One message of a conversation.</summary>
/// <param name="Role">"system", "user", "assistant" (or "tool" where the template knows it).</param>
/// <param name="Content">The text of the message.</param>
public sealed record ChatMessage(string Role, string Content);
