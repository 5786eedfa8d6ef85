using System.Text.Json.Nodes;
using GspoSharp.Rewards;

namespace GspoSharp.Tasks;

/// <summary>Which stream of examples a synthetic task draws from.</summary>
public enum TaskSplit
{
    /// <summary>Training prompts and SFT demonstrations.</summary>
    Train,
    /// <summary>Held-out prompts for evaluation: a separate random stream, excluded from training.</summary>
    Eval,
}

/// <summary>
/// A task that generates unlimited examples deterministically from a seed: each row has a
/// <c>prompt</c>, the verifiable <c>answer</c>, and a <c>completion</c> that demonstrates a correct
/// response (used for the SFT warm start). Responses of different rows differ in length, so the
/// sequence-length effects GSPO is about are present.
/// </summary>
public abstract class SyntheticTask
{
    /// <summary>Name used in configs (<c>task: NAME</c>).</summary>
    public abstract string Name { get; }

    /// <summary>One line describing the task, for help text and docs.</summary>
    public abstract string Description { get; }

    /// <summary>Example <paramref name="index"/> of <paramref name="split"/> for <paramref name="seed"/>.
    /// A prompt belongs to one split whatever the seed, so held-out prompts are never trained on, even across seeds.</summary>
    public JsonObject Example(long seed, TaskSplit split, long index)
    {
        for (long attempt = 0; ; attempt++)
        {
            var random = new Random(Hash(seed, (long)split, index, attempt));
            var (prompt, answer, completion) = Generate(random);
            bool isEval = Hash(0, 7, StableHash(prompt), 0) % 10 == 0;   // the same split for every seed
            if (isEval != (split == TaskSplit.Eval)) continue;   // a prompt belongs to exactly one split
            return new JsonObject { ["prompt"] = prompt, ["answer"] = answer, ["completion"] = completion };
        }
    }

    /// <summary>FNV-1a over the characters: the same in every process (string.GetHashCode is not).</summary>
    static long StableHash(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in text) h = (h ^ c) * 1099511628211UL;
        return (long)(h >> 1);
    }

    /// <summary>Draws one (prompt, answer, demonstration).</summary>
    protected abstract (string Prompt, string Answer, string Completion) Generate(Random random);

    /// <summary>
    /// Per-step verifiable credit of <paramref name="completion"/> to <paramref name="row"/>'s prompt: each
    /// worked step found in the text with its character span and whether it is right; null when the task
    /// has no step structure. Text outside the steps (separators, the final answer) belongs to no step.
    /// </summary>
    public virtual IReadOnlyList<StepCredit>? Steps(JsonObject row, string completion) => null;

    /// <summary>A deterministic 31-bit seed from a few integers (SplitMix64 finaliser).</summary>
    static int Hash(long a, long b, long c, long d)
    {
        ulong z = 0x9E3779B97F4A7C15UL;
        foreach (var v in new[] { a, b, c, d })
        {
            z = (z ^ (ulong)v) + 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
        }
        return (int)(z & 0x7FFFFFFF);
    }

    /// <summary>The built-in tasks by name.</summary>
    public static IReadOnlyDictionary<string, SyntheticTask> BuiltIn { get; } = new SyntheticTask[]
    {
        new ArithmeticChainTask(), new ReverseTask(), ArithmeticChainTask.LongSum(),
    }.ToDictionary(t => t.Name);

    /// <summary>The built-in task called <paramref name="name"/>.</summary>
    public static SyntheticTask Get(string name) => BuiltIn.TryGetValue(name, out var task)
        ? task
        : throw new ArgumentException($"task must be one of: {string.Join("; ", BuiltIn.Select(t => $"{t.Key} ({t.Value.Description})"))}; got '{name}'.");
}

/// <summary>One worked step of a response: characters [Start, Start + Length) of the completion, right or wrong.</summary>
public readonly record struct StepCredit(int Start, int Length, bool Correct);

/// <summary>
/// Reverse a list of 3 to 24 letters: "Reverse: k q z" → "z q k. \boxed{z q k}".
/// Responses run from about 12 to 60 tokens.
/// </summary>
public sealed class ReverseTask : SyntheticTask
{
    /// <inheritdoc />
    public override string Name => "reverse";

    /// <inheritdoc />
    public override string Description => "reverse a list of 3–24 letters, answer in \\boxed{}";

    /// <inheritdoc />
    protected override (string, string, string) Generate(Random random)
    {
        var letters = Enumerable.Range(0, random.Next(3, 25)).Select(_ => (char)('a' + random.Next(26))).ToArray();
        string reversed = string.Join(" ", letters.Reverse());
        return ($"Reverse: {string.Join(" ", letters)}", reversed, $"{reversed}. \\boxed{{{reversed}}}");
    }
}
