using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Models;

/// <summary>
/// Creates complete model directories from scratch — config.json, safetensors weights,
/// tokenizer.json, tokenizer_config.json, generation_config.json — in exactly the format of a
/// downloaded checkpoint, so that tests and the demo exercise the code path real models take.
/// </summary>
public static class TinyModels
{
    /// <summary>Tokenizer vocabulary of the models created here (256 bytes, learned merges, 3 special tokens).</summary>
    public const int VocabSize = 512;

    /// <summary>
    /// Writes a <paramref name="size"/> model of architecture <paramref name="type"/> with weights
    /// initialised from <paramref name="seed"/> to <paramref name="directory"/>, with a byte-level
    /// BPE tokenizer learned from <paramref name="corpus"/> (default: <see cref="DefaultCorpus"/>).
    /// </summary>
    /// <remarks><paramref name="shape"/> overrides the size's depth and experts (<see cref="ModelShape"/>).</remarks>
    public static void Create(string directory, ModelType type, ModelSize size, long seed = 0, string? corpus = null, ModelShape? shape = null)
    {
        string staging = Path.Combine(Path.GetTempPath(), $"gspo-tokenizer-{Guid.NewGuid():N}");
        try
        {
            var tokenizer = TinyTokenizer.Write(staging, corpus ?? DefaultCorpus(), VocabSize);
            int eos = tokenizer.EosTokenId ?? throw new InvalidOperationException("the tiny tokenizer has no end-of-sequence token.");
            int endOfText = tokenizer.TokenToId(TinyTokenizer.SpecialTokens[0])!.Value;
            var config = TinyConfigs.Create(type, size, tokenizer.VocabSize, eos, tokenizer.PadTokenId, shape);
            File.WriteAllText(Path.Combine(staging, ModelDirectory.GenerationConfigFileName), new JsonObject
            {
                ["eos_token_id"] = new JsonArray(eos, endOfText),
                ["pad_token_id"] = tokenizer.PadTokenId,
                ["do_sample"] = true,
                ["temperature"] = 1.0,
            }.ToJsonString() + "\n");
            using var model = new CausalLm(config);
            model.InitializeWeights(seed);
            ModelDirectory.Save(model, directory, companionsFrom: staging);
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// A deterministic corpus for learning the tiny tokenizer's merges: numbers, arithmetic,
    /// and the words of chat prompts and answers, so that the built-in tasks tokenize compactly.
    /// </summary>
    public static string DefaultCorpus()
    {
        var text = new StringBuilder();
        var random = new Random(12345);
        string[] words = (
            "What is the answer Answer Compute Calculate sum of and plus minus times result number numbers sort sorted " +
            "reverse count letters in word list digits Think step by first then so The final boxed Question user assistant " +
            "system You are a helpful Let me add subtract multiply equals total Therefore how many apples has gives more less " +
            "each left right after before there were she he they we it this that with from into over under between which " +
            "when where who why because if else true false yes no zero one two three four five six seven eight nine ten " +
            "hundred thousand half double twice value values item items order ascending descending smallest largest " +
            "maximum minimum average difference product quotient remainder divide divided problem solve solution check " +
            "correct wrong write reply respond format only output input example string character characters length " +
            "sequence pattern next previous following below above return give show explain reason reasoning carefully " +
            "please thanks hello world model language train learn reward policy group token tokens red blue green " +
            "cat dog bird fish tree house car book table chair water river mountain city country people time year day").Split(' ');
        for (int i = 0; i < 4000; i++)
        {
            int a = random.Next(0, 1000), b = random.Next(0, 100);
            text.Append(random.Next(4) switch
            {
                0 => $"{a} + {b} = {a + b}\n",
                1 => $"{a} - {b} = {a - b}\n",
                2 => $"{a % 50} * {b % 20} = {a % 50 * (b % 20)}\n",
                _ => $"The answer is \\boxed{{{a + b}}}.\n",
            });
            for (int w = 0; w < 6; w++) text.Append(words[random.Next(words.Length)]).Append(w == 5 ? ".\n" : " ");
        }
        return text.ToString();
    }
}
