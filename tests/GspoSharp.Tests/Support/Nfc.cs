using System.Text;

namespace GspoSharp.Tests;

/// <summary>
/// The expected NFC of a random text in the round-trip properties, for every scalar value: .NET's
/// <see cref="string.Normalize(NormalizationForm)"/> throws on the noncharacter U+FFFE, which Unicode
/// normalizes to itself (no decomposition, combining class 0, never composed), so the runs around it
/// are normalized on their own.
/// </summary>
internal static class Nfc
{
    public static string Of(string text) => string.Join('\uFFFE', text.Split('\uFFFE').Select(run => run.Normalize(NormalizationForm.FormC)));
}
