using System.Text;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// The GPT-2 byte-level alphabet: each of the 256 byte values is shown as one printable
/// character, so that a byte-level vocabulary is a vocabulary of ordinary strings. Printable
/// Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, 0x7F–0xA0, 0xAD)
/// map in order to U+0100, U+0101, … — which is why a space appears as 'Ġ' (U+0120) and a
/// newline as 'Ċ' (U+010A) in Qwen's and Llama-3's vocabularies.
/// </summary>
internal static class ByteLevelAlphabet
{
    static readonly char[] ByteToChar = BuildTable();
    static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    /// <summary>The character standing for byte <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The byte-level form of <paramref name="text"/>: one alphabet character per UTF-8 byte.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, static (chars, b) =>
        {
            for (int i = 0; i < b.Length; i++) chars[i] = ByteToChar[b[i]];
        });
    }

    /// <summary>
    /// Appends the bytes that <paramref name="token"/> stands for. As in the Hugging Face
    /// ByteLevel decoder, a token with any character outside the alphabet (an added token such as
    /// "&lt;think&gt;\n") contributes its own UTF-8 bytes instead.
    /// </summary>
    public static void AppendBytes(string token, List<byte> bytes)
    {
        int start = bytes.Count;
        foreach (char c in token)
        {
            if (!CharToByte.TryGetValue(c, out byte b))
            {
                bytes.RemoveRange(start, bytes.Count - start);
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
            bytes.Add(b);
        }
    }
}
