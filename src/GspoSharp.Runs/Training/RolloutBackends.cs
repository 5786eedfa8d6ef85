using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Rollout;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>Builds a run's rollout backend from its config (docs/rollout-servers.md).</summary>
internal static class RolloutBackends
{
    /// <summary>The HTTP backend of an <c>rollout_backend: http</c> run, with its weight publisher; null for the
    /// local backend (the trainer's default). Synced weights go to weight_sync_dir (default RUN/weight-sync),
    /// one directory per version, written whole before the servers are told (a model directory is staged
    /// and renamed into place).</summary>
    public static IRolloutBackend? Create(TrainConfig config, LanguageModel policy, string startModel, string runDirectory, LoraSettings? lora,
        Action<string> warn)
    {
        if (config.RolloutBackend == RolloutBackendKind.Local) return null;
        string directory = Path.GetFullPath(config.WeightSyncDir ?? Path.Combine(runDirectory, "weight-sync"));
        string Target(int version) => Path.Combine(directory, $"step-{version:D6}");
        Func<int, string>? publish = config.WeightSync switch
        {
            WeightSyncMode.Disk => version =>
            {
                // float32, whatever save_dtype says: the servers cast to their own dtype, and float32 keeps the trained weights exactly.
                ModelDirectory.Save(policy.Model, Target(version), companionsFrom: startModel, storageDtype: ScalarType.Float32, overwrite: true);
                return Target(version);
            },
            WeightSyncMode.Lora => version =>
            {
                Checkpoints.SaveAdapter(policy, lora ?? throw new InvalidOperationException("weight_sync lora without adapters."), Target(version), startModel);
                return Target(version);
            },
            _ => null,
        };
        return new HttpRolloutBackend(config.HttpRollout, publish) { OnWarning = warn };
    }
}
