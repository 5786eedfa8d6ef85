using GspoSharp.Objectives;

namespace GspoSharp.Tests.Objectives;

public class PolicyBatchValidationTests
{
    static string Error(PolicyBatch batch, PolicyObjectiveOptions? options = null) =>
        Assert.Throws<ArgumentException>(() => PolicyObjective.Compute(batch, options ?? PolicyObjectiveOptions.Gspo()).Dispose()).Message;

    [Fact]
    public void Wrong_shapes_name_the_tensor_and_both_shapes()
    {
        using var scope = NewDisposeScope();
        var lp = zeros(2, 3);
        Assert.Contains("OldLogProbs must be [2, 3] like LogProbs; got [2, 4]", Error(new PolicyBatch(lp, zeros(2, 4), zeros(2), ones(2, 3))));
        Assert.Contains("ResponseMask must be [2, 3]", Error(new PolicyBatch(lp, zeros(2, 3), zeros(2), ones(3, 3))));
        Assert.Contains("Advantages must be [2] or [2, 3]", Error(new PolicyBatch(lp, zeros(2, 3), zeros(3), ones(2, 3))));
        Assert.Contains("LogProbs must be [B, T]; got [6]", Error(new PolicyBatch(zeros(6), zeros(6), zeros(6), ones(6))));
        Assert.Contains("RefLogProbs must be [2, 3]", Error(new PolicyBatch(lp, zeros(2, 3), zeros(2), ones(2, 3)) { RefLogProbs = zeros(3) }));
    }

    [Fact]
    public void Per_token_advantages_need_a_token_level_ratio()
    {
        using var scope = NewDisposeScope();
        var batch = new PolicyBatch(zeros(2, 3), zeros(2, 3), zeros(2, 3), ones(2, 3));
        Assert.Contains("use sequence_token", Error(batch));
        using var ok = PolicyObjective.Compute(batch, PolicyObjectiveOptions.GspoToken());
        Assert.Equal(0.0f, ok.Loss.item<float>());
    }

    [Fact]
    public void Beta_without_reference_and_integer_log_probs_are_rejected()
    {
        using var scope = NewDisposeScope();
        Assert.Contains("no RefLogProbs", Error(new PolicyBatch(zeros(2, 3), zeros(2, 3), zeros(2), ones(2, 3)),
            PolicyObjectiveOptions.Gspo() with { Beta = 0.1 }));
        Assert.Contains("floating-point", Error(new PolicyBatch(zeros(2, 3, ScalarType.Int64), zeros(2, 3), zeros(2), ones(2, 3))));
    }
}
