using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>GSPO runs that train LoRA adapters on a frozen base: end to end, PEFT outputs, exact resume.</summary>
public class LoraRunTests
{
    /// <summary>A tiny model warmed up with SFT (so that rewards, and gradients, are not all zero), made once.</summary>
    static readonly Lazy<string> WarmModel = new(() =>
    {
        string run = Path.Combine(Path.GetTempPath(), "gspo-tests-lora-warm-" + Guid.NewGuid().ToString("N"));
        TrainingRun.Execute(new TrainConfig
        {
            Task = "arithmetic", InitSize = "tiny", SftSteps = 8, SftBatchSize = 8, PromptsPerStep = 2, NumGenerations = 2,
            MaxCompletionLength = 16, MaxSteps = 1, EvalPrompts = 1, EvalNumSamples = 1, Seed = 9, Report = false,
        }, run, new QuietProgress());
        AppDomain.CurrentDomain.ProcessExit += (_, _) => { try { Directory.Delete(run, recursive: true); } catch (IOException) { } };
        return Path.Combine(run, "sft-model");
    });

    static TrainConfig Quick() => new()
    {
        Task = "arithmetic", Model = WarmModel.Value, InitSize = "tiny", PromptsPerStep = 2, NumGenerations = 4,
        StepsPerGeneration = 2, MaxCompletionLength = 16, LearningRate = 1e-2, MaxSteps = 4, SaveSteps = 2, EvalPrompts = 4,
        EvalNumSamples = 2, Seed = 9, Beta = 0.04, UsePeft = true, LoraR = 4, LoraAlpha = 8, LoraDropout = 0.1,
        LoraTargetModules = new[] { LoraSettings.AllLinear },
    };

    static Dictionary<string, float[]> AdapterTensors(string directory)
    {
        using var reader = SafetensorsReader.Open(Path.Combine(directory, PeftAdapter.WeightsFileName));
        return reader.Entries.ToDictionary(e => e.Name, e => reader.ReadTensor(e.Name).data<float>().ToArray());
    }

    [Fact]
    public void A_lora_run_trains_only_the_adapter_and_writes_peft_files_with_a_kl_reference_to_the_base()
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var summary = TrainingRun.Execute(Quick(), run, new QuietProgress());
        Assert.Null(summary.Stopped);
        var metrics = RunComparison.Metrics(run).Where(m => m.ContainsKey("kl")).ToList();
        Assert.NotEmpty(metrics);
        Assert.All(metrics, m => Assert.True(double.IsFinite((double)m["kl"]!)));
        Assert.True(metrics.Skip(1).Any(m => (double)m["kl"]! > 0), string.Join(" ", RunComparison.Metrics(run).Select(m => m.ToJsonString())));   // the adapted policy moves away from its base

