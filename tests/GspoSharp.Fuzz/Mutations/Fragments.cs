using System.Text;

namespace GspoSharp.Fuzz.Mutations;

/// <summary>
/// What mutations insert: numbers at and past every integer limit a parser might convert to,
/// negative and non-finite numbers, invalid UTF-8, escaped lone surrogates, deep nesting, very
/// long values and the punctuation of each format.
/// </summary>
public static class Fragments
{
    /// <summary>Numbers as JSON/YAML text.</summary>
    public static readonly string[] Numbers =
    [
        "0", "-0", "1", "-1", "2", "7", "8", "63", "64", "65", "255", "256", "257", "65536", "1000000",
        "2147483647", "2147483648", "-2147483648", "-2147483649", "4294967295", "4294967296",
        "9007199254740993", "1152921504606846976", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616",
        "340282366920938463463374607431768211456", "1e308", "1.7976931348623157e308", "1e309", "1e400", "-1e400",
        "1e-400", "4.9e-324", "0.5", "-0.5", "1.5", "3e-4", "1E+2", "100000000000000000000000000000000000000000000000000",
    ];

    /// <summary>JSON values of every type, for replacing a value with one of another type.</summary>
    public static readonly string[] JsonValues =
    [
        "null", "true", "false", "0", "-1", "1.5", "1e400", "9223372036854775808", "\"\"", "\"x\"", "\"1\"", "\"null\"",
        "[]", "[1]", "[1, 2]", "[\"a\", \"b\"]", "[null]", "[[]]", "{}", "{\"a\": 1}", "{\"type\": \"BPE\"}", "{\"\": null}",
        "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"a\\u0000b\"", "\"\\uFFFF\"", "\"<|im_end|>\"", "\"../x\"", "\"/etc/passwd\"",
    ];

    /// <summary>Object keys a mutation renames a key to.</summary>
    public static readonly string[] Keys =
    [
        "", " ", "__metadata__", "type", "a b", "é", "\\ud800", "\\u0000", "model.embed_tokens.weight", "../x",
        new string('k', 10_000), "prompt", "messages", "ids", "text", "models", "arms",
    ];

    /// <summary>Strings (JSON-escaped, without quotes) a mutation puts in place of a string.</summary>
    public static readonly string[] Strings =
    [
        "", " ", "\\n", "\\r\\n", "\\t", "\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", "é", "\\u0301", "<|im_start|>",
        "<|im_end|>", "<|endoftext|>", "{{ messages }}", "(a+)+$", "[", "\\\\", "%", "F8_E4M3", "BF16", "qwen3_moe", "llama3",
        new string('a', 100_000), string.Concat(Enumerable.Repeat("<|im_end|>", 2_000)),
    ];

    /// <summary>How deep a nesting mutation goes: at, below and above common limits, and far beyond.</summary>
    public static readonly int[] Depths = [2, 32, 63, 64, 65, 255, 256, 257, 1_000, 10_000, 100_000];

    /// <summary>Byte strings inserted anywhere: invalid UTF-8, a BOM, NUL, and format-independent numbers.</summary>
    public static readonly byte[][] Bytes =
    [
        [0xC3, 0x28], [0xFF], [0xFE, 0xFF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xC0, 0x80], [0xE2, 0x82],
        [0xEF, 0xBB, 0xBF], [0x00], [0x1B], [0x7F], [0x0D], [0x0A], [0x09], [0x0D, 0x0A],
        .. Numbers.Select(Encoding.UTF8.GetBytes),
        .. JsonValues.Select(Encoding.UTF8.GetBytes),
    ];

    /// <summary>JSON punctuation and nesting.</summary>
    public static readonly string[] Json =
    [
        "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\ud800", "//", "/*", "'", "NaN", "Infinity", "-Infinity", "0x10", "+1", ".5",
        new string('[', 100_000), string.Concat(Enumerable.Repeat("{\"a\":", 10_000)), "\"a\": 1, \"a\": 2", ",\"dtype\":\"F32\"",
    ];

    /// <summary>YAML punctuation, tags, anchors and aliases, and the spellings YAML 1.1 reads as booleans or numbers.</summary>
    public static readonly string[] Yaml =
    [
        "&a ", "*a", "*undefined", "&a [*a]", "!!binary ", "!!int ", "!!str ", "!!map ", "!!python/object:os.system ", "!custom ",
        "<<: *a\n", "? [a, b]\n: c\n", "? a\n", "- ", "- - - ", "|\n  x\n", ">-\n  x\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n",
        "---\n", "...\n", "--- |\n", "{", "}", "[", "]", ": ", ":", "#", "'", "\"", "\\", "~", "null", ".nan", ".inf", "-.inf",
        "0o17", "0x1F", "1_000", "yes", "no", "on", "off", "Y", "\t", "  ", "\n", "\n  ", "\r",
        new string('[', 100_000), string.Concat(Enumerable.Repeat("{a: ", 10_000)), string.Concat(Enumerable.Repeat("- ", 10_000)),
        string.Concat(Enumerable.Range(0, 10_000).Select(i => new string(' ', 2 * (i % 200)) + "a:\n")),
    ];

    /// <summary>Line-level pieces of JSON Lines.</summary>
    public static readonly string[] Lines = ["\n", "\r\n", "\r", "\n\n", " \n", "\t\n", "\u2028", "{}\n", "[]\n", "null\n", "1\n", "\"x\"\n"];
}
