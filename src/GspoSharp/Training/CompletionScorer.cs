using GspoSharp.Models.Architecture;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>Log-probs of the completions of some rows of a <see cref="SequenceBatch"/>, as [rows, C].</summary>
internal static class CompletionScorer
{
    /// <summary>log π(completion token) for rows <paramref name="rows"/>, [n, C] (0 at padding), and the
    /// entropies of those next-token distributions, both at <paramref name="temperature"/>.</summary>
    public static TokenScores Score(CausalLm model, SequenceBatch batch, Tensor rows, double temperature, RoutingContext? routing = null)
    {
        using var scope = NewDisposeScope();
        var ids = batch.Ids.index_select(0, rows);
        var mask = batch.Mask.index_select(0, rows);
        using var scores = model.ScoreTokens(ids, mask, batch.TargetMask(rows), temperature, routing);
        long start = batch.PromptWidth - 1, width = batch.CompletionWidth;
        return new TokenScores(scores.LogProbs.narrow(1, start, width).MoveToOuterDisposeScope(),
            scores.Entropy.narrow(1, start, width).MoveToOuterDisposeScope());
    }
}
