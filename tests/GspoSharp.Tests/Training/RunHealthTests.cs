using GspoSharp.Reports;

namespace GspoSharp.Tests.Training;

/// <summary>The fixed definitions of collapsed and degraded (docs/results.md), on synthetic metric series.</summary>
public class RunHealthTests
{
    static List<(double, double)> Points(params (double Step, double Value)[] points) => points.ToList();

    /// <summary>value a for steps 1..switchStep, b after, up to last.</summary>
    static List<(double, double)> Steps(int last, Func<int, double> value) =>
        Enumerable.Range(1, last).Select(s => ((double)s, value(s))).ToList();

    static readonly List<(double, double)> None = new();

    static RunHealthResult Accuracy(params (double, double)[] points) => RunHealth.Judge(Points(points), None, None);

    [Fact]
    public void A_run_that_learns_is_healthy()
    {
        Assert.Equal(new RunHealthResult(HealthVerdict.Healthy, null), Accuracy((0, 0.5), (25, 0.6), (50, 0.7)));
    }

    [Fact]
    public void A_drop_of_02_that_does_not_recover_within_50_steps_is_a_collapse()
    {
        Assert.Equal(new RunHealthResult(HealthVerdict.Collapsed, "accuracy fell to 0.55 at step 50 from a best of 0.8 and did not recover within 50 steps"),
            Accuracy((0, 0.5), (25, 0.8), (50, 0.55), (75, 0.58), (100, 0.59)));
    }

    [Fact]
    public void A_drop_that_recovers_within_50_steps_is_no_collapse()
    {
        Assert.Equal(HealthVerdict.Healthy, Accuracy((0, 0.5), (25, 0.8), (50, 0.55), (75, 0.61), (100, 0.8)).Verdict);
        // Recovery exactly 50 steps later counts; the final 0.7 is then 0.1 below the best 0.8: degraded.
        Assert.Equal(new RunHealthResult(HealthVerdict.Degraded, "final accuracy 0.7 is 0.1 below the best 0.8"),
            Accuracy((25, 0.8), (50, 0.5), (100, 0.7)));
    }

    [Fact]
    public void A_drop_of_less_than_02_is_no_collapse()
    {
        Assert.Equal(HealthVerdict.Healthy, Accuracy((0, 0.5), (25, 0.8), (50, 0.65), (75, 0.63), (100, 0.75)).Verdict);
        Assert.Equal(new RunHealthResult(HealthVerdict.Degraded, "final accuracy 0.65 is 0.15 below the best 0.8"),
            Accuracy((0, 0.5), (25, 0.8), (50, 0.65), (75, 0.63), (100, 0.65)));
    }

    [Fact]
    public void A_drop_the_run_ended_before_it_could_be_judged_is_degraded()
    {
        Assert.Equal(new RunHealthResult(HealthVerdict.Degraded,
                "accuracy fell to 0.5 at step 50 from a best of 0.8; the run ended before 50 steps could show a recovery"),
            Accuracy((0, 0.5), (25, 0.8), (50, 0.5), (75, 0.52)));
    }

    [Fact]
    public void Entropy_above_twice_its_start_and_half_a_nat_more_for_50_steps_is_a_collapse()
    {
        // m0 = 0.3, threshold max(0.6, 0.8) = 0.8. From step 21 the entropy is 1.0: the 10-step mean
        // 0.3 + 0.07·n passes 0.8 at n = 8 (step 28) and stays there to step 100: 73 steps.
        var entropy = Steps(100, s => s <= 20 ? 0.3 : 1.0);
        Assert.Equal(new RunHealthResult(HealthVerdict.Collapsed, "entropy blow-up: entropy (10-step mean) above 0.8 nats for 73 steps from step 28"),
            RunHealth.Judge(None, entropy, None));
    }

    [Fact]
    public void An_entropy_rise_that_ends_within_50_steps_is_healthy_and_one_still_on_at_the_end_is_degraded()
    {
        // 1.0 on steps 21..60: the mean is above 0.8 on steps 28..62 (35 steps), then falls back.
        Assert.Equal(HealthVerdict.Healthy, RunHealth.Judge(None, Steps(100, s => s is > 20 and <= 60 ? 1.0 : 0.3), None).Verdict);
        // 1.0 from step 61: above on steps 68..100, 33 steps, when the run ends.
        Assert.Equal(new RunHealthResult(HealthVerdict.Degraded, "entropy blow-up at the end: entropy (10-step mean) above 0.8 nats for the last 33 steps"),
            RunHealth.Judge(None, Steps(100, s => s <= 60 ? 0.3 : 1.0), None));
    }

    [Fact]
    public void The_entropy_threshold_is_twice_the_start_when_that_is_higher()
    {
        // m0 = 0.6: threshold max(1.2, 1.1) = 1.2; 1.15 for the rest of the run is below it.
        Assert.Equal(HealthVerdict.Healthy, RunHealth.Judge(None, Steps(100, s => s <= 10 ? 0.6 : 1.15), None).Verdict);
        Assert.Equal(HealthVerdict.Collapsed, RunHealth.Judge(None, Steps(100, s => s <= 10 ? 0.6 : 1.25), None).Verdict);
    }

    [Fact]
    public void Half_the_responses_cut_at_the_length_limit_for_50_steps_is_a_collapse_unless_the_run_started_there()
    {
        // From step 11 every response is cut: the 10-step mean reaches 0.5 at step 15 and holds to 100: 86 steps.
        Assert.Equal(new RunHealthResult(HealthVerdict.Collapsed,
                "length blow-up: 0.5 or more of the responses (10-step mean) cut at max_completion_length for 86 steps from step 15"),
            RunHealth.Judge(None, None, Steps(100, s => s <= 10 ? 0.0 : 1.0)));
        Assert.Equal(HealthVerdict.Healthy, RunHealth.Judge(None, None, Steps(100, _ => 0.6)).Verdict);
    }

    [Fact]
    public void Accuracy_collapse_is_reported_before_a_blow_up()
    {
        var result = RunHealth.Judge(Points((0, 0.5), (25, 0.8), (50, 0.3), (100, 0.3)), Steps(100, s => s <= 20 ? 0.3 : 1.0), None);
        Assert.Equal(new RunHealthResult(HealthVerdict.Collapsed, "accuracy fell to 0.3 at step 50 from a best of 0.8 and did not recover within 50 steps"), result);
    }
}
