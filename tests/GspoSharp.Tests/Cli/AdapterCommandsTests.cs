using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Tests.Models.Adapters;
using GspoSharp.Tests.Models.Architecture;

namespace GspoSharp.Tests.Cli;

/// <summary><c>gspo merge</c> and <c>--adapter</c> on the model commands.</summary>
public class AdapterCommandsTests
{
    static readonly LoraSettings Settings = new(4, 16, 0.05, new[] { "q_proj", "o_proj", "up_proj" }, false);

    /// <summary>A base saved as <paramref name="storage"/> and a random adapter for it.</summary>
    static (string Base, string Adapter) BaseAndAdapter(TempDirectory dir, ScalarType storage)
    {
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));
        string model = Path.Combine(dir.Path, "base"), adapter = Path.Combine(dir.Path, "adapter");
        ModelDirectory.Save(lm, model, storageDtype: storage);
        using var loaded = ModelDirectory.Load(model);
        Lora.Attach(loaded, Settings, seed: 4);
        LoraTests.Randomize(loaded, 0.1);
        PeftAdapter.Save(loaded, Settings, adapter, model);
        return (model, adapter);
    }

    static float[] Read(string directory, string name)
    {
        using var checkpoint = HfSafetensorsCheckpoint.Open(directory);
        return checkpoint.ReadTensor(name).data<float>().ToArray();
    }

    [Fact]
    public void Merge_writes_w_plus_s_b_a_in_the_base_dtype_and_leaves_other_tensors_alone()
    {
        using var dir = new TempDirectory();
        var (model, adapter) = BaseAndAdapter(dir, ScalarType.BFloat16);
        string merged = Path.Combine(dir.Path, "merged");
        var result = GspoProcess.Run("merge", "--model", model, "--adapter", adapter, "--out", merged);
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal("bfloat16", (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(merged, "config.json")))!["torch_dtype"]);
        using (var reader = SafetensorsReader.Open(Path.Combine(merged, "model.safetensors")))
            Assert.All(reader.Entries, e => Assert.Equal(ScalarType.BFloat16, e.Dtype));

        // W' = bf16(W + s·B·A), by hand in float64 from the files.
        const string module = "model.layers.1.self_attn.o_proj";
        var w = Read(model, module + ".weight");
        using var adapterFile = SafetensorsReader.Open(Path.Combine(adapter, "adapter_model.safetensors"));
        var a = adapterFile.ReadTensor($"base_model.model.{module}.lora_A.weight").data<float>().ToArray();
        var b = adapterFile.ReadTensor($"base_model.model.{module}.lora_B.weight").data<float>().ToArray();
        int rows = 64, cols = 64, r = 4;
        double s = 16.0 / 4;
        var expected = new double[rows * cols];
        for (int o = 0; o < rows; o++)
            for (int i = 0; i < cols; i++)
            {
                double sum = 0;
                for (int k = 0; k < r; k++) sum += (double)b[o * r + k] * a[k * cols + i];
                expected[o * cols + i] = w[o * cols + i] + s * sum;
            }
        var expectedBf16 = tensor(expected).to_type(ScalarType.BFloat16).to_type(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(expectedBf16, Read(merged, module + ".weight"));
        Assert.Equal(Read(model, "model.layers.0.self_attn.k_proj.weight"), Read(merged, "model.layers.0.self_attn.k_proj.weight"));
        Assert.Equal(Read(model, "model.embed_tokens.weight"), Read(merged, "model.embed_tokens.weight"));
    }

    [Fact]
    public void Scoring_with_the_adapter_equals_scoring_the_merged_model()
    {
        using var dir = new TempDirectory();
        var (model, adapter) = BaseAndAdapter(dir, ScalarType.Float32);
        string merged = Path.Combine(dir.Path, "merged"), input = Path.Combine(dir.Path, "in.jsonl");
        File.WriteAllText(input, "{\"ids\": [5, 9, 2, 44, 7, 30]}\n");
        Assert.Equal(0, GspoProcess.Run("merge", "--model", model, "--adapter", adapter, "--out", merged).ExitCode);
        double[] Score(params string[] args)
        {
            string output = Path.Combine(dir.Path, Guid.NewGuid().ToString("N") + ".jsonl");
            var result = GspoProcess.Run(new[] { "score", "--input", input, "--output", output }.Concat(args).ToArray());
            Assert.True(result.ExitCode == 0, result.Stderr);
            return JsonNode.Parse(File.ReadAllLines(output)[0])!["logprobs"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
        }
        var withAdapter = Score("--model", model, "--adapter", adapter);
        var ofMerged = Score("--model", merged);
        var ofBase = Score("--model", model);
        for (int t = 0; t < withAdapter.Length; t++) Assert.True(Math.Abs(withAdapter[t] - ofMerged[t]) < 1e-4, $"t {t}: {withAdapter[t]} vs {ofMerged[t]}");
        Assert.True(withAdapter.Zip(ofBase).Any(p => Math.Abs(p.First - p.Second) > 1e-3), "the adapter must matter");
    }

    [Fact]
    public void A_dora_adapter_is_refused_with_the_file_and_key_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        var (model, adapter) = BaseAndAdapter(dir, ScalarType.Float32);
        string config = Path.Combine(adapter, "adapter_config.json");
        var json = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        json["use_dora"] = true;
        File.WriteAllText(config, json.ToJsonString());
        string merged = Path.Combine(dir.Path, "merged");
        var result = GspoProcess.Run("merge", "--model", model, "--adapter", adapter, "--out", merged);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("adapter_config.json: use_dora: is true", result.Stderr);
        Assert.DoesNotContain("   at ", result.Stderr);
        Assert.False(Directory.Exists(merged));
    }
}
