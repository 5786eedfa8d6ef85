using System.Text.Json.Nodes;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

public class TinyTokenizerTests
{
    const string Corpus =
        "The cat sat on the mat. The dog sat on the log. Cats and dogs like mats and logs.\n" +
        "Alice has 3 apples and 12 pears; Bob has 7. How many fruits do they have together?\n" +
        "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n" +
        "Le chat est sur le tapis. 猫在垫子上。 Die Katze sitzt auf der Matte.\n" +
        "Question: a train leaves the station at nine o'clock and travels at sixty kilometres per hour. " +
        "Another train follows it an hour later, travelling at eighty kilometres per hour. When does the " +
        "second train catch up with the first one? Answer: after three hours of travelling, at one o'clock.\n" +
        "Reinforcement learning rewards the policy for correct answers; the group of sampled responses " +
        "shares one prompt, and each response is compared with the others of its group.\n";

    [Fact]
    public void Same_corpus_and_size_give_the_same_files()
    {
        using var a = new TempDirectory();
        using var b = new TempDirectory();
        TinyTokenizer.Write(a.Path, Corpus, vocabSize: 300);
        TinyTokenizer.Write(b.Path, Corpus, vocabSize: 300);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a.Path, file)), File.ReadAllBytes(Path.Combine(b.Path, file)));
    }

    [Fact]
    public void The_vocabulary_has_the_size_asked_for_with_special_tokens_last()
    {
        using var dir = new TempDirectory();
        var tokenizer = TinyTokenizer.Write(dir.Path, Corpus, vocabSize: 300);
        Assert.Equal(300, tokenizer.VocabSize);
        Assert.Equal(new[] { 297, 298, 299 }, TinyTokenizer.SpecialTokens.Select(t => tokenizer.TokenToId(t)!.Value));
        Assert.Equal((299, 297), (tokenizer.EosTokenId!.Value, tokenizer.PadTokenId!.Value));   // <|im_end|>, <|endoftext|>
        Assert.Null(tokenizer.BosTokenId);
        Assert.Equal(0, tokenizer.TokenToId("!"));
        Assert.Equal(220, tokenizer.TokenToId("Ġ"));
        var merges = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "tokenizer.json")))!["model"]!["merges"]!.AsArray();
        Assert.Equal(300 - 256 - 3, merges.Count);
    }

    [Fact]
    public void Learned_merges_follow_pair_counts_and_break_ties_ordinally()
    {
        // Words "ab", "Ġab", "Ġab", "Ġac": (a,b) and (Ġ,a) both occur 3 times; "a" < "Ġ" ordinally,
        // so a+b is merge 256; then (Ġ,ab) occurs twice: merge 257.
        using var dir = new TempDirectory();
        var tokenizer = TinyTokenizer.Write(dir.Path, "ab ab ab ac", vocabSize: 256 + 2 + 3);
        Assert.Equal(256, tokenizer.TokenToId("ab"));
        Assert.Equal(257, tokenizer.TokenToId("Ġab"));
        Assert.Equal(new[] { 256, 257, 220, 64, 66 }, tokenizer.Encode("ab ab ac"));   // Ġ a c: no merge
    }

    [Fact]
    public void Any_text_round_trips_and_special_tokens_are_single_ids()
    {
        using var dir = new TempDirectory();
        var tokenizer = TinyTokenizer.Write(dir.Path, Corpus, vocabSize: 512);
        Assert.Equal(512, tokenizer.VocabSize);
        foreach (var text in new[] { Corpus, "unseen: Ωμέγα 😀 𝒜 ￥100", "" })
            Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
        var ids = tokenizer.Encode("<|im_start|>user\nThe cat<|im_end|>\n");
        Assert.Equal(510, ids[0]);   // <|im_start|>
        Assert.Contains(511, ids);
        Assert.True(tokenizer.Encode("The cat sat on the mat.").Length < "The cat sat on the mat.".Length / 2);
    }

    [Fact]
    public void Files_have_the_layout_of_the_real_Qwen3_files()
    {
        using var dir = new TempDirectory();
        TinyTokenizer.Write(dir.Path, Corpus, vocabSize: 300);
        var tiny = JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, "tokenizer.json")))!;
        var qwen = JsonNode.Parse(File.ReadAllText(Path.Combine(RealTokenizers.DirectoryOf("qwen3"), "tokenizer.json")))!;
        foreach (var field in new[] { "version", "truncation", "padding", "normalizer", "pre_tokenizer", "post_processor", "decoder" })
            Assert.True(JsonNode.DeepEquals(qwen[field], tiny[field]), field);
        foreach (var field in new[] { "type", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix", "fuse_unk", "byte_fallback", "ignore_merges" })
            Assert.True(JsonNode.DeepEquals(qwen["model"]![field], tiny["model"]![field]), $"model.{field}");
        Assert.Equal(qwen["added_tokens"]![0]!.AsObject().Select(p => p.Key), tiny["added_tokens"]![0]!.AsObject().Select(p => p.Key));
        Assert.IsType<JsonArray>(tiny["model"]!["merges"]![0]);   // [left, right], as Qwen3 writes them
    }

    [Fact]
    public void The_chat_template_is_plain_ChatML()
    {
        using var dir = new TempDirectory();
        var tokenizer = TinyTokenizer.Write(dir.Path, Corpus, vocabSize: 300);
        var format = tokenizer.ChatFormat!;
        Assert.Equal(ChatFamily.ChatML, format.Family);
        Assert.False(format.HasThinkBlocks);
        Assert.Null(format.DefaultSystemPrompt);
        // {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }} per message, then '<|im_start|>assistant\n'.
        Assert.Equal("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>assistant\n",
            tokenizer.ApplyChatTemplate([new("system", "S"), new("user", "U"), new("assistant", "A")], addGenerationPrompt: true));
    }

    [Fact]
    public void Sizes_the_corpus_cannot_fill_are_refused()
    {
        using var dir = new TempDirectory();
        Assert.Contains("at least 259", Assert.Throws<ArgumentException>(() => TinyTokenizer.Write(dir.Path, Corpus, vocabSize: 258)).Message);
        Assert.Contains("the corpus yields only", Assert.Throws<ArgumentException>(() => TinyTokenizer.Write(dir.Path, "abc", vocabSize: 512)).Message);
    }
}
