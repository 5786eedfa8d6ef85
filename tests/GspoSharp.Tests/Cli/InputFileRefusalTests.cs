using GspoSharp.Models;
using GspoSharp.Cli.Commands;
using GspoSharp.Tests.Fuzz;

namespace GspoSharp.Tests.Cli;

/// <summary>
/// Input files of gspo generate and gspo objective that the parser fuzzer found ending in an
/// exception that named no file or line; each is now refused naming both.
/// </summary>
public class InputFileRefusalTests(FuzzFixtures fixtures) : IClassFixture<FuzzFixtures>
{
    [Theory]
    [InlineData("", ": no prompts.")]
    [InlineData("{\"prompt_ids\": [1, 2]}\n{\"prompt_ids\": [3, 65536]}\n", ":2: token id 65536 is outside the vocabulary [0, 512).")]
    [InlineData("{\"prompt_ids\": [-1]}\n", ":1: token id -1 is outside the vocabulary [0, 512).")]
    [InlineData("{\"prompt_ids\": []}\n", ":1: the prompt is empty.")]
    [InlineData("{\"prompt\": \"\"}\n", ":1: the prompt is empty.")]
    public void Generate_input_lines_the_engine_would_refuse_are_refused_naming_the_line(string input, string message)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "prompts.jsonl");
        File.WriteAllText(path, input);
        var e = Assert.Throws<InvalidDataException>(() => GenerateCommand.ReadPrompts(path, fixtures.Fixtures.LanguageModel));
        Assert.Equal(path + message, e.Message);
    }

    [Fact]
    public void Generate_input_longer_than_the_context_is_refused_naming_the_line()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "prompts.jsonl");
        int context = fixtures.Fixtures.LanguageModel.Model.Config.MaxPositionEmbeddings;
        File.WriteAllText(path, "{\"prompt_ids\": [" + string.Join(", ", Enumerable.Repeat(1, context)) + "]}\n");
        var e = Assert.Throws<InvalidDataException>(() => GenerateCommand.ReadPrompts(path, fixtures.Fixtures.LanguageModel));
        Assert.StartsWith($"{path}:1: the prompt has {context} tokens", e.Message);
    }

    [Fact]
    public void A_generate_prompt_is_encoded_alone_whatever_messages_field_sits_beside_it()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "prompts.jsonl");
        File.WriteAllText(path, "{\"prompt\": \"What is 2 + 3?\", \"messages\": [1]}\n{\"prompt\": \"What is 2 + 3?\"}\n");
        var prompts = GenerateCommand.ReadPrompts(path, fixtures.Fixtures.LanguageModel);
        Assert.Equal(prompts[1], prompts[0]);
        Assert.Equal(fixtures.Fixtures.LanguageModel.Tokenizer.Encode("What is 2 + 3?").Select(i => (long)i), prompts[0]);
    }

    [Theory]
    [InlineData("{\"responses\": [[1, 2]]}", ": responses[0] must be an object")]
    [InlineData("{\"responses\": [{\"logprobs\": [-1], \"old_logprobs\": [-1], \"advantage\": 1}, 3]}", ": responses[1] must be an object")]
    public void An_objective_batch_response_that_is_not_an_object_is_named(string json, string message)
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "batch.json");
        File.WriteAllText(path, json);
        var e = Assert.Throws<InvalidDataException>(() => ObjectiveBatchFile.Read(path));
        Assert.StartsWith(path + message, e.Message);
    }
}
