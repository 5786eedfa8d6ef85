using System.Buffers.Binary;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Tests.Models.Architecture;
using GspoSharp.Training;
using static GspoSharp.Tests.Models.Checkpoints.HandMade;

namespace GspoSharp.Tests.Training;

/// <summary>save_dtype: the dtype of the model files a run writes, the float32 master weights beside them, exact resume.</summary>
public class SaveDtypeTests
{
    static TrainConfig Quick() => new()
    {
        Task = "arithmetic", InitSize = "tiny", SftSteps = 2, SftBatchSize = 4, PromptsPerStep = 2, NumGenerations = 4,
        StepsPerGeneration = 2, MaxCompletionLength = 16, LearningRate = 1e-3, MaxSteps = 4, SaveSteps = 2, EvalPrompts = 4,
        EvalNumSamples = 2, Seed = 9, Report = false,
    };

    /// <summary>A tiny Qwen3 model stored in bfloat16, as published checkpoints are.</summary>
    static string Bf16Base(string directory)
    {
        TinyModels.Create(directory, ModelType.Qwen3, ModelSize.Tiny, seed: 4);
        using var lm = ModelDirectory.Load(directory);
        ModelDirectory.Save(lm, directory, companionsFrom: directory, storageDtype: ScalarType.BFloat16, overwrite: true);
        return directory;
    }

    /// <summary>The safetensors dtypes of a model directory's tensors, and its config.json torch_dtype.</summary>
    static (string Stored, string TorchDtype) Saved(string directory)
    {
        using var checkpoint = HfSafetensorsCheckpoint.Open(directory);
        var stored = string.Join(",", checkpoint.Entries.Select(e => e.DtypeName).Distinct().Order());
        return (stored, JsonNode.Parse(File.ReadAllText(Path.Combine(directory, "config.json")))!["torch_dtype"]!.GetValue<string>());
    }

    static IEnumerable<string> ModelDirectories(string run) =>
        new Checkpoints(run).List().Select(c => Path.Combine(c.Path, "model")).Append(Path.Combine(run, "final-model")).Append(Path.Combine(run, "sft-model"));

    [Fact]
    public void Auto_on_a_bfloat16_base_saves_every_model_in_bfloat16_beside_float32_master_weights()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var progress = new QuietProgress();
        TrainingRun.Execute(Quick() with { Model = Bf16Base(Path.Combine(dir.Path, "base")) }, run, progress);
        Assert.Contains(progress.Stages, s => s.Contains("models are saved in bfloat16"));

