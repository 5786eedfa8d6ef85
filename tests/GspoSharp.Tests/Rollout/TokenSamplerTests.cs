using GspoSharp.Rollout;

namespace GspoSharp.Tests.Rollout;

public class TokenSamplerTests
{
    // p = [0.5, 0.3, 0.15, 0.05]
    static Tensor Logits() => tensor(new[] { 0.5, 0.3, 0.15, 0.05 }.Select(p => Math.Log(p)).ToArray()).unsqueeze(0).to_type(ScalarType.Float32);

    static bool[] Kept(SamplingOptions options)
    {
        using var scope = NewDisposeScope();
        var kept = TokenSampler.Truncate(Logits().log_softmax(-1), options);
        return kept.isfinite()[0].data<bool>().ToArray();
    }

    [Theory]
    [InlineData(0.3, new[] { true, false, false, false })]    // 0.5 alone reaches 0.3
    [InlineData(0.49, new[] { true, false, false, false })]
    [InlineData(0.51, new[] { true, true, false, false })]    // 0.5 < 0.51 ≤ 0.8
    [InlineData(0.79, new[] { true, true, false, false })]
    [InlineData(0.81, new[] { true, true, true, false })]     // 0.8 < 0.81 ≤ 0.95
    [InlineData(0.96, new[] { true, true, true, true })]
    [InlineData(1.0, new[] { true, true, true, true })]
    public void Top_p_keeps_the_smallest_set_whose_mass_reaches_p(double p, bool[] expected)
    {
        Assert.Equal(expected, Kept(new SamplingOptions { TopP = p }));
    }

    [Fact]
    public void Top_k_keeps_the_k_most_likely()
    {
        Assert.Equal(new[] { true, true, false, false }, Kept(new SamplingOptions { TopK = 2 }));
        Assert.Equal(new[] { true, false, false, false }, Kept(new SamplingOptions { TopK = 1, TopP = 0.9 }));
    }

    [Theory]
    [InlineData(0.10, 0)]   // u·1 = 0.10 ≤ CDF 0.5 at token 0
    [InlineData(0.50, 0)]
    [InlineData(0.51, 1)]   // CDF: 0.5, 0.8, 0.95, 1.0
    [InlineData(0.94, 2)]
    [InlineData(0.999, 3)]
    public void Inverse_cdf_picks_the_first_token_whose_mass_reaches_u(double u, long expected)
    {
        using var scope = NewDisposeScope();
        var (tokens, logProbs) = TokenSampler.Sample(Logits(), new SamplingOptions(), new[] { u });
        Assert.Equal(expected, tokens.item<long>());
        Assert.Equal(Math.Log(new[] { 0.5, 0.3, 0.15, 0.05 }[expected]), logProbs.item<float>(), 5);
    }

    [Fact]
    public void Truncated_tokens_are_never_drawn_and_log_probs_are_before_truncation()
    {
        using var scope = NewDisposeScope();
        var options = new SamplingOptions { TopK = 2, Temperature = 2.0 };
        // Tempered p ∝ √p: [0.7071, 0.5477, 0.3873, 0.2236] / 1.8657; top-2 renormalised: 0.5635 / 0.4365.
        var (tokens, logProbs) = TokenSampler.Sample(Logits(), options, new[] { 0.9999999 });
        Assert.Equal(1, tokens.item<long>());
        double tempered = Math.Sqrt(0.3) / new[] { 0.5, 0.3, 0.15, 0.05 }.Sum(p => Math.Sqrt(p));
        Assert.Equal(Math.Log(tempered), logProbs.item<float>(), 5);
    }

    [Fact]
    public void Sampling_frequencies_follow_the_distribution()
    {
        var random = new SampleRandom(1, 0, 0);
        var counts = new int[4];
        using var scope = NewDisposeScope();
        var logits = Logits().expand(20000, 4).contiguous();
        var uniforms = Enumerable.Range(0, 20000).Select(_ => random.NextUniform()).ToArray();
        var (tokens, _) = TokenSampler.Sample(logits, new SamplingOptions(), uniforms);
        foreach (var t in tokens.data<long>().ToArray()) counts[t]++;
        double[] expected = { 0.5, 0.3, 0.15, 0.05 };
        for (int i = 0; i < 4; i++)
            Assert.InRange(counts[i] / 20000.0, expected[i] - 0.015, expected[i] + 0.015);
    }
}
