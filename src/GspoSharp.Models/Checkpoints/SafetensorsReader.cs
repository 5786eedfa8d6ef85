using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// Reads tensors from one .safetensors file, one at a time. Opening parses and validates the
/// header only; <see cref="ReadTensor(string, ScalarType, Device?)"/> then reads one tensor's bytes
/// straight into the storage of a new tensor, so a file is never held in managed memory.
/// Nothing in the file is ever executed: it holds only JSON and raw numbers.
/// </summary>
/// <remarks>The file stays open (shared for reading) until the reader is disposed.</remarks>
public sealed class SafetensorsReader : IDisposable
{
    readonly SafeFileHandle file;
    readonly SafetensorsHeader header;

    SafetensorsReader(string path, SafeFileHandle file, SafetensorsHeader header)
    {
        Path = path;
        this.file = file;
        this.header = header;
    }

    /// <summary>Opens a file and validates its header against the file's size.</summary>
    /// <exception cref="ModelFormatException">The header is malformed: the message names the file and the tensor or field.</exception>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    public static SafetensorsReader Open(string path)
    {
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            return new SafetensorsReader(path, file, SafetensorsHeader.Read(file, path));
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>The path the reader was opened with.</summary>
    public string Path { get; }

    /// <summary>Every tensor in the file, in the order of its data.</summary>
    public IReadOnlyList<SafetensorsEntry> Entries => header.Entries;

    /// <summary>The file's "__metadata__" strings (empty when it has none); e.g. <c>format = pt</c>.</summary>
    public IReadOnlyDictionary<string, string> Metadata => header.Metadata;

    /// <summary>Whether the file holds a tensor with this name.</summary>
    public bool Contains(string name) => header.ByName.ContainsKey(name);

    /// <summary>The entry for a tensor.</summary>
    /// <exception cref="ModelFormatException">The file has no tensor with this name.</exception>
    public SafetensorsEntry GetEntry(string name) =>
        header.ByName.TryGetValue(name, out var entry)
            ? entry
            : throw new ModelFormatException($"{Path}: no tensor named '{name}' (the file holds {header.Entries.Count} tensors).");

    /// <summary>
    /// Reads a tensor and converts it to <paramref name="dtype"/> on <paramref name="device"/>
    /// (CPU when null). The result is owned by the caller's dispose scope.
    /// </summary>
    /// <exception cref="ModelFormatException">No such tensor, or the file ends inside its data.</exception>
    public Tensor ReadTensor(string name, ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        Read(GetEntry(name), dtype, device);

    internal Tensor Read(SafetensorsEntry entry, ScalarType dtype, Device? device)
    {
        ObjectDisposedException.ThrowIf(file.IsClosed, this);
        using var scope = NewDisposeScope();
        // Read in the file's own element type, then convert: the conversion (e.g. BF16 → F32)
        // is exact and done by LibTorch, and only one extra copy of this tensor ever exists.
        var raw = empty([entry.ElementCount], entry.Dtype, CPU);
        TensorBytes.Read(raw, file, header.DataStart + entry.DataBegin, Path, entry.Name);
        var result = raw.reshape([.. entry.Shape]).to(dtype, device ?? CPU);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => file.Dispose();
}
