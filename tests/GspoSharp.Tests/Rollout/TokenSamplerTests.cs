using GspoSharp.Rollout;

namespace GspoSharp.Tests.Rollout;

public class TokenSamplerTests
{
    // p = [0.5, 0.3, 0.15, 0.05]
    static Tensor Logits() => Logits(0.5, 0.3, 0.15, 0.05);

    /// <summary>Logits [1, V] whose softmax is the given distribution.</summary>
    static Tensor Logits(params double[] probabilities) =>
        tensor(probabilities.Select(p => Math.Log(p)).ToArray()).unsqueeze(0).to_type(ScalarType.Float32);

    static bool[] Kept(SamplingOptions options) => Kept(Logits(), options);

    static bool[] Kept(Tensor logits, SamplingOptions options)
    {
        using var scope = NewDisposeScope();
        var kept = TokenSampler.Truncate(logits.log_softmax(-1), options);
        return kept.isfinite()[0].data<bool>().ToArray();
    }

    /// <summary>Token ids 0..V-1 flagged as kept.</summary>
    static bool[] Only(int vocab, params int[] ids) => Enumerable.Range(0, vocab).Select(ids.Contains).ToArray();

    // A distribution where top-k removes mass: by token id
    // [0.10, 0.30, 0.04, 0.22, 0.16, 0.18]; by probability: 1 (0.30), 3 (0.22), 5 (0.18), 4 (0.16), 0 (0.10), 2 (0.04).
    // Top-3 keeps tokens 1, 3, 5 with mass 0.70; renormalised over them: 3/7 ≈ 0.4286, 11/35 ≈ 0.3143,
    // 9/35 ≈ 0.2571, so the mass before each is 0, 3/7 ≈ 0.4286, 26/35 ≈ 0.7429.
    // Reading top-p on the whole vocabulary instead, the mass before each would be 0, 0.30, 0.52.
    static readonly double[] Six = { 0.10, 0.30, 0.04, 0.22, 0.16, 0.18 };

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

    [Theory]
    [InlineData(0.35, new[] { 1 })]        // renormalised 3/7 ≥ 0.35 (whole-vocabulary reading: 0.30 < 0.35, would keep 1, 3)
    [InlineData(0.5, new[] { 1, 3 })]      // 3/7 < 0.5 ≤ 26/35 (both readings agree)
    [InlineData(0.7, new[] { 1, 3 })]      // 3/7 < 0.7 ≤ 26/35 (whole-vocabulary: 0.52 < 0.7, would keep 1, 3, 5)
    [InlineData(0.9, new[] { 1, 3, 5 })]   // 26/35 < 0.9
    public void Top_p_acts_on_the_distribution_renormalised_over_the_top_k_survivors(double p, int[] expected)
    {
        Assert.Equal(Only(6, expected), Kept(Logits(Six), new SamplingOptions { TopK = 3, TopP = p }));
    }

    [Theory]
    [InlineData(0.57, 1L)]          // kept: token 1 with 0.30 / 0.52 = 15/26 ≈ 0.5769, token 3 with 11/26
    [InlineData(0.58, 3L)]
    [InlineData(0.9999999, 3L)]     // token 5 (0.18) is cut by top-p although top-k kept it
    public void Draws_follow_the_top_k_top_p_distribution_and_log_probs_stay_untruncated(double u, long expected)
    {
        using var scope = NewDisposeScope();
        var options = new SamplingOptions { TopK = 3, TopP = 0.7 };
        var (tokens, logProbs) = TokenSampler.Sample(Logits(Six), options, new[] { u });
        Assert.Equal(expected, tokens.item<long>());
        Assert.Equal(Math.Log(Six[expected]), logProbs.item<float>(), 5);

        var kept = TokenSampler.Truncate(Logits(Six).log_softmax(-1), options).exp()[0];
        var drawn = (kept / kept.sum()).data<float>().ToArray();
        double[] byHand = { 0, 15.0 / 26, 0, 11.0 / 26, 0, 0 };
        for (int i = 0; i < 6; i++) Assert.Equal(byHand[i], drawn[i], 6);
    }

