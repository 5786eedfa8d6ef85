using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

/// <summary>
/// A small byte-level BPE tokenizer.json built by hand, whose encodings the tests derive by hand.
/// Its 256 byte tokens come in GPT-2's order, so a single byte has the id it has in GPT-2, Qwen
/// and Llama-3: 'a' = 64, 'd' = 67, 'e' = 68, 'h' = 71, 'l' = 75, 'o' = 78, 'r' = 81, 'w' = 86,
/// '0' = 15, space 'Ġ' = 220, newline 'Ċ' = 198. Merges (id = rank + 256):
/// 256 h+e, 257 l+l, 258 he+ll, 259 hell+o, 260 Ġ+w, 261 o+r, 262 Ġw+or, 263 l+d, 264 Ġwor+ld.
/// "held" (265) is in the vocabulary but no merge makes it.
/// Added tokens: 300 &lt;|end|&gt; (special), 301 ñ (normalized), 302 [MASK] (special, lstrip, rstrip),
/// 303 tok (single word).
/// </summary>
internal static class HandBuilt
{
    public const string QwenPattern = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    static readonly (string, string)[] Merges =
        [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w"), ("o", "r"), ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld")];

    /// <summary>The byte alphabet: printable Latin-1 bytes stand for themselves, the 68 others are U+0100… in byte order.</summary>
    public static IReadOnlyList<string> Alphabet { get; } = BuildAlphabet();

    static List<string> BuildAlphabet()
    {
        var chars = new List<char>();
        int next = 0x100;
        for (int b = 0; b < 256; b++)
            chars.Add(b is >= 0x21 and <= 0x7E or >= 0xA1 and <= 0xAC or >= 0xAE ? (char)b : (char)next++);
        return chars.Order().Select(c => c.ToString()).ToList();
    }

    /// <summary>The tokenizer.json, to be changed by a test before writing.</summary>
    public static JsonObject Json(bool arrayMerges = false)
    {
        var vocab = new JsonObject();
        for (int i = 0; i < Alphabet.Count; i++) vocab[Alphabet[i]] = i;
        int id = 256;
        foreach (var (left, right) in Merges) vocab[left + right] = id++;
        vocab["held"] = id;
        var merges = new JsonArray(Merges.Select(m => arrayMerges
            ? (JsonNode)new JsonArray(m.Item1, m.Item2)
            : JsonValue.Create(m.Item1 + " " + m.Item2)).ToArray());
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(
                Added(300, "<|end|>", special: true),
                Added(301, "ñ", normalized: true),
                Added(302, "[MASK]", special: true, lstrip: true, rstrip: true),
                Added(303, "tok", singleWord: true)),
            ["normalizer"] = new JsonObject { ["type"] = "NFC" },
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = QwenPattern },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    ByteLevel()),
            },
            ["post_processor"] = ByteLevel(),
            ["decoder"] = ByteLevel(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null,
                ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = merges,
            },
        };
    }

    public static JsonObject ByteLevel(bool addPrefixSpace = false, bool useRegex = false) => new()
    {
        ["type"] = "ByteLevel", ["add_prefix_space"] = addPrefixSpace, ["trim_offsets"] = false, ["use_regex"] = useRegex,
    };

    static JsonObject Added(int id, string content, bool special = false, bool normalized = false,
        bool lstrip = false, bool rstrip = false, bool singleWord = false) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = singleWord, ["lstrip"] = lstrip,
        ["rstrip"] = rstrip, ["normalized"] = normalized, ["special"] = special,
    };

    /// <summary>Writes tokenizer.json (and tokenizer_config.json when given) into <paramref name="directory"/>.</summary>
    public static string Write(string directory, JsonObject json, JsonObject? config = null)
    {
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), json.ToJsonString());
        if (config is not null) File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString());
        return directory;
    }

    public static HfTokenizer Load(TempDirectory directory, JsonObject json, JsonObject? config = null) =>
        HfTokenizer.Load(Write(directory.Path, json, config));
}

/// <summary>
/// The real Qwen3 and Llama-3 tokenizers (fetched by the test build into .cache/tokenizers/) and
/// the reference ids of reference-ids.json, loaded once per test run.
/// </summary>
internal static class RealTokenizers
{
    static readonly Lazy<HfTokenizer> LazyQwen3 = new(() => HfTokenizer.Load(DirectoryOf("qwen3")));
    static readonly Lazy<HfTokenizer> LazyLlama3 = new(() => HfTokenizer.Load(DirectoryOf("llama3")));
    static readonly Lazy<JsonDocument> LazyReference = new(() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Models", "Tokenization", "reference-ids.json"))));

    public static HfTokenizer Qwen3 => LazyQwen3.Value;
    public static HfTokenizer Llama3 => LazyLlama3.Value;
    public static HfTokenizer Get(string name) => name == "qwen3" ? Qwen3 : Llama3;

    public static string DirectoryOf(string name)
    {
        string root = typeof(RealTokenizers).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "RealTokenizersDir").Value!;
        return Path.Combine(root, name);
    }

    public static JsonElement Reference => LazyReference.Value.RootElement;

    public static IReadOnlyList<string> Corpus { get; } =
        LazyReference.Value.RootElement.GetProperty("corpus").EnumerateArray().Select(t => t.GetString()!).ToList();

    public static JsonElement Of(string name) => Reference.GetProperty("tokenizers").GetProperty(name);
}
