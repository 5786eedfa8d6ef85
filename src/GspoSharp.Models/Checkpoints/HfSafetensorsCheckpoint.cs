using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// The weights of a Hugging Face model directory: either one <c>model.safetensors</c>, or
/// shards <c>model-0000N-of-0000M.safetensors</c> listed by <c>model.safetensors.index.json</c>.
/// Opening validates every header and checks the index and the shards agree exactly; tensors
/// are then read one at a time, by name, whichever shard holds them. Only safetensors is
/// supported: pickle-based files (pytorch_model.bin, *.pt) can run code when loaded and are
/// refused.
/// </summary>
/// <remarks>Shard files stay open (shared for reading) until the checkpoint is disposed.</remarks>
public sealed partial class HfSafetensorsCheckpoint : IDisposable
{
    /// <summary>The file name of an unsharded checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>The file name of the index of a sharded checkpoint.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    readonly IReadOnlyList<SafetensorsReader> readers;
    readonly Dictionary<string, (SafetensorsReader Reader, SafetensorsEntry Entry)> byName;
    readonly IReadOnlyList<SafetensorsEntry> entries;

    HfSafetensorsCheckpoint(string directory, IReadOnlyList<SafetensorsReader> readers)
    {
        DirectoryPath = directory;
        this.readers = readers;
        entries = readers.SelectMany(r => r.Entries).ToList();
        // Names are unique across files: the index check has refused a tensor in two shards.
        byName = readers
            .SelectMany(r => r.Entries.Select(e => (Reader: r, Entry: e)))
            .ToDictionary(x => x.Entry.Name, StringComparer.Ordinal);
    }

    /// <summary>The checkpoint directory.</summary>
    public string DirectoryPath { get; }

    /// <summary>The .safetensors files the weights are in (one, or the shards in name order).</summary>
    public IReadOnlyList<string> Files => readers.Select(r => r.Path).ToList();

    /// <summary>Every tensor, file by file in the order of <see cref="Files"/>, each file in data order.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries => entries;

    /// <summary>Whether the checkpoint holds a tensor with this name.</summary>
    public bool Contains(string name) => byName.ContainsKey(name);

    /// <summary>The entry for a tensor (its file, dtype and shape).</summary>
    /// <exception cref="ModelFormatException">No tensor has this name.</exception>
    public SafetensorsEntry GetEntry(string name) => Find(name).Entry;

    /// <summary>
    /// Reads a tensor and converts it to <paramref name="dtype"/> on <paramref name="device"/>
    /// (CPU when null). The result is owned by the caller's dispose scope.
    /// </summary>
    /// <exception cref="ModelFormatException">No tensor has this name, or its shard is truncated.</exception>
    public Tensor ReadTensor(string name, ScalarType dtype = ScalarType.Float32, Device? device = null)
    {
        var (reader, entry) = Find(name);
        return reader.Read(entry, dtype, device);
    }

    /// <summary>Opens a checkpoint directory and validates it.</summary>
    /// <exception cref="ModelFormatException">The directory has no safetensors checkpoint, or it is
    /// inconsistent or malformed; the message names the file and the tensor or field.</exception>
    public static HfSafetensorsCheckpoint Open(string directory)
    {
        if (!Directory.Exists(directory))
            throw new ModelFormatException($"{directory}: the checkpoint directory does not exist.");
        string single = Path.Combine(directory, SingleFileName);
        string index = Path.Combine(directory, IndexFileName);
        // transformers prefers the single file when both exist; so do we.
        if (File.Exists(single))
            return Opened(directory, [single], check: _ => { });
        if (File.Exists(index))
            return OpenSharded(directory, index);
        throw NoCheckpoint(directory);
    }

    static HfSafetensorsCheckpoint OpenSharded(string directory, string index)
    {
        var weightMap = HfCheckpointIndex.Read(index);
        var shards = weightMap.GroupBy(kv => kv.Value, kv => kv.Key, StringComparer.Ordinal)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToList();
        foreach (var shard in shards)
        {
            if (!File.Exists(Path.Combine(directory, shard.Key)))
                throw new ModelFormatException(
                    $"{index}: shard '{shard.Key}' (holding tensor '{shard.First()}' and {shard.Count() - 1} more) does not exist in {directory}.");
        }

        return Opened(directory, shards.Select(s => Path.Combine(directory, s.Key)).ToList(), readers =>
        {
            foreach (var (reader, shard) in readers.Zip(shards))
            {
                foreach (string name in shard)
                {
                    if (!reader.Contains(name))
                        throw new ModelFormatException($"{index}: tensor '{name}' is listed in shard '{shard.Key}', but {reader.Path} has no such tensor.");
                }
                foreach (var entry in reader.Entries)
                {
                    if (!weightMap.TryGetValue(entry.Name, out string? listed))
                        throw new ModelFormatException($"{reader.Path}: tensor '{entry.Name}' is not listed in {index}.");
                    if (listed != shard.Key)
                        throw new ModelFormatException($"{reader.Path}: tensor '{entry.Name}' is also in this shard, but {index} lists it in '{listed}'.");
                }
            }
        });
    }

    /// <summary>Opens every file, runs <paramref name="check"/>, and closes them all if anything throws.</summary>
    static HfSafetensorsCheckpoint Opened(string directory, IReadOnlyList<string> files, Action<IReadOnlyList<SafetensorsReader>> check)
    {
        var readers = new List<SafetensorsReader>(files.Count);
        try
        {
            foreach (string file in files) readers.Add(SafetensorsReader.Open(file));
            check(readers);
            return new HfSafetensorsCheckpoint(directory, readers);
        }
        catch
        {
            foreach (var reader in readers) reader.Dispose();
            throw;
        }
    }

    static ModelFormatException NoCheckpoint(string directory)
    {
        var files = Directory.EnumerateFiles(directory).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        var pickles = files.Where(f => f.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".bin.index.json", StringComparison.OrdinalIgnoreCase)
                                       || f.EndsWith(".pt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".pth", StringComparison.OrdinalIgnoreCase)
                                       || f.EndsWith(".ckpt", StringComparison.OrdinalIgnoreCase)).ToList();
        if (pickles.Count > 0)
            return new ModelFormatException(
                $"{directory}: found {string.Join(", ", pickles)}, but only safetensors checkpoints are supported " +
                $"(pickle-based files can run code when loaded). Convert the weights to {SingleFileName} or to shards with {IndexFileName}.");
        var others = files.Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal)).ToList();
        return new ModelFormatException(
            $"{directory}: no checkpoint found; expected {SingleFileName}, or {IndexFileName} with its model-0000N-of-0000M.safetensors shards" +
            (others.Count > 0 ? $" (found only {string.Join(", ", others)})." : "."));
    }

    (SafetensorsReader Reader, SafetensorsEntry Entry) Find(string name) =>
        byName.TryGetValue(name, out var found)
            ? found
            : throw new ModelFormatException($"{DirectoryPath}: the checkpoint has no tensor named '{name}' ({byName.Count} tensors in {readers.Count} file(s)).");

    /// <summary>Closes every shard.</summary>
    public void Dispose()
    {
        foreach (var reader in readers) reader.Dispose();
    }
}
