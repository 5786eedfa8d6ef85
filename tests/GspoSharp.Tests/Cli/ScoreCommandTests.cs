using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Tests.Models.Architecture;

namespace GspoSharp.Tests.Cli;

public class ScoreCommandTests
{
    static (string Model, double[][] Expected) OneLayerModel(TempDirectory dir, int[][] sequences)
    {
        var config = ModelTestKit.Config(ModelType.Qwen3, edit: j => j["num_hidden_layers"] = 1);
        using var lm = ModelTestKit.RandomModel(config);
        string path = Path.Combine(dir.Path, "model");
        ModelDirectory.Save(lm, path);
        // log p(ids[t] | ids[<t]) from the float64 loop implementation's logits.
        var reference = new ReferenceDecoder(config, ModelTestKit.Parameters(lm));
        var expected = sequences.Select(ids =>
        {
            var logits = reference.Logits(ids);
            return Enumerable.Range(1, ids.Length - 1).Select(t =>
            {
                var row = logits[t - 1];
                double max = row.Max(), lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                return row[ids[t]] - lse;
            }).ToArray();
        }).ToArray();
        return (path, expected);
    }

    [Fact]
    public void Scores_each_line_against_an_independent_computation()
    {
        using var dir = new TempDirectory();
        int[][] sequences = { new[] { 5, 9, 2, 44, 7 }, new[] { 3 }, new[] { 60, 0, 13 } };
        var (model, expected) = OneLayerModel(dir, sequences);
        string input = Path.Combine(dir.Path, "in.jsonl"), output = Path.Combine(dir.Path, "out.jsonl");
        File.WriteAllLines(input, sequences.Select(s => $"{{\"ids\": [{string.Join(", ", s)}]}}"));

        var result = GspoProcess.Run("score", "--model", model, "--input", input, "--output", output);
        Assert.True(result.ExitCode == 0, result.Stderr);
        var lines = File.ReadAllLines(output);
        Assert.Equal(3, lines.Length);
        for (int i = 0; i < 3; i++)
        {
            var values = JsonNode.Parse(lines[i])!["logprobs"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            Assert.Equal(expected[i].Length, values.Length);
            for (int t = 0; t < values.Length; t++)
                Assert.True(Math.Abs(values[t] - expected[i][t]) < 1e-4, $"line {i}, t {t + 1}: {values[t]} vs {expected[i][t]}");
        }
    }

    [Theory]
    [InlineData("{\"ids\": [1, 2]}\n{\"ids\": [1, 61]}", "in.jsonl:2: token id 61 is outside the vocabulary [0, 61)")]
    [InlineData("{\"ids\": [1, 2]}\n{\"ids\": [1, \"a\"]}", "in.jsonl:2: ids[1] is not an integer token id")]
    [InlineData("{\"ids\": [1, 2]}\nnot json", "in.jsonl:2: invalid JSON")]
    [InlineData("{\"tokens\": [1, 2]}", "in.jsonl:1: field \"ids\" must be an array")]
    [InlineData("{\"ids\": []}", "in.jsonl:1: \"ids\" is empty")]
    public void Bad_lines_fail_naming_the_line_and_write_nothing(string content, string message)
    {
        using var dir = new TempDirectory();
        var (model, _) = OneLayerModel(dir, new[] { new[] { 1, 2 } });
        string input = Path.Combine(dir.Path, "in.jsonl"), output = Path.Combine(dir.Path, "out.jsonl");
        File.WriteAllText(input, content);
        var result = GspoProcess.Run("score", "-m", model, "-i", input, "-o", output);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Stderr);
        Assert.False(File.Exists(output));
        Assert.Equal(new[] { "in.jsonl", "model" }, Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void A_directory_that_is_not_a_model_is_reported()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "in.jsonl"), "{\"ids\": [1]}");
        var result = GspoProcess.Run("score", "-m", dir.Path, "-i", Path.Combine(dir.Path, "in.jsonl"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("config.json: file not found", result.Stderr);
    }
}
