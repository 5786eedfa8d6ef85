using System.Security.Cryptography;
using System.Text;
using CsCheck;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

/// <summary>
/// The genuine Qwen3 and Llama-3 tokenizers encode a varied corpus to the ids an independent
/// implementation (@huggingface/tokenizers, see tools/tokenizer-reference) gives.
/// </summary>
public class RealTokenizerTests
{
    public static TheoryData<string, int> CorpusEntries()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in new[] { "qwen3", "llama3" })
            for (int i = 0; i < RealTokenizers.Corpus.Count; i++) data.Add(name, i);
        return data;
    }

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama3")]
    public void The_fetched_files_are_those_the_reference_was_made_with(string name)
    {
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            string hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(RealTokenizers.DirectoryOf(name), file))));
            Assert.Equal(RealTokenizers.Of(name).GetProperty("sha256").GetProperty(file).GetString(), hash);
        }
    }

    [Theory]
    [MemberData(nameof(CorpusEntries))]
    public void Encodings_equal_the_reference_ids(string name, int entry)
    {
        var expected = RealTokenizers.Of(name).GetProperty("ids")[entry].EnumerateArray().Select(x => x.GetInt32()).ToArray();
        Assert.Equal(expected, RealTokenizers.Get(name).Encode(RealTokenizers.Corpus[entry]));
    }

    [Theory]
    [MemberData(nameof(CorpusEntries))]
    public void Decodings_round_trip_up_to_the_normalizer(string name, int entry)
    {
        var tokenizer = RealTokenizers.Get(name);
        string text = RealTokenizers.Corpus[entry];
        string decoded = tokenizer.Decode(tokenizer.Encode(text));
        Assert.Equal(RealTokenizers.Of(name).GetProperty("decoded")[entry].GetString(), decoded);
        // Qwen normalizes to NFC; Llama-3 has no normalizer.
        Assert.Equal(name == "qwen3" ? text.Normalize(NormalizationForm.FormC) : text, decoded);
    }

    [Fact]
    public void Qwen_splits_digits_one_by_one_and_Llama3_in_threes()
    {
        Assert.Equal(new[] { 16, 17, 18, 19, 20 }, RealTokenizers.Qwen3.Encode("12345"));   // '1'..'5'
        var llama = RealTokenizers.Llama3.Encode("12345");
        Assert.Equal(2, llama.Length);
        Assert.Equal(new[] { "123", "45" }, llama.Select(id => RealTokenizers.Llama3.IdToToken(id)));
    }

    [Fact]
    public void Special_tokens_of_Qwen3()
    {
        var qwen = RealTokenizers.Qwen3;
        Assert.Equal((151645, "<|im_end|>"), (qwen.EosTokenId!.Value, qwen.EosToken));
        Assert.Equal(151643, qwen.PadTokenId);
        Assert.Null(qwen.BosTokenId);
        Assert.Equal(151669, qwen.VocabSize);
        Assert.Equal(new[] { 151644, 872, 198 }, qwen.Encode("<|im_start|>user\n"));
        Assert.True(qwen.IsSpecial(151645));
        Assert.False(qwen.IsSpecial(151667));   // <think> is added but not special
        Assert.Equal("<think>", qwen.IdToToken(151667));
        Assert.Empty(qwen.PostProcessorPrefixIds);   // its post-processor is ByteLevel only
        Assert.Empty(qwen.PostProcessorSuffixIds);
        Assert.Equal("user\n", qwen.Decode(qwen.Encode("<|im_start|>user\n<|im_end|>"), skipSpecialTokens: true));
    }

    [Fact]
    public void Special_tokens_of_Llama3()
    {
        var llama = RealTokenizers.Llama3;
        Assert.Equal((128000, "<|begin_of_text|>"), (llama.BosTokenId!.Value, llama.BosToken));
        Assert.Equal(128001, llama.EosTokenId);
        Assert.Null(llama.PadTokenId);
        Assert.Equal(128256, llama.VocabSize);
        Assert.Equal(new[] { 128000, 128006 }, llama.Encode("<|begin_of_text|><|start_header_id|>"));
        // This tokenizer.json's post-processor is ByteLevel only: nothing would be added.
        Assert.Empty(llama.PostProcessorPrefixIds);
    }

    [Fact]
    public void Any_text_round_trips_through_Qwen3()
    {
        var qwen = RealTokenizers.Qwen3;
        Gen.Int[0, 0x10FFFF].Where(c => c is < 0xD800 or > 0xDFFF).Array[0, 16]
            .Select(codePoints => string.Concat(codePoints.Select(char.ConvertFromUtf32)))
            .Sample(text => qwen.Decode(qwen.Encode(text)) == Nfc.Of(text), iter: 300);
    }

    [Fact]
    public void Text_holding_the_noncharacter_U_FFFE_is_normalized_around_it()
    {
        // .NET's own normalization refuses U+FFFE; Hugging Face's tokenizers keep it and compose around it.
        var qwen = RealTokenizers.Qwen3;
        Assert.Equal("\u00e9\uFFFE\u00e9x\uFFFE", qwen.Decode(qwen.Encode("e\u0301\uFFFEe\u0301x\uFFFE")));
        Assert.Equal("\uFFFE", qwen.Decode(qwen.Encode("\uFFFE")));
    }
}
