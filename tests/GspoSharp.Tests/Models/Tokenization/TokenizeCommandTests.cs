using System.Text.Json;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

/// <summary><c>gspo tokenize</c>, run as a process on a tiny tokenizer.</summary>
public class TokenizeCommandTests
{
    const string Corpus = "The cat sat on the mat. The dog sat on the log. 12 + 30 = 42.\nA cat and a dog.\n";

    static (TempDirectory Dir, HfTokenizer Tokenizer) Setup()
    {
        var dir = new TempDirectory();
        var tokenizer = TinyTokenizer.Write(Path.Combine(dir.Path, "tok"), Corpus, vocabSize: 280);
        return (dir, tokenizer);
    }

    static int[][] ReadIds(string jsonl) =>
        jsonl.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray())
            .ToArray();

    [Fact]
    public void Each_line_becomes_its_ids()
    {
        var (dir, tokenizer) = Setup();
        using var _ = dir;
        string[] texts = ["The cat sat.", "<|im_start|>user\nA dog<|im_end|>\n", "", "ünïcödé 😀"];
        string input = Path.Combine(dir.Path, "in.jsonl"), output = Path.Combine(dir.Path, "out.jsonl");
        File.WriteAllLines(input, texts.Select(t => JsonSerializer.Serialize(new { text = t, other = 1 })));

        var result = GspoProcess.Run("tokenize", "--tokenizer", Path.Combine(dir.Path, "tok"), "--input", input, "--output", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Contains("4 texts", result.Stdout);
        var ids = ReadIds(File.ReadAllText(output));
        Assert.Equal(texts.Select(tokenizer.Encode), ids);
        Assert.Equal(tokenizer.TokenToId("<|im_start|>"), ids[1][0]);   // special tokens in the text are recognised
        Assert.Empty(ids[2]);
        Assert.Equal(texts.Length, File.ReadAllLines(output).Length);
        Assert.Equal(new[] { "in.jsonl", "out.jsonl", "tok" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void Without_output_the_ids_go_to_stdout()
    {
        var (dir, tokenizer) = Setup();
        using var _ = dir;
        string input = Path.Combine(dir.Path, "in.jsonl");
        File.WriteAllText(input, "{\"text\": \"The dog.\"}\n{\"text\": \"a\\tb\"}\n");
        var result = GspoProcess.Run("tokenize", "--tokenizer", Path.Combine(dir.Path, "tok"), "--input", input);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(new[] { tokenizer.Encode("The dog."), tokenizer.Encode("a\tb") }, ReadIds(result.Stdout));
    }

    [Theory]
    [InlineData("{\"text\": \"ok\"}\n{\"text\": \"broken\n", "in.jsonl:2: invalid JSON")]
    [InlineData("{\"text\": \"ok\"}\n{\"txt\": \"x\"}\n", "in.jsonl:2: expected an object with a \"text\" string")]
    [InlineData("{\"text\": 3}\n", "in.jsonl:1: expected an object with a \"text\" string")]
    [InlineData("[\"text\"]\n", "in.jsonl:1: expected a JSON object")]
    public void Bad_lines_fail_with_the_line_named_and_no_output(string content, string message)
    {
        var (dir, _) = Setup();
        using var __ = dir;
        string input = Path.Combine(dir.Path, "in.jsonl"), output = Path.Combine(dir.Path, "out.jsonl");
        File.WriteAllText(input, content);
        var result = GspoProcess.Run("tokenize", "--tokenizer", Path.Combine(dir.Path, "tok"), "--input", input, "--output", output);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, result.Stderr);
        Assert.Equal(new[] { "in.jsonl", "tok" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());

        var toStdout = GspoProcess.Run("tokenize", "--tokenizer", Path.Combine(dir.Path, "tok"), "--input", input);
        Assert.Equal(1, toStdout.ExitCode);
        Assert.Equal("", toStdout.Stdout);
    }

    [Fact]
    public void Missing_and_unsupported_inputs_fail_clearly()
    {
        var (dir, _) = Setup();
        using var _ = dir;
        string input = Path.Combine(dir.Path, "in.jsonl");
        File.WriteAllText(input, "{\"text\": \"x\"}\n");

        string nowhere = Path.Combine(dir.Path, "nowhere");
        var noDir = GspoProcess.Run("tokenize", "--tokenizer", nowhere, "--input", input);
        Assert.Equal(1, noDir.ExitCode);
        Assert.Contains($"error: {nowhere}: directory not found", noDir.Stderr);

        var noInput = GspoProcess.Run("tokenize", "--tokenizer", Path.Combine(dir.Path, "tok"), "--input", Path.Combine(dir.Path, "none.jsonl"));
        Assert.Equal(1, noInput.ExitCode);
        Assert.Contains("none.jsonl: file not found", noInput.Stderr);

        string tokenizerJson = Path.Combine(dir.Path, "tok", "tokenizer.json");
        File.WriteAllText(tokenizerJson, File.ReadAllText(tokenizerJson).Replace("\"type\": \"BPE\"", "\"type\": \"WordPiece\""));
        var unsupported = GspoProcess.Run("tokenize", "--tokenizer", Path.Combine(dir.Path, "tok"), "--input", input);
        Assert.Equal(1, unsupported.ExitCode);
        Assert.Contains("tokenizer.json: model.type: 'WordPiece' is not supported", unsupported.Stderr);
    }
}
