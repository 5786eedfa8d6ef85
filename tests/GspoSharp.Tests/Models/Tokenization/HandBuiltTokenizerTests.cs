using System.Text.Json.Nodes;
using CsCheck;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

/// <summary>Encodings of the hand-built tokenizer of <see cref="HandBuilt"/>, derived by hand from its vocabulary and merges.</summary>
public class HandBuiltTokenizerTests
{
    static HfTokenizer Load(JsonObject? json = null, JsonObject? config = null)
    {
        using var dir = new TempDirectory();
        return HandBuilt.Load(dir, json ?? HandBuilt.Json(), config);
    }

    [Theory]
    // h e l l o: he (rank 0), ll (1), hell (2), hello (3). " world": Ġw, or, Ġwor, ld, Ġworld.
    [InlineData("hello world", new[] { 259, 264 })]
    // The first of two spaces is its own word (\s+(?!\S)); the second starts " world".
    [InlineData("hello  world", new[] { 259, 220, 264 })]
    // h e l d: he (rank 0) before ld (rank 7); "he ld" is no merge.
    [InlineData("held", new[] { 256, 263 })]
    // w o r l d without the space: or, ld; "w or" is no merge (only "Ġw or" is).
    [InlineData("world", new[] { 86, 261, 263 })]
    // Qwen's regex splits digits one by one: '2' = 17, '0' = 15, '4' = 19.
    [InlineData("2024", new[] { 17, 15, 17, 19 })]
    // Newline 'Ċ' = 198; "\nhello" is "\n" then "hello".
    [InlineData("\nhello", new[] { 198, 259 })]
    [InlineData("", new int[0])]
    public void Known_encodings(string text, int[] expected) => Assert.Equal(expected, Load().Encode(text));

    [Fact]
    public void Merges_as_strings_and_as_pairs_encode_alike()
    {
        var pairs = Load(HandBuilt.Json(arrayMerges: true));
        Assert.Equal(new[] { 259, 264 }, pairs.Encode("hello world"));
        Assert.Equal(new[] { 256, 263 }, pairs.Encode("held"));
    }

    [Fact]
    public void Special_tokens_written_in_the_text_are_single_ids()
    {
        var tokenizer = Load();
        Assert.Equal(new[] { 259, 300, 86, 261, 263 }, tokenizer.Encode("hello<|end|>world"));
        // A broken special token is plain text: '<' = 27, '|' = 91, 'e' 'n' 'd' = 68 77 67.
        Assert.Equal(new[] { 27, 91, 68, 77, 67 }, tokenizer.Encode("<|end"));
        Assert.Equal(new[] { 300, 300 }, tokenizer.Encode("<|end|><|end|>"));
    }

    [Fact]
    public void Lstrip_and_rstrip_tokens_absorb_the_spaces_around_them()
    {
        // " [MASK] " is one token; "world" then has no leading space.
        Assert.Equal(new[] { 259, 302, 86, 261, 263 }, Load().Encode("hello [MASK] world"));
    }

    [Fact]
    public void Single_word_tokens_match_only_between_non_word_characters()
    {
        var tokenizer = Load();
        // "a" 64, " " 220, tok 303, " b" = Ġ 220 + b 65.
        Assert.Equal(new[] { 64, 220, 303, 220, 65 }, tokenizer.Encode("a tok b"));
        // Inside a word it is text: a t o k = 64 83 78 74.
        Assert.Equal(new[] { 64, 83, 78, 74 }, tokenizer.Encode("atok"));
    }

    [Fact]
    public void The_normalizer_composes_before_splitting_and_merging()
    {
        // NFC makes e + U+0301 into é = C3 A9 = 'Ã' 127, '©' 102: one word.
        Assert.Equal(new[] { 127, 102 }, Load().Encode("e\u0301"));
        // Without a normalizer the mark stays apart: 'e' 68, then U+0301 = CC 81 = 'Ì' 136, byte 0x81 = 223.
        var raw = HandBuilt.Json();
        raw["normalizer"] = null;
        Assert.Equal(new[] { 68, 136, 223 }, Load(raw).Encode("e\u0301"));
        // A Sequence of one NFC is NFC.
        var sequence = HandBuilt.Json();
        sequence["normalizer"] = new JsonObject { ["type"] = "Sequence", ["normalizers"] = new JsonArray(new JsonObject { ["type"] = "NFC" }) };
        Assert.Equal(new[] { 127, 102 }, Load(sequence).Encode("e\u0301"));
    }

    [Fact]
    public void Normalized_added_tokens_match_the_normalized_text()
    {
        // ñ (301) is normalized: n + U+0303 composes to ñ and matches.
        Assert.Equal(new[] { 301 }, Load().Encode("n\u0303"));
        // With normalized = false it only matches the text as written: ñ = C3 B1 = 127, '±' 109.
        var json = HandBuilt.Json();
        json["added_tokens"]![1]!["normalized"] = false;
        Assert.Equal(new[] { 127, 109 }, Load(json).Encode("n\u0303"));
    }

    [Fact]
    public void Ignore_merges_takes_a_whole_word_from_the_vocabulary()
    {
        var json = HandBuilt.Json();
        json["model"]!["ignore_merges"] = true;
        var tokenizer = Load(json);
        Assert.Equal(new[] { 265 }, tokenizer.Encode("held"));        // merges would give he + ld
        Assert.Equal(new[] { 256, 263 }, Load().Encode("held"));
        Assert.Equal(new[] { 86, 261, 263 }, tokenizer.Encode("world")); // not in the vocabulary: merged as usual
    }

