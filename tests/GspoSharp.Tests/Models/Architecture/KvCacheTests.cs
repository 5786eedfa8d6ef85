using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>Incremental decoding with the KV cache reproduces the full forward pass.</summary>
public class KvCacheTests
{
    static readonly long[][] Sequences =
    {
        new long[] { 4, 9, 13, 2, 7, 7, 30, 11, 5 },
        new long[] { 22, 1, 40, 3, 3, 18 },
        new long[] { 8, 60, 14, 27, 9, 2, 50, 33, 12, 6, 19 },
    };

    /// <summary>Left-pads the sequences into [B, L] ids and mask (pad id 0).</summary>
    static (Tensor Ids, Tensor Mask) LeftPadded(long[][] sequences)
    {
        int width = sequences.Max(s => s.Length);
        var ids = new long[sequences.Length * width];
        var mask = new bool[sequences.Length * width];
        for (int i = 0; i < sequences.Length; i++)
            for (int j = 0; j < sequences[i].Length; j++)
            {
                int column = width - sequences[i].Length + j;
                ids[i * width + column] = sequences[i][j];
                mask[i * width + column] = true;
            }
        return (tensor(ids, new long[] { sequences.Length, width }), tensor(mask, new long[] { sequences.Length, width }));
    }

    /// <summary>The identity, in float64 with large random weights (so nothing hides below rounding),
    /// and the float32 path with Hugging Face initialisation to within 1e-5.</summary>
    public static TheoryData<ModelType, ScalarType> TypesAndPrecisions()
    {
        var data = new TheoryData<ModelType, ScalarType>();
        foreach (var type in AllTypes)
            foreach (var dtype in new[] { ScalarType.Float64, ScalarType.Float32 })
                data.Add(type, dtype);
        return data;
    }

    static CausalLm Model(ModelType type, ScalarType dtype)
    {
        if (dtype == ScalarType.Float64) return RandomModel(Config(type), dtype: dtype);
        var lm = new CausalLm(Config(type));
        lm.InitializeWeights(5);
        return lm;
    }

    static double Tolerance(ScalarType dtype) => dtype == ScalarType.Float64 ? 1e-10 : 1e-5;

    [Theory]
    [MemberData(nameof(TypesAndPrecisions))]
    public void Prefill_then_one_token_at_a_time_reproduces_the_full_forward(ModelType type, ScalarType dtype)
    {
        using var lm = Model(type, dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (bool padded in new[] { false, true })
        {
            var sequences = padded ? Sequences : Sequences.Select(s => s.Take(6).ToArray()).ToArray();
            var (ids, mask) = LeftPadded(sequences);
            long width = ids.shape[1], prefill = 4;
            var full = lm.Logits(lm.Forward(ids, mask));

            using var cache = lm.NewCache(ids.shape[0], width);
            var steps = new List<Tensor> { lm.Logits(lm.Forward(ids.narrow(1, 0, prefill), mask.narrow(1, 0, prefill), cache)) };
            for (long t = prefill; t < width; t++)
                steps.Add(lm.Logits(lm.Forward(ids.narrow(1, t, 1), mask.narrow(1, t, 1), cache)));
            var incremental = cat(steps.ToArray(), 1);

            // Compare at real tokens only (a padded query attends only itself).
            var real = mask.unsqueeze(-1).expand_as(full);
            double diff = MaxDiff(full.masked_select(real), incremental.masked_select(real));
            Assert.True(diff <= Tolerance(dtype), $"{type} {dtype}, padded = {padded}: max |full − incremental| = {diff}");
            Assert.Equal(width, cache.Length);
        }
    }

    [Theory]
    [MemberData(nameof(TypesAndPrecisions))]
    public void A_sequences_logits_do_not_depend_on_the_padding_in_its_batch(ModelType type, ScalarType dtype)
    {
        using var lm = Model(type, dtype);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (ids, mask) = LeftPadded(Sequences);
        var batched = lm.Logits(lm.Forward(ids, mask));
        for (int i = 0; i < Sequences.Length; i++)
        {
            var alone = lm.Logits(lm.Forward(tensor(Sequences[i]).unsqueeze(0)))[0];
            var inBatch = batched[i].narrow(0, ids.shape[1] - Sequences[i].Length, Sequences[i].Length);
            double diff = MaxDiff(alone, inBatch);
            Assert.True(diff <= Tolerance(dtype), $"{type} {dtype}, sequence {i}: max |alone − left-padded| = {diff}");
        }

        // Right padding works too (positions count real tokens; keys beyond the end are masked).
        var right = zeros(new long[] { 1, 9 }, ScalarType.Int64);
        right[0, ..6] = tensor(Sequences[1]);
        var rightMask = arange(9).lt(6).unsqueeze(0);
        var rightLogits = lm.Logits(lm.Forward(right, rightMask))[0].narrow(0, 0, 6);
        Assert.True(MaxDiff(lm.Logits(lm.Forward(tensor(Sequences[1]).unsqueeze(0)))[0], rightLogits) <= Tolerance(dtype));
    }

    [Fact]
    public void Selecting_and_repeating_rows_keeps_each_rows_cache()
    {
        using var lm = RandomModel(Config(ModelType.Qwen3));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (ids, mask) = LeftPadded(Sequences);
        using var cache = lm.NewCache(3, ids.shape[1] + 2, maxRows: 4);
        lm.Forward(ids, mask, cache);
        cache.SelectRows(tensor(new long[] { 2, 2, 0, 1 }));   // grow in place: row 2 twice (shared prefill)

        var next = tensor(new long[] { 7, 7, 7, 7 }).unsqueeze(1);
        var step = lm.Logits(lm.Forward(next, ones(4, 1, ScalarType.Bool), cache))[.., 0];
        foreach (var (row, source) in new[] { (0, 2), (1, 2), (2, 0), (3, 1) })
        {
            var alone = lm.Logits(lm.Forward(tensor(Sequences[source].Append(7L).ToArray()).unsqueeze(0)))[0, -1];
            Assert.True(MaxDiff(alone, step[row]) <= 1e-5, $"row {row} (prompt {source})");
        }

        cache.SelectRows(tensor(new long[] { 3, 0 }));           // shrink: keep prompt 1 and the first copy of prompt 2
        var last = lm.Logits(lm.Forward(tensor(new long[] { 5, 5 }).unsqueeze(1), cache: cache))[.., 0];
        foreach (var (row, source) in new[] { (0, 1), (1, 2) })
        {
            var alone = lm.Logits(lm.Forward(tensor(Sequences[source].Append(7L).Append(5L).ToArray()).unsqueeze(0)))[0, -1];
            Assert.True(MaxDiff(alone, last[row]) <= 1e-5, $"after shrinking, row {row} (prompt {source})");
        }
    }

    [Fact]
    public void A_full_cache_refuses_more_tokens()
    {
        using var lm = RandomModel(Config(ModelType.Llama));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var cache = lm.NewCache(1, 3);
        lm.Forward(tensor(new long[] { 1, 2, 3 }).unsqueeze(0), cache: cache);
        var error = Assert.Throws<InvalidOperationException>(() => lm.Forward(tensor(new long[] { 4 }).unsqueeze(0), cache: cache));
        Assert.Contains("capacity 3", error.Message);
    }
}
