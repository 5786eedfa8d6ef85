using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

public sealed partial class HfSafetensorsCheckpoint
{
    /// <summary>The shard size transformers uses by default (5 GB).</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    // Every shard carries format=pt: transformers refuses a file whose metadata lacks a known format.
    static readonly Dictionary<string, string> ShardMetadata = new() { ["format"] = "pt" };

    [GeneratedRegex(@"^model-\d{5}-of-\d{5}\.safetensors$")]
    private static partial Regex ShardName();

    /// <summary>
    /// Saves tensors as a Hugging Face checkpoint in <paramref name="directory"/> (created if
    /// missing): one <c>model.safetensors</c> when they fit in <paramref name="maxShardBytes"/>,
    /// otherwise shards <c>model-0000N-of-0000M.safetensors</c> of at most that many data bytes
    /// each (a larger tensor gets a shard of its own) plus <c>model.safetensors.index.json</c>.
    /// Tensors are assigned to shards in the dictionary's enumeration order, so a model's layers
    /// stay together. Floating-point tensors are stored as <paramref name="storageDtype"/>;
    /// integer and bool tensors keep their own element type.
    /// </summary>
    /// <remarks>
    /// Every file is written under a temporary name first; only when all are complete are they
    /// renamed into place, shards before the index, and then the files of a previous checkpoint
    /// in this naming scheme that the new one does not use are removed. If anything fails
    /// before the renames, the temporaries are removed and the directory is unchanged. Each
    /// file appears whole or not at all, but a crash during the renames themselves, when
    /// overwriting an earlier sharded checkpoint, can leave old and new shards side by side:
    /// save each checkpoint to a fresh directory when that matters.
    /// </remarks>
    /// <exception cref="ArgumentException">A name, tensor, the storage dtype or the shard size is invalid; nothing is written.</exception>
    public static void Save(
        string directory,
        IReadOnlyDictionary<string, Tensor> tensors,
        ScalarType storageDtype = ScalarType.Float32,
        long maxShardBytes = DefaultMaxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        SafetensorsLayout.CheckStorageDtype(storageDtype);

        var shards = SplitIntoShards(tensors, storageDtype, maxShardBytes);
        var layouts = shards.Select(s => SafetensorsLayout.Plan(s, storageDtype, ShardMetadata)).ToList();
        Directory.CreateDirectory(directory);
        using var staged = new StagedFiles();

        if (layouts.Count == 1)
        {
            string single = Path.Combine(directory, SingleFileName);
            staged.Stage(single, layouts[0].WriteTo);
            staged.Publish(single);
            RemoveStale(directory, keep: [SingleFileName]);
            return;
        }

        var names = Enumerable.Range(1, layouts.Count).Select(i => $"model-{i:D5}-of-{layouts.Count:D5}.safetensors").ToList();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        long totalSize = 0;
        for (int i = 0; i < layouts.Count; i++)
        {
            staged.Stage(Path.Combine(directory, names[i]), layouts[i].WriteTo);
            foreach (var item in layouts[i].Items)
            {
                weightMap[item.Name] = names[i];
                totalSize += item.End - item.Begin;
            }
        }
        string index = Path.Combine(directory, IndexFileName);
        staged.Stage(index, stream => HfCheckpointIndex.Write(stream, totalSize, weightMap));

        foreach (string name in names) staged.Publish(Path.Combine(directory, name));
        // A stale single file would win over the new index when loading: remove it before the
        // index appears, so the directory never presents the old weights as the new checkpoint.
        File.Delete(Path.Combine(directory, SingleFileName));
        staged.Publish(index);
        RemoveStale(directory, keep: [.. names, IndexFileName]);
    }

    /// <summary>Greedy, in order: a tensor starts a new shard when it would push the current one past the limit.</summary>
    static List<List<KeyValuePair<string, Tensor>>> SplitIntoShards(
        IReadOnlyDictionary<string, Tensor> tensors, ScalarType storageDtype, long maxShardBytes)
    {
        var shards = new List<List<KeyValuePair<string, Tensor>>> { new() };
        long current = 0;
        foreach (var kv in tensors)
        {
            long bytes = SafetensorsLayout.StoredBytes(kv.Key, kv.Value, storageDtype);
            if (shards[^1].Count > 0 && current + bytes > maxShardBytes)
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(kv);
            current += bytes;
        }
        return shards;
    }

    /// <summary>Removes checkpoint files of this naming scheme left by an earlier save.</summary>
    static void RemoveStale(string directory, IReadOnlyCollection<string> keep)
    {
        foreach (string path in Directory.EnumerateFiles(directory))
        {
            string name = Path.GetFileName(path);
            bool ours = name is SingleFileName or IndexFileName || ShardName().IsMatch(name);
            if (ours && !keep.Contains(name)) File.Delete(path);
        }
    }
}
