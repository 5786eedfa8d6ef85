using System.Globalization;
using System.Text.Json;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;

namespace GspoSharp.Training;

/// <summary>What a checkpoint records besides the weights and the optimizer (trainer_state.json).</summary>
/// <param name="Step">RL steps completed.</param>
/// <param name="OptimizerSteps">Optimizer steps taken (the learning-rate schedule's position).</param>
/// <param name="Seed">The run's seed. Every random draw of step n — data order, sampling, mini-batch
/// shuffles — derives from (seed, n), so no generator state needs carrying over.</param>
/// <param name="PromptsConsumed">Training rows used so far (the data position: row n of step s is
/// s·prompts_per_step + n, through the seeded epoch permutation for files).</param>
/// <param name="AccuracyBefore">Held-out accuracy before RL.</param>
/// <param name="StartModel">The model RL started from, relative to the run directory (reference policy, companion files).</param>
/// <param name="ConsecutiveBadSteps">Steps in a row whose updates were all skipped for NaN/∞.</param>
/// <param name="WallSeconds">Wall-clock seconds the run has taken so far, over all its invocations.</param>
public sealed record TrainerState(int Step, int OptimizerSteps, long Seed, long PromptsConsumed, double? AccuracyBefore,
    string StartModel, int ConsecutiveBadSteps, double WallSeconds = 0);

/// <summary>
/// The checkpoints of a run, in <c>RUN/checkpoints/checkpoint-NNNNNN/</c>: the policy in Hugging Face
/// format (<c>model/</c>), the optimizer state (<c>optimizer.bin</c>), <c>trainer_state.json</c> and the
/// resolved <c>config.yaml</c>. A checkpoint is written into a hidden staging directory and renamed
/// into place, so a checkpoint directory is always complete: a writer killed part-way leaves only a
/// staging directory, which is ignored (and removed by the next save). Only the newest
/// <c>save_total_limit</c> checkpoints are kept.
/// </summary>
public sealed class Checkpoints(string runDirectory)
{
    const string Prefix = "checkpoint-";

    /// <summary>The adapter's directory inside a LoRA run's checkpoint.</summary>
    public const string AdapterDirectory = "adapter";

    /// <summary>RUN/checkpoints.</summary>
    public string Directory { get; } = Path.Combine(runDirectory, "checkpoints");

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<(int Step, string Path)> List() => !System.IO.Directory.Exists(Directory)
        ? Array.Empty<(int, string)>()
        : System.IO.Directory.GetDirectories(Directory, Prefix + "*")
            .Select(d => (Name: System.IO.Path.GetFileName(d), Path: d))
            .Where(d => int.TryParse(d.Name[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(d => (int.Parse(d.Name[Prefix.Length..], CultureInfo.InvariantCulture), d.Path))
            .OrderBy(c => c.Item1).ToList();

    /// <summary>The newest complete checkpoint, or null.</summary>
    public (int Step, string Path)? Latest => List() is { Count: > 0 } all ? all[^1] : null;

    /// <summary>Saves a checkpoint of <paramref name="trainer"/> and <paramref name="policy"/> at <paramref name="state"/>.Step,
    /// then removes all but the newest <paramref name="keep"/>.</summary>
    public string Save(GspoTrainer trainer, Policy policy, TrainerState state, TrainConfig config, string companionsFrom, int keep,
        LoraSettings? lora = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        foreach (var stale in System.IO.Directory.GetDirectories(Directory, ".*")) System.IO.Directory.Delete(stale, recursive: true);
        string name = $"{Prefix}{state.Step:D6}";
        string target = System.IO.Path.Combine(Directory, name);
        string staging = System.IO.Path.Combine(Directory, $".{name}.partial-{Guid.NewGuid():N}");
        try
        {
            System.IO.Directory.CreateDirectory(staging);
            if (lora is null) ModelDirectory.Save(policy.Model, System.IO.Path.Combine(staging, "model"), companionsFrom);
            else SaveAdapter(policy, lora, System.IO.Path.Combine(staging, AdapterDirectory), companionsFrom);
            trainer.SaveOptimizer(System.IO.Path.Combine(staging, "optimizer.bin"));
            File.WriteAllText(System.IO.Path.Combine(staging, "config.yaml"), ConfigFile.ToYaml(config));
            File.WriteAllText(System.IO.Path.Combine(staging, "trainer_state.json"), JsonSerializer.Serialize(state, JsonOptions) + "\n");
            BeforePublish?.Invoke(staging);
            if (System.IO.Directory.Exists(target)) System.IO.Directory.Delete(target, recursive: true);
            System.IO.Directory.Move(staging, target);
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
        foreach (var (_, path) in List().SkipLast(Math.Max(1, keep))) System.IO.Directory.Delete(path, recursive: true);
        return target;
    }

    /// <summary>Writes the policy's adapter to <paramref name="directory"/> (replacing what is there) in PEFT format,
    /// with the tokenizer files of <paramref name="baseModel"/>, which it names as base_model_name_or_path.</summary>
    public static void SaveAdapter(Policy policy, LoraSettings lora, string directory, string baseModel)
    {
        if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
        PeftAdapter.Save(policy.Model, lora, directory, System.IO.Path.GetFullPath(baseModel));
        foreach (var file in ModelDirectory.CompanionFiles.Where(f => f != ModelDirectory.GenerationConfigFileName))
            if (File.Exists(System.IO.Path.Combine(baseModel, file)))
                File.Copy(System.IO.Path.Combine(baseModel, file), System.IO.Path.Combine(directory, file));
    }

    /// <summary>Reads a checkpoint's trainer_state.json.</summary>
    public static TrainerState ReadState(string checkpoint)
    {
        string path = System.IO.Path.Combine(checkpoint, "trainer_state.json");
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), JsonOptions)
                   ?? throw new InvalidDataException($"{path}: empty.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}");
        }
    }

    /// <summary>Called with the staging directory just before it is renamed into place (tests interrupt the writer here).</summary>
    internal Action<string>? BeforePublish { get; init; }

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
