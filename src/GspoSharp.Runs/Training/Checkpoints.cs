using System.Globalization;
using System.Text.Json;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using static TorchSharp.torch;
using GspoSharp.Models.TestHooks;

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
/// <param name="ClipScale">The adaptive clip range's factor for the next step (epsilon_target_clip_fraction); 1 otherwise.</param>
public sealed record TrainerState(int Step, int OptimizerSteps, long Seed, long PromptsConsumed, double? AccuracyBefore,
    string StartModel, int ConsecutiveBadSteps, double WallSeconds = 0, double ClipScale = 1);

/// <summary>
/// The checkpoints of a run, in <c>RUN/checkpoints/checkpoint-NNNNNN/</c>: the policy in Hugging Face
/// format (<c>model/</c>, in the run's save dtype), its float32 weights when that dtype is narrower
/// (<c>master_weights.safetensors</c>), the optimizer state (<c>optimizer.bin</c>),
/// <c>trainer_state.json</c> and the resolved <c>config.yaml</c>. A checkpoint is written into a
/// hidden staging directory and renamed into place, so a checkpoint directory is always complete: a
/// writer killed part-way leaves only a staging directory, which is ignored (and removed by the next
/// save or resume). Only the newest <c>save_total_limit</c> checkpoints are kept; older ones are
/// renamed aside before they are deleted.
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
    /// with the model stored as <paramref name="storageDtype"/> (in a LoRA run, only the adapter, in PEFT format),
    /// then removes all but the newest <paramref name="keep"/>.</summary>
    public string Save(GspoTrainer trainer, LanguageModel policy, TrainerState state, TrainConfig config, string companionsFrom, int keep,
        ScalarType storageDtype, LoraSettings? lora = null)
    {
        System.IO.Directory.CreateDirectory(Directory);
        RemoveStaging();
        string name = $"{Prefix}{state.Step:D6}";
        string target = System.IO.Path.Combine(Directory, name);
        string staging = System.IO.Path.Combine(Directory, $".{name}.partial-{Guid.NewGuid():N}");
        try
        {
            System.IO.Directory.CreateDirectory(staging);
            if (lora is not null) SaveAdapter(policy, lora, System.IO.Path.Combine(staging, AdapterDirectory), companionsFrom);
            else
            {
                ModelDirectory.Save(policy.Model, System.IO.Path.Combine(staging, "model"), companionsFrom, storageDtype);
                if (storageDtype != ScalarType.Float32) MasterWeights.Save(policy.Model, System.IO.Path.Combine(staging, MasterWeights.FileName));
            }
            CrashPoints.Hit(CrashPoints.CheckpointWrite, target);   // test only
            trainer.SaveOptimizer(System.IO.Path.Combine(staging, "optimizer.bin"));
            File.WriteAllText(System.IO.Path.Combine(staging, "config.yaml"), ConfigFile.ToYaml(config));
            File.WriteAllText(System.IO.Path.Combine(staging, "trainer_state.json"), JsonSerializer.Serialize(state, JsonOptions) + "\n");
            BeforePublish?.Invoke(staging);
            CrashPoints.Hit(CrashPoints.CheckpointRename, target);   // test only
            if (System.IO.Directory.Exists(target)) Retire(target);
            System.IO.Directory.Move(staging, target);
        }
        finally
        {
            if (System.IO.Directory.Exists(staging)) System.IO.Directory.Delete(staging, recursive: true);
        }
        foreach (var (_, path) in List().SkipLast(Math.Max(1, keep))) Retire(path);
        return target;
    }

    /// <summary>Writes the policy's adapter to <paramref name="directory"/> (replacing what is there) in PEFT format,
    /// with the tokenizer files of <paramref name="baseModel"/>, which it names as base_model_name_or_path.</summary>
    public static void SaveAdapter(LanguageModel policy, LoraSettings lora, string directory, string baseModel)
    {
        if (System.IO.Directory.Exists(directory)) System.IO.Directory.Delete(directory, recursive: true);
        PeftAdapter.Save(policy.Model, lora, directory, System.IO.Path.GetFullPath(baseModel));
        foreach (var file in ModelDirectory.CompanionFiles.Where(f => f != ModelDirectory.GenerationConfigFileName))
            if (File.Exists(System.IO.Path.Combine(baseModel, file)))
                File.Copy(System.IO.Path.Combine(baseModel, file), System.IO.Path.Combine(directory, file));
    }

    /// <summary>
    /// The policy of <paramref name="checkpoint"/> as training left it: <c>model/</c> (tokenizer, config and
    /// weights), with the float32 master weights loaded over the weights when <c>model/</c> is stored narrower.
    /// </summary>
    /// <exception cref="ModelFormatException">model/ is stored narrower than float32 and the master weights
    /// are missing or do not fit: resuming from the rounded weights would not continue the run exactly.</exception>
    public static LanguageModel LoadPolicy(string checkpoint, bool chatTemplate, string device)
    {
        string model = System.IO.Path.Combine(checkpoint, "model"), master = System.IO.Path.Combine(checkpoint, MasterWeights.FileName);
        var stored = ModelDirectory.StorageDtype(model);
        var policy = LanguageModel.Load(model, chatTemplate, device);
        try
        {
            if (File.Exists(master)) MasterWeights.Restore(policy.Model, master);
            else if (stored != ScalarType.Float32)
                throw new ModelFormatException($"{checkpoint}: model/ is stored in {ModelDirectory.DtypeName(stored)} and {MasterWeights.FileName} is missing; " +
                                               "resuming from rounded weights would not continue the run exactly.");
            return policy;
        }
        catch
        {
            policy.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Removes a checkpoint by renaming it to a hidden name first and deleting it after: a process
    /// killed during the deletion leaves a hidden directory (removed by the next save or resume),
    /// never a <c>checkpoint-*</c> directory with part of its files gone.
    /// </summary>
    void Retire(string path)
    {
        string aside = System.IO.Path.Combine(Directory, $".{System.IO.Path.GetFileName(path)}.retired-{Guid.NewGuid():N}");
        System.IO.Directory.Move(path, aside);
        CrashPoints.Hit(CrashPoints.CheckpointRetire, path);   // test only
        System.IO.Directory.Delete(aside, recursive: true);
    }

    /// <summary>Removes the hidden directories a killed writer leaves: staging of unfinished checkpoints, retired ones not yet deleted.</summary>
    internal void RemoveStaging()
    {
        if (!System.IO.Directory.Exists(Directory)) return;
        foreach (var stale in System.IO.Directory.GetDirectories(Directory, ".*")) System.IO.Directory.Delete(stale, recursive: true);
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
