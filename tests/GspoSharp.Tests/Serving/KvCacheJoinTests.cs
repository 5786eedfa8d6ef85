using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Serving;

/// <summary>
/// Continuous batching's cache operations — rows joining a running cache (shorter and longer than it),
/// rows leaving, unused columns trimmed, the cache grown — leave every row's next-token logits equal to
/// a full forward pass over that row's tokens alone (float64, so nothing hides below rounding).
/// </summary>
public class KvCacheJoinTests
{
    [Theory]
    [InlineData(ModelType.Qwen3)]
    [InlineData(ModelType.Qwen3Moe)]
    public void Joined_trimmed_and_grown_caches_reproduce_each_rows_full_forward(ModelType type)
    {
        using var lm = RandomModel(Config(type), dtype: ScalarType.Float64);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var rows = new List<List<long>>();

        // Next-token logits of each row from a full forward over its tokens alone.
        double Expected(List<long> tokens, long vocabIndex)
        {
            var ids = tensor(tokens.ToArray(), new long[] { 1, tokens.Count });
            return lm.Logits(lm.Forward(ids).narrow(1, tokens.Count - 1, 1).squeeze(1))[0, vocabIndex].item<double>();
        }
        KvCache Prefill(long[] prompt, out Tensor logits)
        {
            var cache = lm.NewCache(1, prompt.Length);
            logits = lm.Logits(lm.Forward(tensor(prompt, new long[] { 1, prompt.Length }), cache: cache).narrow(1, prompt.Length - 1, 1).squeeze(1));
            return cache;
        }
        void Check(Tensor logits)
        {
            Assert.Equal(rows.Count, logits.shape[0]);
            for (int r = 0; r < rows.Count; r++)
                foreach (long v in new long[] { 0, 17, 60 })
                    Assert.True(Math.Abs(logits[r, v].item<double>() - Expected(rows[r], v)) < 1e-10, $"row {r}, logit {v}");
        }
        Tensor Step(KvCache cache, long[] next)
        {
            for (int r = 0; r < rows.Count; r++) rows[r].Add(next[r]);
            return lm.Logits(lm.Forward(tensor(next, new long[] { next.Length, 1 }), cache: cache).squeeze(1));
        }

        long[] a = { 4, 9, 13, 2, 7 }, b = { 22, 1, 40 }, c = { 8, 60, 14, 27, 9, 2, 50, 33, 12 };
        using var first = Prefill(a, out var logits);
        var running = first.Resized(maxRows: 3, capacity: 12);
        rows.Add(a.ToList());
        logits = Step(running, new long[] { 5 });
        logits = Step(running, new long[] { 6 });                 // a: 7 positions filled

        using (var longer = Prefill(c, out var cLogits))            // 9 > 7: the running row moves right
        {
            running.Join(longer);
            rows.Add(c.ToList());
            logits = cat(new[] { logits, cLogits }, 0);
        }
        Check(logits);
        logits = Step(running, new long[] { 11, 3 });
        using (var shorter = Prefill(b, out var bLogits))           // 3 < 10: right-aligned, padded on the left
        {
            running.Join(shorter);
            rows.Add(b.ToList());
            logits = cat(new[] { logits, bLogits }, 0);
        }
        Check(logits);
        logits = Step(running, new long[] { 1, 2, 3 });
        Assert.Equal(11, running.Length);

        // a and c leave; b uses only the last 4 columns, so 7 are trimmed; then the cache grows.
        running.SelectRows(tensor(new long[] { 2 }));
        rows.RemoveRange(0, 2);
        logits = logits.narrow(0, 2, 1);
        Assert.Equal(7, running.TrimLeft());
        Assert.Equal(4, running.Length);
        var grown = running.Resized(maxRows: 3, capacity: 40);
        running.Dispose();
        Check(logits);
        logits = Step(grown, new long[] { 44 });
        logits = Step(grown, new long[] { 45 });
        Check(logits);
        grown.Dispose();
    }
}
