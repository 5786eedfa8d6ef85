using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

/// <summary>Every tokenizer.json feature GspoSharp does not implement is refused with the file and field named.</summary>
public class TokenizerRefusalTests
{
    static JsonObject Split(string behavior = "Isolated", bool invert = false, string regex = HandBuilt.QwenPattern) => new()
    {
        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = behavior, ["invert"] = invert,
    };

    static JsonObject Sequence(params JsonNode[] steps) => new() { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(steps) };

    public static TheoryData<string, Action<JsonObject>, string> Cases => new()
    {
        { "WordPiece model", j => j["model"]!["type"] = "WordPiece", "model.type: 'WordPiece' is not supported" },
        { "Unigram model", j => j["model"]!["type"] = "Unigram", "model.type: 'Unigram' is not supported" },
        { "byte fallback", j => j["model"]!["byte_fallback"] = true, "model.byte_fallback: true is not supported" },
        { "dropout", j => j["model"]!["dropout"] = 0.1, "model.dropout: BPE dropout is not supported" },
        { "subword prefix", j => j["model"]!["continuing_subword_prefix"] = "##", "model.continuing_subword_prefix: is not supported" },
        { "word suffix", j => j["model"]!["end_of_word_suffix"] = "</w>", "model.end_of_word_suffix: is not supported" },
        { "merge of an unknown token", j => j["model"]!["merges"]!.AsArray().Add("x yz"), "model: Trying to merge a token 'yz'" },
        { "malformed merge", j => j["model"]!["merges"]!.AsArray().Add("abc"), "model.merges[9]: expected \"left right\"" },
        { "missing vocab", j => j["model"]!.AsObject().Remove("vocab"), "model.vocab: expected an object" },
        { "unknown pre-tokenizer", j => j["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" }, "pre_tokenizer.type: 'Whitespace' is not supported" },
        { "digits step", j => j["pre_tokenizer"] = Sequence(new JsonObject { ["type"] = "Digits" }, HandBuilt.ByteLevel()), "pre_tokenizer.pretokenizers[0].type: 'Digits' is not supported" },
        { "no pre-tokenizer", j => j["pre_tokenizer"] = null, "pre_tokenizer: is missing" },
        { "no ByteLevel", j => j["pre_tokenizer"] = Sequence(Split()), "pre_tokenizer.pretokenizers[0].type: GspoSharp implements Split steps followed by one final ByteLevel" },
        { "ByteLevel first", j => j["pre_tokenizer"] = Sequence(HandBuilt.ByteLevel(), Split()), "pre_tokenizer.pretokenizers[0].type: GspoSharp implements Split steps followed by one final ByteLevel" },
        { "split removed", j => j["pre_tokenizer"] = Sequence(Split(behavior: "Removed"), HandBuilt.ByteLevel()), "pre_tokenizer.pretokenizers[0].behavior: 'Removed' is not supported" },
        { "split inverted", j => j["pre_tokenizer"] = Sequence(Split(invert: true), HandBuilt.ByteLevel()), "pre_tokenizer.pretokenizers[0].invert: true is not supported" },
        { "script class", j => j["pre_tokenizer"] = Sequence(Split(regex: @"\p{Han}+"), HandBuilt.ByteLevel()), "pre_tokenizer.pretokenizers[0].pattern.Regex: the pattern is not a regular expression .NET supports" },
        { "lowercase normalizer", j => j["normalizer"] = new JsonObject { ["type"] = "Lowercase" }, "normalizer.type: 'Lowercase' is not supported" },
        { "strip in a sequence", j => j["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "NFC" }, new JsonObject { ["type"] = "Strip" }) }, "normalizer.normalizers[1].type: 'Strip' is not supported" },
        { "bert post-processor", j => j["post_processor"] = new JsonObject { ["type"] = "BertProcessing" }, "post_processor.type: 'BertProcessing' is not supported" },
        { "wordpiece decoder", j => j["decoder"] = new JsonObject { ["type"] = "WordPiece" }, "decoder.type: 'WordPiece' is not supported" },
        { "no decoder", j => j["decoder"] = null, "decoder: is missing" },
        { "truncation", j => j["truncation"] = new JsonObject { ["max_length"] = 8 }, "truncation: is set" },
        { "padding", j => j["padding"] = new JsonObject { ["strategy"] = "BatchLongest" }, "padding: is set" },
        { "added token without content", j => j["added_tokens"]![0]!.AsObject().Remove("content"), "added_tokens[0].content: is missing" },
        { "added token without id", j => j["added_tokens"]![1]!["id"] = "x", "added_tokens[1].id: expected an id" },
        // Found by the parser fuzzer (docs/reliability.md): each threw an exception naming no file.
        { "two tokens with one id", j => j["model"]!["vocab"]!["zzz"] = 0, "model.vocab[\"zzz\"]: id 0 is also the id of" },
        { "template piece not an object", j => j["post_processor"] = Template("[1]", "{}"), "post_processor.single[0]: expected an object" },
        { "template ids not an object", j => j["post_processor"] = Template("[{\"SpecialToken\": {\"id\": \"X\"}}]", "{\"X\": [1]}"), "post_processor.single[0]: special token 'X' has no ids" },
    };

    static JsonNode Template(string single, string specialTokens) =>
        JsonNode.Parse($"{{\"type\": \"TemplateProcessing\", \"single\": {single}, \"special_tokens\": {specialTokens}}}")!;

    [Theory]
    [MemberData(nameof(Cases))]
    public void Unsupported_features_are_refused_naming_the_field(string name, Action<JsonObject> change, string message)
    {
        _ = name;
        var json = HandBuilt.Json();
        change(json);
        using var dir = new TempDirectory();
        var e = Assert.Throws<ModelFormatException>(() => HandBuilt.Load(dir, json));
        Assert.Contains(Path.Combine(dir.Path, "tokenizer.json"), e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_split_pattern_that_backtracks_catastrophically_is_named_instead_of_hanging()
    {
        // 2^64 ways to split 64 a's before failing at "!": no machine finishes, whatever its load.
        var regex = new IsolatingRegex("(a+)+$", "tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex", TimeSpan.FromMilliseconds(100));
        var e = Assert.Throws<ModelFormatException>(() => regex.Split(new string('a', 64) + "!", []));
        Assert.StartsWith("tokenizer.json: pre_tokenizer.pretokenizers[0].pattern.Regex: matching the pattern on a 65-character text " +
                          "took longer than 0.1 s; it backtracks catastrophically", e.Message);
    }

    [Fact]
    public void Malformed_json_names_the_line()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "tokenizer.json"), "{\n  \"model\": [\n");
        var e = Assert.Throws<ModelFormatException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains("tokenizer.json: invalid JSON at line", e.Message);
    }

    [Fact]
    public void Missing_files_and_directories_are_named()
    {
        using var dir = new TempDirectory();
        var missingFile = Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains("tokenizer.json: file not found", missingFile.Message);
        string nowhere = Path.Combine(dir.Path, "nowhere");
        var missingDir = Assert.Throws<DirectoryNotFoundException>(() => HfTokenizer.Load(nowhere));
        Assert.Contains($"{nowhere}: directory not found", missingDir.Message);
    }

    [Fact]
    public void A_config_token_missing_from_the_vocabulary_is_refused()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<ModelFormatException>(() => HandBuilt.Load(dir, HandBuilt.Json(), new JsonObject { ["eos_token"] = "<eos>" }));
        Assert.Contains("tokenizer_config.json: eos_token: '<eos>' is not a token of tokenizer.json", e.Message);
    }

    [Fact]
    public void Harmless_settings_are_accepted()
    {
        var json = HandBuilt.Json();
        json["model"]!["dropout"] = 0.0;                   // no dropout
        json["model"]!["continuing_subword_prefix"] = null; // Llama-3 writes null where Qwen writes ""
        json["model"]!["end_of_word_suffix"] = null;
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"] = new JsonObject { ["String"] = " " };
        using var dir = new TempDirectory();
        // Split on the literal " ", isolated: "hello", " ", "world".
        Assert.Equal(new[] { 259, 220, 86, 261, 263 }, HandBuilt.Load(dir, json).Encode("hello world"));
    }
}
