namespace GspoSharp.Objectives;

/// <summary>
/// Per-token advantages from per-step verifiable credit, for GSPO-token (and GRPO), which accept
/// Â_{i,t}; GSPO's sequence level cannot use them. A response's sequence advantage is shared by all
/// its tokens, and the tokens of each worked step get a step-level term on top:
/// <code>
///   Â_{i,t} = Â_i + λ · u_{i,t}      u_{i,t} = +1 if token t lies in a right step of response i,
///                                             −1 if in a wrong step, 0 outside every step
/// </code>
/// (config <c>step_advantage_coef</c> = λ). The sequence term still ranks whole responses against
/// their group; the step term moves probability towards right steps and away from wrong ones even
/// inside a response whose final answer was wrong (or right by luck). With λ = 0, or where no
/// token lies in a step, every token gets Â_i and GSPO-token equals GSPO exactly.
/// <para>Limits: the term is not centred within the group, so a group of identical responses (Â_i = 0)
/// still pushes up its right steps and down its wrong ones; and a step's credit is local (a step that
/// continues a wrong total correctly is right), so the error's consequences are left to Â_i.</para>
/// </summary>
public static class StepAdvantages
{
    /// <summary>
    /// Row-major [B, <paramref name="width"/>] advantages for responses whose token labels u are
    /// <paramref name="tokenCredit"/> (−1, 0 or +1 per completion token); positions past a response's
    /// length are 0 (padding, masked by the objective).
    /// </summary>
    /// <exception cref="ArgumentException">Counts differ, a response is wider than <paramref name="width"/>, a label is not −1, 0 or +1,
    /// or λ is negative or not finite.</exception>
    public static double[] Build(IReadOnlyList<double> sequenceAdvantages, IReadOnlyList<IReadOnlyList<int>> tokenCredit, double coefficient, int width)
    {
        if (sequenceAdvantages.Count != tokenCredit.Count)
            throw new ArgumentException($"{sequenceAdvantages.Count} advantages for {tokenCredit.Count} responses.", nameof(tokenCredit));
        if (!(coefficient >= 0) || double.IsInfinity(coefficient))
            throw new ArgumentException($"step_advantage_coef must be finite and ≥ 0; got {coefficient}.", nameof(coefficient));
        var result = new double[sequenceAdvantages.Count * width];
        for (int i = 0; i < tokenCredit.Count; i++)
        {
            var labels = tokenCredit[i];
            if (labels.Count > width) throw new ArgumentException($"response {i} has {labels.Count} tokens, more than the width {width}.", nameof(width));
            for (int t = 0; t < labels.Count; t++)
            {
                int u = labels[t];
                if (u is < -1 or > 1) throw new ArgumentException($"response {i}, token {t}: step label {u} is not −1, 0 or +1.", nameof(tokenCredit));
                result[i * width + t] = sequenceAdvantages[i] + coefficient * u;
            }
        }
        return result;
    }
}
