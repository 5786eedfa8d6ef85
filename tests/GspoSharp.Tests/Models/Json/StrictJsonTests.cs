using System.Text;
using System.Text.Json;
using GspoSharp.Models;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Models.Json;
using GspoSharp.Models.Tokenization;
using GspoSharp.Tasks;

namespace GspoSharp.Tests.Models.Json;

/// <summary>
/// Inputs the parser fuzzer found: JSON that System.Text.Json parses but then fails on when a
/// field is read — a name twice in one object (ArgumentException), a string with an unpaired
/// surrogate escape or invalid UTF-8 (InvalidOperationException), neither naming the file. Every
/// JSON reader now refuses them as it parses, naming the file and the line.
/// </summary>
public class StrictJsonTests
{
    [Theory]
    [InlineData("{\"a\": 1,\n \"a\": 2}", 1, "\"a\" appears twice in one object")]
    [InlineData("{\"a\": {\"b\": 1, \"b\": 1}}", 0, "\"b\" appears twice in one object")]
    [InlineData("[\n\n\"\\ud800\"]", 2, "a string is not valid text")]
    [InlineData("{\"\\udc00x\": 1}", 0, "a name is not valid text")]
    public void Duplicate_names_and_unpaired_surrogates_are_syntax_errors_with_their_line(string json, int line, string message)
    {
        var e = Assert.ThrowsAny<JsonException>(() => StrictJson.Document(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(line, e.LineNumber);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Invalid_utf8_inside_a_string_is_a_syntax_error()
    {
        byte[] json = [.. "{\"a\": \""u8, 0xC3, 0x28, .. "\"}"u8];
        Assert.Contains("not valid text", Assert.ThrowsAny<JsonException>(() => StrictJson.Document(json)).Message);
    }

    [Fact]
    public void Same_names_in_different_objects_a_byte_order_mark_and_paired_surrogates_are_fine()
    {
        using var doc = StrictJson.Document(Encoding.UTF8.GetBytes("\uFEFF{\"a\": {\"x\": 1}, \"b\": {\"x\": \"\\ud83d\\ude00\"}}"));
        Assert.Equal("😀", doc.RootElement.GetProperty("b").GetProperty("x").GetString());
    }

    /// <summary>Each reader, the file it reads, and the exception type it documents.</summary>
    public static TheoryData<string> Readers => new() { "config.json", "generation_config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "dataset", "safetensors header" };

    [Theory]
    [MemberData(nameof(Readers))]
    public void Every_reader_refuses_a_duplicate_name_naming_the_file(string reader) =>
        AssertRefused(reader, reader switch
        {
            // These two look for names given twice themselves, and name them in their own terms.
            "safetensors header" => "{\"__metadata__\": {}, \"__metadata__\": {}}",
            "model.safetensors.index.json" => "{\"weight_map\": {}, \"weight_map\": {}}",
            _ => "{\"model_type\": \"qwen3\", \"model_type\": \"llama\"}",
        }, reader switch
        {
            "safetensors header" => "tensor '__metadata__' appears twice in the header",
            "model.safetensors.index.json" => "field 'weight_map' appears twice",
            _ => "\"model_type\" appears twice",
        });

    [Theory]
    [MemberData(nameof(Readers))]
    public void Every_reader_refuses_an_unpaired_surrogate_naming_the_file(string reader) =>
        AssertRefused(reader, "{\"model_type\": \"\\ud800\"}", "not valid text");

    static void AssertRefused(string reader, string json, string expected)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, reader switch
        {
            "dataset" => "train.jsonl",
            "safetensors header" => "model.safetensors",
            _ => reader,
        });
        byte[] bytes = Encoding.UTF8.GetBytes(json);
        if (reader == "safetensors header") bytes = [.. BitConverter.GetBytes((ulong)bytes.Length), .. bytes];
        File.WriteAllBytes(path, bytes);
        Exception e = reader switch
        {
            "config.json" => Assert.Throws<ModelFormatException>(() => GspoSharp.Models.Architecture.ModelConfig.Load(path)),
            "generation_config.json" => Assert.Throws<ModelFormatException>(() => GenerationConfig.Load(path)),
            "model.safetensors.index.json" => Assert.Throws<ModelFormatException>(() => HfSafetensorsCheckpoint.Open(dir.Path)),
            "tokenizer.json" => Assert.Throws<ModelFormatException>(() => HfTokenizer.Load(dir.Path)),
            "tokenizer_config.json" => Assert.Throws<ModelFormatException>(() => TokenizerWithConfig(dir.Path)),
            "dataset" => Assert.Throws<InvalidDataException>(() => Dataset.FromJsonLines(path, [])),
            _ => Assert.Throws<ModelFormatException>(() => SafetensorsReader.Open(path).Dispose()),
        };
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        if (reader == "dataset") Assert.StartsWith($"{path}:1:", e.Message);
    }

    /// <summary>A valid tokenizer.json beside the tokenizer_config.json under test.</summary>
    static HfTokenizer TokenizerWithConfig(string directory)
    {
        TinyTokenizer.Write(Path.Combine(directory, "tiny"), "abc abc", vocabSize: 260);
        File.Copy(Path.Combine(directory, "tiny", HfTokenizer.FileName), Path.Combine(directory, HfTokenizer.FileName));
        return HfTokenizer.Load(directory);
    }
}