        foreach (string model in ModelDirectories(run))
            Assert.Equal(("BF16", "bfloat16"), Saved(model));
        var checkpoints = new Checkpoints(run).List();
        Assert.Equal(new[] { 2, 4 }, checkpoints.Select(c => c.Step));
        foreach (var (_, checkpoint) in checkpoints)
        {
            // model/ holds the float32 master weights rounded to nearest even, bit for bit (rounded here by hand).
            var master = Parse(Path.Combine(checkpoint, MasterWeights.FileName));
            var export = Parse(Path.Combine(checkpoint, "model", HfSafetensorsCheckpoint.SingleFileName));
            Assert.Equal(export.TensorNames.Order(), master.TensorNames.Order());
            foreach (string name in master.TensorNames)
            {
                Assert.Equal("F32", master.Dtype(name));
                var data = master.DataOf(name);
                var rounded = new ushort[data.Length / 4];
                for (int i = 0; i < rounded.Length; i++) rounded[i] = RoundToBf16(BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(4 * i)));
                Assert.True(U16Bits(rounded).AsSpan().SequenceEqual(export.DataOf(name)), $"{checkpoint}: {name}");
            }
        }
        // The final model is the last checkpoint's, in the same bytes.
        Assert.Equal(File.ReadAllBytes(Path.Combine(checkpoints[^1].Path, "model", HfSafetensorsCheckpoint.SingleFileName)),
            File.ReadAllBytes(Path.Combine(run, "final-model", HfSafetensorsCheckpoint.SingleFileName)));
    }

    [Fact]
    public void A_float32_override_saves_float32_and_needs_no_master_weights()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        TrainingRun.Execute(Quick() with { Model = Bf16Base(Path.Combine(dir.Path, "base")), SaveDtype = SaveDtype.Float32 }, run, new QuietProgress());
        foreach (string model in ModelDirectories(run))
            Assert.Equal(("F32", "float32"), Saved(model));
        Assert.All(new Checkpoints(run).List(), c => Assert.False(File.Exists(Path.Combine(c.Path, MasterWeights.FileName))));
    }

    [Fact]
    public void Created_tiny_models_stay_float32()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        TrainingRun.Execute(Quick() with { MaxSteps = 2 }, run, new QuietProgress());
        foreach (string model in ModelDirectories(run).Append(Path.Combine(run, "initial-model")))
            Assert.Equal(("F32", "float32"), Saved(model));
        Assert.All(new Checkpoints(run).List(), c => Assert.False(File.Exists(Path.Combine(c.Path, MasterWeights.FileName))));
    }

    [Fact]
    public void A_run_resumed_from_bfloat16_checkpoints_is_bit_identical_to_an_uninterrupted_one()
    {
        using var dir = new TempDirectory();
        var config = Quick() with { SaveDtype = SaveDtype.BFloat16, MaxSteps = 6, SaveSteps = 3 };
        string straight = Path.Combine(dir.Path, "straight"), stopped = Path.Combine(dir.Path, "stopped");
        TrainingRun.Execute(config, straight, new QuietProgress());
        var progress = new QuietProgress(stopAfterStep: 2);
        Assert.Equal("interrupted", TrainingRun.Execute(config, stopped, progress, progress.StopRequested).Stopped);
        Assert.Equal(("BF16", "bfloat16"), Saved(Path.Combine(stopped, "checkpoints", "checkpoint-000002", "model")));
        Assert.Null(TrainingRun.Resume(stopped, new QuietProgress()).Stopped);

        static List<JsonObject> Metrics(string run) =>
            File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        var a = Metrics(straight);
        var b = Metrics(stopped);
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
            foreach (var (key, value) in a[i].Where(p => !p.Key.StartsWith("time/") && !p.Key.StartsWith("tokens_per_second/") && !p.Key.StartsWith("memory/")))
                Assert.True(JsonNode.DeepEquals(value, b[i][key]), $"line {i + 1}, {key}: {value} uninterrupted, {b[i][key]} resumed");
        // The float32 weights at the end, not only their bfloat16 export, are the same bits.
        foreach (string file in new[] { Path.Combine("checkpoints", "checkpoint-000006", MasterWeights.FileName), Path.Combine("final-model", "model.safetensors") })
            Assert.True(File.ReadAllBytes(Path.Combine(straight, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(stopped, file))), file);
    }

    [Fact]
    public void Rl_starts_from_the_saved_sft_model_so_the_reference_equals_the_policy_at_step_one()
    {
        // One mini-batch: KL to the reference is measured before the only update. The reference is
        // loaded from sft-model (bfloat16); the policy continues in memory, rounded to what was saved.
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        TrainingRun.Execute(Quick() with { SaveDtype = SaveDtype.BFloat16, Beta = 0.04, StepsPerGeneration = 1, MaxSteps = 1 }, run, new QuietProgress());
        var first = JsonNode.Parse(File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))[0])!;
        Assert.Equal(0.0, first["kl"]!.GetValue<double>());
    }

    [Fact]
    public void A_narrow_checkpoint_without_master_weights_is_not_resumed()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var progress = new QuietProgress(stopAfterStep: 2);
        TrainingRun.Execute(Quick() with { SaveDtype = SaveDtype.BFloat16 }, run, progress, progress.StopRequested);
        string checkpoint = new Checkpoints(run).Latest!.Value.Path;
        File.Delete(Path.Combine(checkpoint, MasterWeights.FileName));
        var error = Assert.Throws<ModelFormatException>(() => TrainingRun.Resume(run, new QuietProgress()));
        Assert.Contains($"{checkpoint}: model/ is stored in bfloat16 and master_weights.safetensors is missing", error.Message);
    }

    [Fact]
    public void Master_weights_that_do_not_fit_the_model_are_refused_by_name()
    {
        using var dir = new TempDirectory();
        using var lm = ModelTestKit.RandomModel(ModelTestKit.Config(ModelType.Qwen3));
        using var scope = NewDisposeScope();
        var tensors = lm.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach().clone());
        string Write(string name, Action<Dictionary<string, Tensor>> edit, ScalarType dtype = ScalarType.Float32)
        {
            var copy = new Dictionary<string, Tensor>(tensors);
            edit(copy);
            string path = Path.Combine(dir.Path, name);
            SafetensorsWriter.Write(path, copy, dtype);
            return path;
        }
        string Error(string path) => Assert.Throws<ModelFormatException>(() => MasterWeights.Restore(lm, path)).Message;

        string missing = Write("missing.safetensors", t => t.Remove("model.norm.weight"));
        Assert.Equal($"{missing}: no tensor 'model.norm.weight'; the file does not hold this model's weights.", Error(missing));
        string extra = Write("extra.safetensors", t => t["lm_head.bias"] = zeros(3));
        Assert.Equal($"{extra}: tensor 'lm_head.bias' is not a parameter of the model.", Error(extra));
        string narrow = Write("narrow.safetensors", _ => { }, ScalarType.BFloat16);
        Assert.Contains("is stored as BF16, not F32; master weights are float32.", Error(narrow));
        string shape = Write("shape.safetensors", t => t["model.norm.weight"] = zeros(3));
        Assert.Contains("tensor 'model.norm.weight' has shape [3] but the model's is [", Error(shape));

        // Nothing was changed by the refused files; a fitting one is loaded exactly.
        var before = ModelTestKit.Parameters(lm).ToDictionary(p => p.Key, p => p.Value.clone());
        string fits = Write("fits.safetensors", t => t["model.norm.weight"] = full(t["model.norm.weight"].shape, 0.375f));
        MasterWeights.Restore(lm, fits);
        foreach (var (name, p) in lm.named_parameters())
            Assert.True((name == "model.norm.weight" ? full(p.shape, 0.375f) : before[name]).eq(p).all().item<bool>(), name);
    }

    [Fact]
    public void Save_dtype_parses_prints_and_refuses_other_names_with_file_and_line()
    {
        using var dir = new TempDirectory();
        string path = Path.Combine(dir.Path, "run.yaml");
        File.WriteAllText(path, "max_steps: 3\nsave_dtype: bfloat16\n");
        var config = ConfigFile.Load(new TrainConfig(), path, Array.Empty<string>());
        Assert.Equal(SaveDtype.BFloat16, config.SaveDtype);
        Assert.Contains("save_dtype: bfloat16", ConfigFile.ToYaml(config).Split('\n'));
        Assert.Equal(SaveDtype.Auto, new TrainConfig().SaveDtype);
        foreach (var (text, value) in new[] { ("auto", SaveDtype.Auto), ("float32", SaveDtype.Float32), ("float16", SaveDtype.Float16) })
            Assert.Equal(value, ConfigFile.Load(new TrainConfig(), null, new[] { $"save_dtype={text}" }).SaveDtype);

        File.WriteAllText(path, "max_steps: 3\nsave_dtype: bf16\n");
        Assert.Equal($"{path}:2: save_dtype: is 'bf16'; must be auto, float32, bfloat16 or float16.",
            Assert.Throws<ArgumentException>(() => ConfigFile.Load(new TrainConfig(), path, Array.Empty<string>())).Message);
        Assert.Equal("--set save_dtype=fp8: save_dtype: is 'fp8'; must be auto, float32, bfloat16 or float16.",
            Assert.Throws<ArgumentException>(() => ConfigFile.Load(new TrainConfig(), null, new[] { "save_dtype=fp8" })).Message);
        Assert.Equal("save_dtype: is 7; must be auto, float32, bfloat16 or float16.",
            Assert.Throws<ArgumentException>(() => (new TrainConfig() with { SaveDtype = (SaveDtype)7 }).Validate()).Message);
    }
}