        string final = Path.Combine(run, "final-model");
        Assert.True(File.Exists(Path.Combine(final, "adapter_config.json")));
        Assert.False(File.Exists(Path.Combine(final, "model.safetensors")));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(final, "adapter_config.json")))!;
        Assert.Equal(Path.GetFullPath(WarmModel.Value), (string?)config["base_model_name_or_path"]);
        Assert.Equal(new[] { "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj" },
            config["target_modules"]!.AsArray().Select(n => (string)n!).ToArray());
        var tensors = AdapterTensors(final);
        Assert.Contains(tensors, t => t.Key.EndsWith("lora_B.weight") && t.Value.Any(v => v != 0));
        Assert.True(Directory.Exists(Path.Combine(run, "checkpoints", "checkpoint-000004", "adapter")));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoints", "checkpoint-000004", "model")));

        // The base is frozen: the adapter on the untouched initial model is the whole trained policy.
        using var policy = LanguageModel.Load(WarmModel.Value, chatTemplate: false);
        var settings = PeftAdapter.Load(policy.Model, final);
        Assert.Equal(2.0, settings.Scaling);
    }

    [Fact]
    public void A_lora_run_stopped_and_resumed_produces_the_same_steps_and_adapter_as_an_uninterrupted_run()
    {
        using var dir = new TempDirectory();
        var config = Quick();
        string straight = Path.Combine(dir.Path, "straight"), stopped = Path.Combine(dir.Path, "stopped");
        TrainingRun.Execute(config, straight, new QuietProgress());

        var progress = new QuietProgress(stopAfterStep: 2);
        var first = TrainingRun.Execute(config, stopped, progress, progress.StopRequested);
        Assert.Equal("interrupted", first.Stopped);
        var resumed = TrainingRun.Resume(stopped, new QuietProgress());
        Assert.Null(resumed.Stopped);

        RunComparison.AssertSameMetrics(straight, stopped);
        var x = AdapterTensors(Path.Combine(straight, "final-model"));
        var y = AdapterTensors(Path.Combine(stopped, "final-model"));
        Assert.Equal(x.Keys.Order(), y.Keys.Order());
        foreach (var (name, values) in x) Assert.Equal(values, y[name]);
    }

    [Fact]
    public void Gradient_checkpointing_changes_no_update()
    {
        using var dir = new TempDirectory();
        string plain = Path.Combine(dir.Path, "plain"), recomputed = Path.Combine(dir.Path, "recomputed");
        TrainingRun.Execute(Quick(), plain, new QuietProgress());
        TrainingRun.Execute(Quick() with { GradientCheckpointing = true }, recomputed, new QuietProgress());
        var x = AdapterTensors(Path.Combine(plain, "final-model"));
        var y = AdapterTensors(Path.Combine(recomputed, "final-model"));
        Assert.Contains(x, t => t.Key.EndsWith("lora_B.weight") && t.Value.Any(v => v != 0));
        foreach (var (name, values) in x)
            for (int i = 0; i < values.Length; i++)
                Assert.True(Math.Abs(values[i] - y[name][i]) <= 1e-6, $"{name}[{i}]: {values[i]} vs {y[name][i]}");
    }

    [Theory]
    [InlineData(GspoSharp.Objectives.ImportanceSamplingLevel.SequenceToken)]
    [InlineData(GspoSharp.Objectives.ImportanceSamplingLevel.Token)]
    public void A_lora_run_on_moe_keeps_routing_replay_volatility_and_the_objectives(GspoSharp.Objectives.ImportanceSamplingLevel level)
    {
        using var dir = new TempDirectory();
        string run = Path.Combine(dir.Path, "run");
        var config = Quick() with { Model = null, InitArch = "qwen3_moe", MaxSteps = 2, RoutingReplay = true, ImportanceSamplingLevel = level };
        var summary = TrainingRun.Execute(config, run, new QuietProgress());
        Assert.Null(summary.Stopped);
        var step = RunComparison.Metrics(run).First(m => m.ContainsKey("routing/volatility"));
        Assert.True(double.IsFinite((double)step["kl"]!));
        Assert.InRange((double)step["routing/volatility"]!, 0, 1);
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "final-model", "adapter_config.json")))!;
        Assert.Contains("gate", written["target_modules"]!.AsArray().Select(n => (string)n!));   // all-linear adapts the router, as PEFT
        Assert.Contains(AdapterTensors(Path.Combine(run, "final-model")).Keys, k => k.Contains(".mlp.experts.0.down_proj.lora_A.weight"));
    }

    [Fact]
    public void A_run_can_start_from_an_existing_adapter()
    {
        using var dir = new TempDirectory();
        string first = Path.Combine(dir.Path, "first");
        TrainingRun.Execute(Quick() with { MaxSteps = 2 }, first, new QuietProgress());
        string second = Path.Combine(dir.Path, "second");
        var config = Quick() with
        {
            MaxSteps = 1, Adapter = Path.Combine(first, "final-model"),
            LoraR = 16, LoraTargetModules = new[] { "q_proj" },   // the adapter's own settings win
        };
        TrainingRun.Execute(config, second, new QuietProgress());
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(second, "final-model", "adapter_config.json")))!;
        Assert.Equal(4, (int)written["r"]!);
        Assert.Equal(AdapterTensors(Path.Combine(first, "final-model")).Keys.Order(), AdapterTensors(Path.Combine(second, "final-model")).Keys.Order());
    }

    [Fact]
    public void A_lora_run_with_a_warm_start_and_a_bfloat16_base_trains_on_the_sft_model_and_resumes_exactly()
    {
        using var dir = new TempDirectory();
        var config = Quick() with { Model = null, SftSteps = 8, SftBatchSize = 8, BaseDtype = "bfloat16" };
        string straight = Path.Combine(dir.Path, "straight"), stopped = Path.Combine(dir.Path, "stopped");
        Assert.Null(TrainingRun.Execute(config, straight, new QuietProgress()).Stopped);

        // The warm start trained every weight in float32 and saved them; the adapter's base is that model.
        string sft = Path.Combine(straight, "sft-model");
        Assert.Equal(ScalarType.Float32, ModelDirectory.StorageDtype(sft));
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(straight, "final-model", "adapter_config.json")))!;
        Assert.Equal(Path.GetFullPath(sft), (string?)written["base_model_name_or_path"]);
        Assert.Contains(AdapterTensors(Path.Combine(straight, "final-model")), t => t.Key.EndsWith("lora_B.weight") && t.Value.Any(v => v != 0));

        var progress = new QuietProgress(stopAfterStep: 2);
        Assert.Equal("interrupted", TrainingRun.Execute(config, stopped, progress, progress.StopRequested).Stopped);
        Assert.Null(TrainingRun.Resume(stopped, new QuietProgress()).Stopped);
        var x = AdapterTensors(Path.Combine(straight, "final-model"));
        var y = AdapterTensors(Path.Combine(stopped, "final-model"));
        Assert.Equal(x.Keys.Order(), y.Keys.Order());
        foreach (var (name, values) in x) Assert.Equal(values, y[name]);
    }

    [Theory]
    [InlineData("adapter", "adapter: starts from a LoRA adapter; set use_peft: true.")]
    [InlineData("half base", "base_dtype: is bfloat16, which keeps a frozen base in half precision; it needs use_peft: true")]
    [InlineData("base dtype", "base_dtype: is 'int8'; must be float32, bfloat16 or float16.")]
    [InlineData("rank", "lora_r: is 0")]
    public void Bad_lora_options_are_refused_naming_the_key(string what, string message)
    {
        var config = what switch
        {
            "adapter" => Quick() with { UsePeft = false, Adapter = "somewhere" },
            "half base" => Quick() with { UsePeft = false, Beta = 0, BaseDtype = "bfloat16" },
            "base dtype" => Quick() with { BaseDtype = "int8" },
            _ => Quick() with { LoraR = 0 },
        };
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => config.Validate()).Message);
    }
}
