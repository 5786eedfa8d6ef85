using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary>Products split across two threads (<see cref="ProductSplit"/>) are the products, and the scope
/// puts everything back.</summary>
public class ProductSplitTests
{
    /// <summary>One layer of the 30M-class shape (hidden 512, intermediate 1536; ~3.4 M parameters): every
    /// projection at least <see cref="ProductSplit.MinWeightElements"/>, gate/up above FewRowsLinear's bound.
    /// Qwen2, for the q/k/v biases.</summary>
    static ModelConfig Layer() => TinyConfigs.Create(ModelType.Qwen2, ModelSize.Bench50M, 512, shape: new ModelShape(NumHiddenLayers: 1));

    [Fact]
    public void Split_products_equal_the_whole_ones_in_both_paths_and_small_or_training_products_are_not_split()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator(7);
        var large = randn(new long[] { 2048, 512 }, ScalarType.Float64, generator: generator);   // 1,048,576 elements: the transposed path too
        var bias = randn(new long[] { 2048 }, ScalarType.Float64, generator: generator);
        var small = randn(new long[] { 256, 512 }, ScalarType.Float64, generator: generator);   // 131,072: below the bound
        var inputs = new[] { new long[] { 1, 512 }, new long[] { 8, 512 }, new long[] { 64, 512 }, new long[] { 3, 1, 512 } }
            .Select(shape => randn(shape, ScalarType.Float64, generator: generator)).ToList();

        // Expected: LibTorch's own product, without a split, in float64.
        var expected = inputs.Select(x => (WithBias: nn.functional.linear(x, large, bias), Without: nn.functional.linear(x, large))).ToList();
        long before = ProductSplit.Splits;
        using (ProductSplit.Begin())
        {
            Assert.Equal(1, get_num_threads());
            for (int i = 0; i < inputs.Count; i++)
            {
                var withBias = FewRowsLinear.Apply(inputs[i], large, bias);
                var without = FewRowsLinear.Apply(inputs[i], large);
                Assert.Equal(expected[i].WithBias.shape, withBias.shape);
                Assert.True(MaxDiff(expected[i].WithBias, withBias) <= 1e-12 * expected[i].WithBias.abs().max().item<double>(), $"input {i} with bias");
                Assert.True(MaxDiff(expected[i].Without, without) <= 1e-12 * expected[i].Without.abs().max().item<double>(), $"input {i}");
            }
            Assert.Equal(before + 2 * inputs.Count, ProductSplit.Splits);

            FewRowsLinear.Apply(inputs[2], small);
            using (enable_grad()) FewRowsLinear.Apply(inputs[2], large);
            Assert.Equal(before + 2 * inputs.Count, ProductSplit.Splits);
        }
        FewRowsLinear.Apply(inputs[2], large);   // after the scope: not split
        Assert.Equal(before + 2 * inputs.Count, ProductSplit.Splits);
    }

    [Fact]
    public void The_scope_runs_LibTorch_on_one_thread_and_restores_the_count_even_when_nested()
    {
        int before = get_num_threads();
        using (IntraOpThreads.Use(2))
        {
            using (ProductSplit.Begin())
            {
                Assert.Equal(1, get_num_threads());
                using (ProductSplit.Begin()) Assert.Equal(1, get_num_threads());
                Assert.Equal(1, get_num_threads());
            }
            Assert.Equal(2, get_num_threads());
        }
        Assert.Equal(before, get_num_threads());
    }

    [Fact]
    public void Decoding_with_the_cache_under_a_split_reproduces_the_full_forward()
    {
        using var lm = RandomModel(Layer(), dtype: ScalarType.Float64);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var sequences = new[] { new long[] { 4, 9, 13, 2, 7, 7, 30, 11 }, new long[] { 22, 1, 40, 3, 3, 18, 5, 9 }, new long[] { 8, 60, 14, 27, 9, 2, 50, 33 } };
        var ids = tensor(sequences.SelectMany(s => s).ToArray(), new long[] { 3, 8 });
        var mask = ones(new long[] { 3, 8 }, ScalarType.Bool);
        var full = lm.Logits(lm.Forward(ids, mask));   // no split

        long before = ProductSplit.Splits;
        Tensor incremental;
        using (lm.FuseProjections())   // as the rollout engine decodes: fused q/k/v and gate/up, held weights
        using (ProductSplit.Begin())
        {
            using var cache = lm.NewCache(3, 8);
            var steps = new List<Tensor> { lm.Logits(lm.Forward(ids.narrow(1, 0, 4), mask.narrow(1, 0, 4), cache)) };
            for (long t = 4; t < 8; t++) steps.Add(lm.Logits(lm.Forward(ids.narrow(1, t, 1), mask.narrow(1, t, 1), cache)));
            incremental = cat(steps.ToArray(), 1);
        }
        // Every projection and the head of every pass (prefill and four steps) was split.
        Assert.True(ProductSplit.Splits - before >= 5 * 5, $"{ProductSplit.Splits - before} splits");
        double scale = full.abs().max().item<double>();
        Assert.True(MaxDiff(full, incremental) <= 1e-10 * scale, $"max |full − incremental| = {MaxDiff(full, incremental)} of {scale}");
    }

    [Fact]
    public async Task In_process_sampling_splits_models_of_a_million_parameters_unless_a_count_is_asked_for()
    {
        using var lm = RandomModel(Layer());
        Assert.True(lm.Config.ParameterCount() >= IntraOpThreads.SingleThreadParameters);
        var prompts = new[] { new long[] { 5, 9, 2 }, new long[] { 17, 3, 44, 8 } };
        var options = new SamplingOptions { MaxNewTokens = 3, SamplesPerPrompt = 2, Seed = 11 };
        using (IntraOpThreads.Use(2))   // the test process runs on one thread (TestSetup); the split needs two
        {
            long before = ProductSplit.Splits;
            var seen = new List<int>();
            using (var auto = new LocalRolloutBackend(lm) { OnToken = (_, _, _) => seen.Add(get_num_threads()) })
            using (await auto.GenerateAsync(prompts, options)) { }
            Assert.True(ProductSplit.Splits > before);
            Assert.All(seen, n => Assert.Equal(1, n));   // LibTorch on one thread, the products on two
            Assert.Equal(2, get_num_threads());

            before = ProductSplit.Splits;
            using (var two = new LocalRolloutBackend(lm) { Threads = 2 })
            using (await two.GenerateAsync(prompts, options)) { }
            Assert.Equal(before, ProductSplit.Splits);
        }
        // More than two threads: LibTorch's own, which divide the products further on more cores.
        using (IntraOpThreads.Use(3))
        {
            long before = ProductSplit.Splits;
            using (var auto = new LocalRolloutBackend(lm))
            using (await auto.GenerateAsync(prompts, options)) { }
            Assert.Equal(before, ProductSplit.Splits);
        }
        // On one thread (as the tests run) nothing is split.
        long onOne = ProductSplit.Splits;
        using (var one = new LocalRolloutBackend(lm))
        using (await one.GenerateAsync(prompts, options)) { }
        Assert.Equal(onOne, ProductSplit.Splits);
    }

    [Fact]
    public void A_split_belongs_to_the_thread_that_began_it()
    {
        var split = ProductSplit.Begin();
        Exception? error = null;
        var other = new Thread(() => error = Record.Exception(split.Dispose));
        other.Start();
        other.Join();
        Assert.IsType<InvalidOperationException>(error);
        split.Dispose();
    }
}
