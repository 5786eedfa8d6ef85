using GspoSharp.Models;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>
/// The dtype the model files a run writes (checkpoints' <c>model/</c>, <c>sft-model/</c>,
/// <c>final-model/</c>, <c>gspo sft --out</c>) are stored in. Training itself is unaffected: the
/// weights, gradients and AdamW moments stay float32 in memory and in the checkpoint.
/// </summary>
public enum SaveDtype
{
    /// <summary>As the base model is stored (a created model: float32).</summary>
    Auto,
    /// <summary>float32: exact.</summary>
    Float32,
    /// <summary>bfloat16, rounded to nearest even.</summary>
    BFloat16,
    /// <summary>float16, rounded to nearest even.</summary>
    Float16,
}

/// <summary>Names and resolution of <see cref="SaveDtype"/>.</summary>
public static class SaveDtypes
{
    /// <summary>The accepted names, for messages.</summary>
    public const string Names = "auto, float32, bfloat16 or float16";

    /// <summary>The value called <paramref name="name"/> (as config.json names dtypes, plus auto).</summary>
    /// <exception cref="ArgumentException">Any other name.</exception>
    public static SaveDtype Parse(string name) => name switch
    {
        "auto" => SaveDtype.Auto,
        "float32" => SaveDtype.Float32,
        "bfloat16" => SaveDtype.BFloat16,
        "float16" => SaveDtype.Float16,
        _ => throw new ArgumentException($"is '{name}'; must be {Names}."),
    };

    /// <summary>The name <see cref="Parse"/> reads.</summary>
    public static string Name(SaveDtype dtype) => dtype switch
    {
        SaveDtype.Float32 => "float32",
        SaveDtype.BFloat16 => "bfloat16",
        SaveDtype.Float16 => "float16",
        _ => "auto",
    };

    /// <summary>
    /// The element type to store floating-point weights in: <paramref name="dtype"/> itself, or for
    /// <see cref="SaveDtype.Auto"/> the dtype the weights of <paramref name="baseModel"/> are stored
    /// in (<see cref="ModelDirectory.StorageDtype"/>).
    /// </summary>
    public static ScalarType Resolve(SaveDtype dtype, string baseModel) => dtype switch
    {
        SaveDtype.Float32 => ScalarType.Float32,
        SaveDtype.BFloat16 => ScalarType.BFloat16,
        SaveDtype.Float16 => ScalarType.Float16,
        _ => ModelDirectory.StorageDtype(baseModel),
    };
}
