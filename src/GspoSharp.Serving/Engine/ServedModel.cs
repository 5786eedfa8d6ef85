using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Tokenization;
using static TorchSharp.torch;

namespace GspoSharp.Serving.Engine;

/// <summary>A model directory as a server holds it: network (in the serving dtype), tokenizer and
/// end-of-sequence ids (generation_config.json, else config.json, else the tokenizer — as
/// <c>gspo generate</c> reads them).</summary>
public sealed class ServedModel : IDisposable
{
    ServedModel(CausalLm model, HfTokenizer tokenizer, IReadOnlyList<long> eos)
    {
        Model = model;
        Tokenizer = tokenizer;
        EosTokenIds = eos;
    }

    /// <summary>The network.</summary>
    public CausalLm Model { get; }

    /// <summary>Its tokenizer.</summary>
    public HfTokenizer Tokenizer { get; }

    /// <summary>Ids that end a sequence.</summary>
    public IReadOnlyList<long> EosTokenIds { get; }

    /// <summary>Loads <paramref name="directory"/> in <paramref name="dtype"/> (float32 or bfloat16).</summary>
    /// <exception cref="ModelFormatException">A file is missing or malformed; the message names it.</exception>
    public static ServedModel Load(string directory, ScalarType dtype, Device? device = null)
    {
        var tokenizer = HfTokenizer.Load(directory);
        var model = ModelDirectory.Load(directory, dtype, device);
        model.eval();
        try
        {
            return new ServedModel(model, tokenizer, LanguageModel.EndOfSequenceIds(directory, model.Config, tokenizer));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