    [Fact]
    public void Temperature_comes_before_top_k_and_top_p()
    {
        using var scope = NewDisposeScope();
        var options = new SamplingOptions { TopK = 3, TopP = 0.5 };
        // τ = 1: the mass before token 3 is 3/7 ≈ 0.4286 < 0.5, so tokens 1 and 3 stay; u near 1 draws token 3.
        var (warm, warmLogProb) = TokenSampler.Sample(Logits(Six), options, new[] { 0.9999999 });
        Assert.Equal(3, warm.item<long>());
        Assert.Equal(Math.Log(0.22), warmLogProb.item<float>(), 5);
        // τ = 0.5 squares the probabilities: top-3 masses 0.09, 0.0484, 0.0324 (sum 0.1708), so the mass
        // before token 3 is 0.09 / 0.1708 ≈ 0.527 ≥ 0.5 and token 1 alone stays.
        var (cold, coldLogProb) = TokenSampler.Sample(Logits(Six), options with { Temperature = 0.5 }, new[] { 0.9999999 });
        Assert.Equal(1, cold.item<long>());
        double squares = Six.Sum(p => p * p);   // 0.2096: the log-prob is that of the whole tempered distribution
        Assert.Equal(Math.Log(0.09 / squares), coldLogProb.item<float>(), 5);
    }

    [Theory]
    [InlineData(0.2, new[] { 0 })]          // ascending cumulative 0.25, 0.5, 0.75, 1: three are ≤ 1 − 0.2
    [InlineData(0.3, new[] { 0, 1 })]       // two are ≤ 0.7
    [InlineData(0.6, new[] { 0, 1, 2 })]    // one is ≤ 0.4
    [InlineData(0.8, new[] { 0, 1, 2, 3 })] // none is ≤ 0.2
    // Exactly on the boundary (every sum here is exact in binary): a cumulative mass equal to 1 − p is
    // removed, i.e. a token whose more likely tokens already hold exactly p is not kept.
    [InlineData(0.25, new[] { 0 })]
    [InlineData(0.5, new[] { 0, 1 })]
    [InlineData(0.75, new[] { 0, 1, 2 })]
    public void Top_p_keeps_as_many_tied_tokens_as_the_reference_rule_and_the_lower_ids(double p, int[] expected)
    {
        Assert.Equal(Only(4, expected), Kept(Logits(0.25, 0.25, 0.25, 0.25), new SamplingOptions { TopP = p }));
    }

    [Fact]
    public void Top_k_keeps_ties_with_the_kth_and_top_p_then_cuts_among_them()
    {
        var logits = Logits(0.2, 0.4, 0.2, 0.2);
        Assert.Equal(Only(4, 0, 1, 2, 3), Kept(logits, new SamplingOptions { TopK = 2 }));   // three tie with the 2nd
        // Ascending cumulative 0.2, 0.4, 0.6, 1: two are ≤ 1 − 0.5, so two tokens stay: 0.4 and the lowest-id 0.2.
        Assert.Equal(Only(4, 0, 1), Kept(logits, new SamplingOptions { TopK = 2, TopP = 0.5 }));
        Assert.Equal(Only(4, 1), Kept(logits, new SamplingOptions { TopK = 2, TopP = 0.01 }));   // the most likely always stays
    }

    [Fact]
    public void Truncation_matches_the_rule_worked_out_exactly_on_many_distributions_with_ties()
    {
        var random = new Random(17);
        int compared = 0;
        for (int trial = 0; trial < 300; trial++)
        {
            int vocab = random.Next(2, 41);
            int largest = trial % 2 == 0 ? 4 : 60;   // few distinct weights: many ties
            var weights = Enumerable.Range(0, vocab).Select(_ => random.Next(1, largest + 1)).ToArray();
            int? k = random.Next(4) == 0 ? null : random.Next(0, vocab + 2);
            double p = random.Next(4) == 0 ? 1.0 : 0.02 + 0.97 * random.NextDouble();
            var expected = KeptByDefinition(weights, k, p, out double margin);
            if (margin < 1e-4) continue;   // too near a boundary for float32 sums
            compared++;
            Assert.Equal(expected, Kept(Logits(weights.Select(w => (double)w).ToArray()), new SamplingOptions { TopK = k, TopP = p }));
        }
        Assert.True(compared >= 250, $"only {compared} cases compared");
    }

