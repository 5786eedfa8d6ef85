using GspoSharp.Objectives;
using GspoSharp.Tasks;
using GspoSharp.Training;
using static GspoSharp.Tests.Objectives.Batches;

namespace GspoSharp.Tests.Objectives;

/// <summary>Per-token advantages from per-step credit (step_advantage_coef).</summary>
public class StepAdvantagesTests
{
    [Fact]
    public void Each_token_gets_its_response_advantage_plus_lambda_times_its_step_label()
    {
        // Â = [0.5, −1], λ = 0.25, labels [+1, +1, 0, −1] and [0, −1], width 4.
        var built = StepAdvantages.Build(new[] { 0.5, -1.0 }, new IReadOnlyList<int>[] { new[] { 1, 1, 0, -1 }, new[] { 0, -1 } }, 0.25, 4);
        Assert.Equal(new[] { 0.75, 0.75, 0.5, 0.25, -1.0, -1.25, 0.0, 0.0 }, built);
    }

    [Fact]
    public void Bad_input_is_refused()
    {
        Assert.Throws<ArgumentException>(() => StepAdvantages.Build(new[] { 1.0 }, new IReadOnlyList<int>[] { new[] { 2 } }, 1, 1));
        Assert.Throws<ArgumentException>(() => StepAdvantages.Build(new[] { 1.0 }, new IReadOnlyList<int>[] { new[] { 1, 1 } }, 1, 1));
        Assert.Throws<ArgumentException>(() => StepAdvantages.Build(new[] { 1.0, 2.0 }, new IReadOnlyList<int>[] { new[] { 1 } }, 1, 1));
        Assert.Throws<ArgumentException>(() => StepAdvantages.Build(new[] { 1.0 }, new IReadOnlyList<int>[] { new[] { 1 } }, -0.1, 1));
    }

    static readonly double[][] Logp = { new[] { -1.0, -2.0, -0.3 }, new[] { -0.5, -0.25 }, new[] { -0.7 } };
    static readonly double[][] Old = { new[] { -1.0001, -1.9998, -0.3002 }, new[] { -0.5, -0.2505 }, new[] { -0.6999 } };
    static readonly double[] Adv = { 1.0, -0.5, 2.0 };

    [Fact]
    public void Gspo_token_with_step_advantages_and_lambda_zero_equals_gspo_exactly()
    {
        var labels = new IReadOnlyList<int>[] { new[] { 1, -1, 0 }, new[] { -1, -1 }, new[] { 1 } };
        var flat = StepAdvantages.Build(Adv, labels, 0, 3);
        var perToken = Enumerable.Range(0, 3).Select(i => flat.Skip(i * 3).Take(Logp[i].Length).ToArray()).ToArray();
        var gspo = Evaluate(PolicyObjectiveOptions.Gspo(), Logp, Old, Adv);
        var token = Evaluate(PolicyObjectiveOptions.GspoToken(), Logp, Old, perToken);
        Assert.Equal(gspo.Loss, token.Loss, 15);
        AssertClose(gspo.Gradient, token.Gradient, 1e-15, "gradient");
        Assert.Equal(gspo.Stats.ClipRegionSequences, token.Stats.ClipRegionSequences);
    }

    [Fact]
    public void Gspo_token_with_step_advantages_weights_each_token_by_its_own_advantage()
    {
        // λ = 0.5: Â_{i,t} = Â_i ± 0.5. No response is clipped here (|log s| < 3e-4 or the sign keeps it inside),
        // so ∂(−J)/∂logp_{i,t} = −(1/G) · s_i · Â_{i,t} / |y_i|.
        var labels = new IReadOnlyList<int>[] { new[] { 1, -1, 0 }, new[] { -1, 1 }, new[] { 1 } };
        var flat = StepAdvantages.Build(Adv, labels, 0.5, 3);
        var perToken = Enumerable.Range(0, 3).Select(i => flat.Skip(i * 3).Take(Logp[i].Length).ToArray()).ToArray();
        var run = Evaluate(PolicyObjectiveOptions.GspoToken(), Logp, Old, perToken);
        double s1 = Math.Exp((0.0001 - 0.0002 + 0.0002) / 3), s2 = Math.Exp((0.0 + 0.0005) / 2), s3 = Math.Exp(-0.0001);
        AssertClose(new[]
        {
            new[] { -s1 * 1.5 / 3 / 3, -s1 * 0.5 / 3 / 3, -s1 * 1.0 / 3 / 3 },
            new[] { -s2 * -1.0 / 3 / 2, -s2 * 0.0 / 3 / 2 },
            new[] { -s3 * 2.5 / 3 },
        }, run.Gradient, 1e-12, "gradient");
        Assert.Equal(0.0, run.Stats.ClipRegionSequences);
    }

    [Fact]
    public void Tokens_are_labelled_by_the_step_their_first_character_lies_in()
    {
        // Tokens decode to "7", "+2", "=9", ", ", "9+5", "=15", ". \boxed{15}"; steps "7+2=9" (right) and "9+5=15" (wrong).
        string[] pieces = { "7", "+2", "=9", ", ", "9+5", "=15", ". \\boxed{15}" };
        string Decode(IReadOnlyList<long> ids) => string.Concat(ids.Select(i => pieces[i]));
        var steps = new[] { new StepCredit(0, 5, true), new StepCredit(7, 6, false) };
        Assert.Equal(new[] { 1, 1, 1, 0, -1, -1, 0 }, StepTokens.Labels(new long[] { 0, 1, 2, 3, 4, 5, 6 }, Decode, steps));
        Assert.Equal(new int[7], StepTokens.Labels(new long[] { 0, 1, 2, 3, 4, 5, 6 }, Decode, []));
    }
}