    [Fact]
    public void ByteLevel_prefix_space_and_gpt2_regex()
    {
        var json = HandBuilt.Json();
        json["pre_tokenizer"] = HandBuilt.ByteLevel(addPrefixSpace: true, useRegex: true);
        // " hello world" split by GPT-2's regex: " hello" = Ġ 220 + hello 259, " world" = 264.
        Assert.Equal(new[] { 220, 259, 264 }, Load(json).Encode("hello world"));
        // Each segment between added tokens gets its prefix space.
        Assert.Equal(new[] { 220, 259, 300, 264 }, Load(json).Encode("hello<|end|>world"));
    }

    [Fact]
    public void Decoding_maps_bytes_back()
    {
        var tokenizer = Load();
        Assert.Equal("hello world", tokenizer.Decode([259, 264]));
        Assert.Equal("hello<|end|>", tokenizer.Decode([259, 300]));
        Assert.Equal("hello", tokenizer.Decode([259, 300], skipSpecialTokens: true));
        Assert.Equal("tok", tokenizer.Decode([303], skipSpecialTokens: true));   // added but not special
        Assert.Equal("\uFFFD", tokenizer.Decode([127]));                          // half of é
        Assert.Equal("é", tokenizer.Decode([127, 102]));
        Assert.Equal("hello", tokenizer.Decode([259, 99999]));                   // unknown ids are skipped
    }

    [Fact]
    public void Token_lookups_and_sizes()
    {
        var tokenizer = Load();
        Assert.Equal(304, tokenizer.VocabSize);
        Assert.Equal(264, tokenizer.TokenToId("Ġworld"));
        Assert.Equal(300, tokenizer.TokenToId("<|end|>"));
        Assert.Null(tokenizer.TokenToId("nope"));
        Assert.Equal("Ġworld", tokenizer.IdToToken(264));
        Assert.True(tokenizer.IsSpecial(300));
        Assert.False(tokenizer.IsSpecial(303));
        Assert.Empty(tokenizer.PostProcessorPrefixIds);
        Assert.Null(tokenizer.EosTokenId);
    }

    [Fact]
    public void Template_post_processor_is_reported_not_applied()
    {
        var json = HandBuilt.Json();
        json["post_processor"] = new JsonObject
        {
            ["type"] = "Sequence",
            ["processors"] = new JsonArray(HandBuilt.ByteLevel(), new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|end|>", ["type_id"] = 0 } },
                    new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                    new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "[MASK]", ["type_id"] = 0 } }),
                ["pair"] = new JsonArray(),
                ["special_tokens"] = new JsonObject
                {
                    ["<|end|>"] = new JsonObject { ["id"] = "<|end|>", ["ids"] = new JsonArray(300), ["tokens"] = new JsonArray("<|end|>") },
                    ["[MASK]"] = new JsonObject { ["id"] = "[MASK]", ["ids"] = new JsonArray(302), ["tokens"] = new JsonArray("[MASK]") },
                },
            }),
        };
        var tokenizer = Load(json);
        Assert.Equal(new[] { 300 }, tokenizer.PostProcessorPrefixIds);
        Assert.Equal(new[] { 302 }, tokenizer.PostProcessorSuffixIds);
        Assert.Equal(new[] { 259 }, tokenizer.Encode("hello"));
    }

    [Fact]
    public void Config_names_the_special_tokens()
    {
        var config = new JsonObject
        {
            ["eos_token"] = "<|end|>",
            ["pad_token"] = new JsonObject { ["content"] = "[MASK]", ["__type"] = "AddedToken" },
            ["bos_token"] = null,
        };
        var tokenizer = Load(config: config);
        Assert.Equal((300, "<|end|>"), (tokenizer.EosTokenId!.Value, tokenizer.EosToken));
        Assert.Equal(302, tokenizer.PadTokenId);
        Assert.Null(tokenizer.BosTokenId);
    }

    [Fact]
    public void Any_text_round_trips_up_to_NFC()
    {
        // Without the added token ñ (301): decoding sends added tokens through the byte-level alphabet, as
        // Hugging Face does, and there 'ñ' stands for the byte 0xF1, so text holding ñ (or n + U+0303)
        // cannot come back. The property is about the byte-level model and the other added tokens.
        var json = HandBuilt.Json();
        json["added_tokens"] = new JsonArray(json["added_tokens"]!.AsArray()
            .Where(t => t!["id"]!.GetValue<int>() != 301).Select(t => t!.DeepClone()).ToArray());
        var tokenizer = Load(json);
        Gen.Int[0, 0x10FFFF].Where(c => c is < 0xD800 or > 0xDFFF).Array[0, 24]
            .Select(codePoints => string.Concat(codePoints.Select(char.ConvertFromUtf32)))
            .Sample(text => tokenizer.Decode(tokenizer.Encode(text)) == Nfc.Of(text), iter: 300);
    }

    [Fact]
    public void Unpaired_surrogates_are_encoded_as_replacement_characters()
    {
        var tokenizer = Load();
        Assert.Equal(tokenizer.Encode("a\uFFFDb"), tokenizer.Encode("a\uD800b"));
        Assert.Equal("a\uFFFDb\uFFFD", tokenizer.Decode(tokenizer.Encode("a\uDC00b\uD83D")));
    }
}
