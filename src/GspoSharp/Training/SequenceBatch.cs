using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>
/// Prompt + completion sequences laid out for scoring: prompts left-padded to a common width P,
/// completions right-padded to a common width C, so that every completion starts at column P.
/// <code>
///   ids   [N, P + C]   · · p p p | c c c · ·
///   mask  [N, P + C]   0 0 1 1 1 | 1 1 1 0 0
/// </code>
/// Completion token j of row i is predicted at position P + j − 1, so the log-probs of all
/// completions are one [N, C] slice of the scores. The tensors belong to no dispose scope;
/// dispose the batch.
/// </summary>
public sealed class SequenceBatch : IDisposable
{
    SequenceBatch(Tensor ids, Tensor mask, Tensor completionMask, int promptWidth)
    {
        Ids = ids;
        Mask = mask;
        CompletionMask = completionMask;
        PromptWidth = promptWidth;
    }

    /// <summary>[N, P + C] token ids (0 at padding).</summary>
    public Tensor Ids { get; }

    /// <summary>[N, P + C] true at real tokens.</summary>
    public Tensor Mask { get; }

    /// <summary>[N, C] true at completion tokens.</summary>
    public Tensor CompletionMask { get; }

    /// <summary>P, the column where completions start.</summary>
    public int PromptWidth { get; }

    /// <summary>N.</summary>
    public long Rows => Ids.shape[0];

    /// <summary>C.</summary>
    public long CompletionWidth => CompletionMask.shape[1];

    /// <summary>Lays out <paramref name="prompts"/>[i] + <paramref name="completions"/>[i] on <paramref name="device"/>.</summary>
    public static SequenceBatch Build(IReadOnlyList<long[]> prompts, IReadOnlyList<long[]> completions, Device device)
    {
        if (prompts.Count != completions.Count || prompts.Count == 0)
            throw new ArgumentException($"need as many prompts as completions (≥ 1); got {prompts.Count} and {completions.Count}.");
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty.");
        int p = prompts.Max(x => x.Length), c = Math.Max(1, completions.Max(x => x.Length));
        using var scope = NewDisposeScope();
        var (promptIds, promptMask) = PaddedRows.Build(prompts, p, PaddingSide.Left, device);
        var (completionIds, completionMask) = PaddedRows.Build(completions, c, PaddingSide.Right, device);
        return new SequenceBatch(
            cat(new[] { promptIds, completionIds }, 1).DetachFromDisposeScope(),
            cat(new[] { promptMask, completionMask }, 1).DetachFromDisposeScope(),
            completionMask.DetachFromDisposeScope(),
            p);
    }

    /// <summary>[N, P + C − 1] true where a completion token is the target (for <c>ScoreTokens</c>).</summary>
    public Tensor TargetMask(Tensor rows)
    {
        var completion = CompletionMask.index_select(0, rows);
        var before = zeros(new[] { rows.shape[0], (long)PromptWidth - 1 }, ScalarType.Bool, Ids.device);
        return cat(new[] { before, completion }, 1);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Ids.Dispose();
        Mask.Dispose();
        CompletionMask.Dispose();
    }
}