    /// <summary>
    /// The truncation by its definition, in exact integer arithmetic on weights w (probabilities w / Σw):
    /// top-k keeps every token whose weight is at least the k-th largest; then, over the survivors
    /// (total S) ordered by weight with lower ids first among ties, a token stays while the weight
    /// of those before it is below p·S. <paramref name="margin"/>: how near a mass before is to p.
    /// </summary>
    static bool[] KeptByDefinition(int[] weights, int? k, double p, out double margin)
    {
        int vocab = weights.Length;
        int kth = k is { } n && n > 0 && n < vocab ? weights.OrderByDescending(w => w).ElementAt(n - 1) : 0;
        var survivors = Enumerable.Range(0, vocab).Where(i => weights[i] >= kth).ToList();
        var kept = new bool[vocab];
        margin = double.PositiveInfinity;
        if (p >= 1)
        {
            foreach (int i in survivors) kept[i] = true;
            return kept;
        }
        long total = survivors.Sum(i => (long)weights[i]), before = 0;
        foreach (int i in survivors.OrderByDescending(i => weights[i]).ThenBy(i => i))
        {
            double massBefore = (double)before / total;
            margin = Math.Min(margin, Math.Abs(massBefore - p));
            kept[i] = massBefore < p;
            before += weights[i];
        }
        return kept;
    }

    [Fact]
    public void Top_k_keeps_the_k_most_likely()
    {
        Assert.Equal(new[] { true, true, false, false }, Kept(new SamplingOptions { TopK = 2 }));
        Assert.Equal(new[] { true, false, false, false }, Kept(new SamplingOptions { TopK = 1, TopP = 0.9 }));
    }

    [Fact]
    public void Top_k_of_zero_or_beyond_the_vocabulary_and_top_p_of_one_keep_everything()
    {
        var all = new[] { true, true, true, true };
        Assert.Equal(all, Kept(new SamplingOptions { TopK = 0 }));
        Assert.Equal(all, Kept(new SamplingOptions { TopK = 4, TopP = 1.0 }));
        Assert.Equal(all, Kept(new SamplingOptions { TopK = 100 }));
        Assert.Equal(all, Kept(new SamplingOptions()));
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

    [Theory]
    [InlineData(0.3, 1L)]
    [InlineData(0.9, 1L)]
    public void A_vanishing_temperature_samples_the_greedy_limit_without_overflow(double u, long expected)
    {
        using var scope = NewDisposeScope();
        // logits / 1e-40 overflow float32; the limit τ → 0 puts all the mass on the largest logit.
        var logits = tensor(new[] { 2.0f, 3.0f, -1.0f, 0.5f }).unsqueeze(0);
        var (tokens, logProbs) = TokenSampler.Sample(logits, new SamplingOptions { Temperature = 1e-40 }, new[] { u });
        Assert.Equal(expected, tokens.item<long>());
        Assert.Equal(0.0, logProbs.item<float>());
    }

    [Theory]
    [InlineData(0.3, 0L)]
    [InlineData(0.7, 2L)]
    public void A_vanishing_temperature_splits_the_mass_between_tied_largest_logits(double u, long expected)
    {
        using var scope = NewDisposeScope();
        var logits = tensor(new[] { 3.0f, -1.0f, 3.0f }).unsqueeze(0);
        var (tokens, logProbs) = TokenSampler.Sample(logits, new SamplingOptions { Temperature = 1e-40 }, new[] { u });
        Assert.Equal(expected, tokens.item<long>());
        Assert.Equal(Math.Log(0.5), logProbs.item<float>(), 6);
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
    public void Sampling_leaves_no_live_tensors_behind()
    {
        using var outer = NewDisposeScope();
        var logits = Logits(Six).expand(3, 6).contiguous();
        var stats = DisposeScopeManager.Statistics;
        long live = stats.ThreadTotalLiveCount;
        foreach (var options in new[] { new SamplingOptions { TopK = 3, TopP = 0.7, Temperature = 0.8 }, new SamplingOptions { TopP = 0.5 },
                     new SamplingOptions { TopK = 2 }, new SamplingOptions(), new SamplingOptions { Temperature = 0 } })
        {
            var (tokens, logProbs) = TokenSampler.Sample(logits, options, new[] { 0.2, 0.5, 0.9 });
            tokens.Dispose();
            logProbs.Dispose();
        }
        Assert.Equal(live, stats.ThreadTotalLiveCount);
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
