using GspoSharp.Models.Architecture;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>The transposed product of gradient-free passes over a few rows is x Wᵀ + b.</summary>
public class FewRowsLinearTests
{
    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(8, false)]
    [InlineData(8, true)]
    [InlineData(32, true)]
    [InlineData(33, true)]
    public void Equals_the_linear_layer(int rows, bool withBias)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator(3);
        // float64 with small integers: every product and sum is exact, so any order of summation agrees bit for bit.
        var weight = randint(-3, 4, new long[] { 1024, 1024 }, ScalarType.Float64, generator: generator);   // ≥ MinWeightElements
        var bias = withBias ? randint(-3, 4, new long[] { 1024 }, ScalarType.Float64, generator: generator) : null;
        var x = randint(-3, 4, new long[] { rows, 1, 1024 }, ScalarType.Float64, generator: generator);
        var expected = einsum("rti,oi->rto", x, weight);
        if (bias is not null) expected = expected.add(bias, 1);
        var y = FewRowsLinear.Apply(x, weight, bias);
        Assert.Equal(new long[] { rows, 1, 1024 }, y.shape);
        Assert.True(y.is_contiguous());
        Assert.True(y.eq(expected).all().item<bool>());
    }

    [Fact]
    public void A_pass_that_records_gradients_uses_the_linear_layer()
    {
        using var scope = NewDisposeScope();
        var weight = randn(1024, 1024).requires_grad_();
        var x = randn(4, 1024);
        var y = FewRowsLinear.Apply(x, weight);
        Assert.True(y.eq(nn.functional.linear(x, weight)).all().item<bool>());
        y.sum().backward();
        Assert.True(weight.grad is not null);
    }
}
