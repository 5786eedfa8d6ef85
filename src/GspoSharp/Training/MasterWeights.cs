using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>
/// The float32 weights of a checkpoint whose <c>model/</c> is stored narrower (bfloat16 or
/// float16): <c>master_weights.safetensors</c>, beside <c>optimizer.bin</c> and outside the Hugging
/// Face folder, so that inference engines see only the model. A resumed run loads these rather than
/// the rounded export, and so continues from exactly the weights the interrupted run had.
/// </summary>
public static class MasterWeights
{
    /// <summary>The file name inside a checkpoint directory.</summary>
    public const string FileName = "master_weights.safetensors";

    /// <summary>Writes every parameter of <paramref name="model"/> to <paramref name="path"/> as float32, atomically.</summary>
    public static void Save(CausalLm model, string path)
    {
        using var scope = NewDisposeScope();
        var tensors = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.detach().cpu());
        SafetensorsWriter.Write(path, tensors, ScalarType.Float32, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Overwrites the parameters of <paramref name="model"/> with those in <paramref name="path"/>,
    /// which must hold exactly the model's parameters, in float32, with the model's shapes.</summary>
    /// <exception cref="ModelFormatException">A tensor is missing, extra, not float32 or wrongly shaped; the
    /// message names the file and the tensor. The model is unchanged then.</exception>
    public static void Restore(CausalLm model, string path)
    {
        using var reader = SafetensorsReader.Open(path);
        var parameters = model.named_parameters().ToList();
        var names = parameters.Select(p => p.name).ToHashSet(StringComparer.Ordinal);
        if (parameters.FirstOrDefault(p => !reader.Contains(p.name)) is { name: { } missing })
            throw new ModelFormatException($"{path}: no tensor '{missing}'; the file does not hold this model's weights.");
        if (reader.Entries.FirstOrDefault(e => !names.Contains(e.Name)) is { } extra)
            throw new ModelFormatException($"{path}: tensor '{extra.Name}' is not a parameter of the model.");
        foreach (var (name, parameter) in parameters)
        {
            var entry = reader.GetEntry(name);
            if (entry.Dtype != ScalarType.Float32)
                throw new ModelFormatException($"{path}: tensor '{name}' is stored as {entry.DtypeName}, not F32; master weights are float32.");
            if (!entry.Shape.SequenceEqual(parameter.shape))
                throw new ModelFormatException($"{path}: tensor '{name}' has shape [{string.Join(", ", entry.Shape)}] " +
                                               $"but the model's is [{string.Join(", ", parameter.shape)}].");
        }
        using var noGrad = no_grad();
        foreach (var (name, parameter) in parameters)
        {
            using var scope = NewDisposeScope();
            parameter.copy_(reader.ReadTensor(name, ScalarType.Float32));
        }
    }

    /// <summary>
    /// Rounds the parameters of <paramref name="model"/> in place to <paramref name="dtype"/> and back
    /// to their own dtype: afterwards the model holds exactly what saving it in <paramref name="dtype"/>
    /// and loading it again gives (widening bfloat16 or float16 to float32 is exact).
    /// </summary>
    public static void RoundTo(CausalLm model, ScalarType dtype)
    {
        using var noGrad = no_grad();
        foreach (var parameter in model.parameters())
        {
            if (parameter.dtype == dtype) continue;
            using var scope = NewDisposeScope();
            parameter.copy_(parameter.to_type(dtype));
        }
    }
}
