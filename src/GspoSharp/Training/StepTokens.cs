using GspoSharp.Tasks;

namespace GspoSharp.Training;

/// <summary>Maps a task's per-step credit (character spans of the completion text) onto the completion's tokens.</summary>
internal static class StepTokens
{
    /// <summary>
    /// u per token: +1 when the token's first character lies in a right step, −1 in a wrong one, 0 elsewhere.
    /// A token's first character is where the decoded text of the tokens before it ends, so the spans are
    /// those of the same decoded text the rewards and the step credit read.
    /// </summary>
    public static int[] Labels(IReadOnlyList<long> ids, Func<IReadOnlyList<long>, string> decode, IReadOnlyList<StepCredit> steps)
    {
        var labels = new int[ids.Count];
        if (steps.Count == 0) return labels;
        int start = 0;
        for (int t = 0; t < ids.Count; t++)
        {
            foreach (var step in steps)
                if (start >= step.Start && start < step.Start + step.Length)
                {
                    labels[t] = step.Correct ? 1 : -1;
                    break;
                }
            start = decode(ids.Take(t + 1).ToList()).Length;
        }
        return labels;
    }
}
