using static TorchSharp.torch;

namespace GspoSharp.Models.Checkpoints;

/// <summary>
/// The safetensors dtype names GspoSharp reads and writes, and the TorchSharp element type each
/// is stored in. The table is the whole contract: a name not in it is rejected with the list of
/// names that are.
/// </summary>
internal static class SafetensorsDtypes
{
    // Ordered as the reference implementation orders dtypes (increasing alignment). The writer
    // sorts tensors by this rank, descending, so every tensor's data starts aligned to its
    // element size, as files written by the reference implementation do.
    static readonly (string Name, ScalarType Type)[] Table =
    [
        ("BOOL", ScalarType.Bool),
        ("U8", ScalarType.Byte),
        ("I8", ScalarType.Int8),
        ("I16", ScalarType.Int16),
        ("F16", ScalarType.Float16),
        ("BF16", ScalarType.BFloat16),
        ("I32", ScalarType.Int32),
        ("F32", ScalarType.Float32),
        ("F64", ScalarType.Float64),
        ("I64", ScalarType.Int64),
    ];

    // Names the format defines but TorchSharp 0.107 has no element type for.
    static readonly string[] KnownButUnsupported = ["F8_E5M2", "F8_E4M3", "U16", "U32", "U64"];

    /// <summary>The supported names, for error messages.</summary>
    public static string SupportedNames => string.Join(", ", Table.Select(t => t.Name));

    public static bool TryParse(string name, out ScalarType type)
    {
        foreach (var (n, t) in Table)
        {
            if (n == name)
            {
                type = t;
                return true;
            }
        }
        type = default;
        return false;
    }

    public static bool IsKnownButUnsupported(string name) => KnownButUnsupported.Contains(name);

    public static bool IsSupported(ScalarType type) => Array.FindIndex(Table, t => t.Type == type) >= 0;

    /// <summary>The safetensors name of a supported element type.</summary>
    public static string Name(ScalarType type) => Table[IndexOf(type)].Name;

    /// <summary>The rank used to order tensors in a written file: larger alignment first.</summary>
    public static int AlignmentRank(ScalarType type) => IndexOf(type);

    public static int ElementSize(ScalarType type) => type switch
    {
        ScalarType.Bool or ScalarType.Byte or ScalarType.Int8 => 1,
        ScalarType.Int16 or ScalarType.Float16 or ScalarType.BFloat16 => 2,
        ScalarType.Int32 or ScalarType.Float32 => 4,
        ScalarType.Int64 or ScalarType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not a safetensors element type."),
    };

    static int IndexOf(ScalarType type)
    {
        int index = Array.FindIndex(Table, t => t.Type == type);
        return index >= 0
            ? index
            : throw new ArgumentOutOfRangeException(nameof(type), type, $"Not a safetensors element type; supported: {SupportedNames}.");
    }
}
