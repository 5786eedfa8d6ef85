using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Architecture;

/// <summary><see cref="RowSplit"/> runs two halves at once and hands back both, or neither with the error; two
/// passes of one model at once compute what each computes alone.</summary>
public class RowSplitTests
{
    sealed class Result(int thread, int intraOpThreads, bool gradEnabled) : IDisposable
    {
        public int Thread => thread;
        public int IntraOpThreads => intraOpThreads;
        public bool GradEnabled => gradEnabled;
        public bool Disposed { get; private set; }
        public void Dispose() => Disposed = true;
    }

    static Result Here() => new(Environment.CurrentManagedThreadId, get_num_threads(), is_grad_enabled());

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_halves_run_on_two_threads_each_on_one_LibTorch_thread_in_the_callers_grad_mode(bool grad)
    {
        using var threads = IntraOpThreads.Use(2);
        using var mode = enable_grad(grad);
        var (first, second) = RowSplit.Run(Here, Here);
        Assert.Equal(Environment.CurrentManagedThreadId, first.Thread);
        Assert.NotEqual(first.Thread, second.Thread);
        Assert.Equal((1, 1), (first.IntraOpThreads, second.IntraOpThreads));
        Assert.Equal((grad, grad), (first.GradEnabled, second.GradEnabled));
        Assert.Equal(2, get_num_threads());
        Assert.Equal(grad, is_grad_enabled());
    }

    [Fact]
    public void A_failing_half_releases_the_other_halfs_result_and_its_exception_reaches_the_caller()
    {
        Result? made = null;
        var error = Assert.Throws<InvalidDataException>(() => RowSplit.Run<Result>(() => made = Here(), () => throw new InvalidDataException("second")));
        Assert.Equal("second", error.Message);
        Assert.True(made!.Disposed);

        made = null;
        error = Assert.Throws<InvalidDataException>(() => RowSplit.Run<Result>(() => throw new InvalidDataException("first"), () => made = Here()));
        Assert.Equal("first", error.Message);
        Assert.True(made!.Disposed);

        // Both failed: this thread's exception.
        error = Assert.Throws<InvalidDataException>(() => RowSplit.Run<Result>(() => throw new InvalidDataException("first"),
            () => throw new InvalidDataException("second")));
        Assert.Equal("first", error.Message);

        // The worker is free again afterwards.
        var (a, b) = RowSplit.Run(Here, Here);
        Assert.NotEqual(a.Thread, b.Thread);
    }

    [Fact]
    public void A_half_cannot_split_again()
    {
        Assert.Throws<InvalidOperationException>(() => RowSplit.Run(() => RowSplit.Run(Here, Here).First, Here));
        Assert.Throws<InvalidOperationException>(() => RowSplit.Run(Here, () => RowSplit.Run(Here, Here).First));
    }

    [Fact]
    public void Only_small_dense_models_without_adapters_split_and_only_with_two_threads_and_no_count_given()
    {
        using var dense = RandomModel(TinyConfigs.Create(ModelType.Qwen3, ModelSize.Tiny, 512));
        using var moe = RandomModel(TinyConfigs.Create(ModelType.Qwen3Moe, ModelSize.Tiny, 512));
        using var large = RandomModel(TinyConfigs.Create(ModelType.Qwen3, ModelSize.Small, 4096, shape: new ModelShape(NumHiddenLayers: 8)));
        Assert.True(large.Config.ParameterCount() >= IntraOpThreads.SingleThreadParameters);
        using (IntraOpThreads.Use(1)) Assert.False(RowSplit.Applies(dense, null));
        using (IntraOpThreads.Use(2))
        {
            Assert.True(RowSplit.Applies(dense, null));
            Assert.False(RowSplit.Applies(dense, 1));
            Assert.False(RowSplit.Applies(moe, null));
            Assert.False(RowSplit.Applies(large, null));
            using var adapted = RandomModel(TinyConfigs.Create(ModelType.Qwen3, ModelSize.Tiny, 512));
            Lora.Attach(adapted, new LoraSettings(4, 8, 0, new[] { LoraSettings.AllLinear }, false), seed: 1);
            Assert.False(RowSplit.Applies(adapted, null));
        }
        using (IntraOpThreads.Use(3)) Assert.True(RowSplit.Applies(dense, null));
    }

    [Fact]
    public void Two_passes_of_one_model_at_once_each_compute_what_they_compute_alone()
    {
        // float64, and a model whose rotary table has not been built: the first passes grow it (256 positions, then
        // 512) while the other half reads it.
        var config = TinyConfigs.Create(ModelType.Qwen3, ModelSize.Tiny, 512);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var generator = new Generator(5);
        var inputs = new[] { 40L, 300, 7, 500, 260, 64 }.Select(t => randint(0, 512, new[] { 2L, t }, generator: generator)).ToList();
        using var alone = RandomModel(config, dtype: ScalarType.Float64);
        var expected = inputs.Select(x => alone.Forward(x)).ToList();

        using var shared = RandomModel(config, dtype: ScalarType.Float64);
        for (int i = 0; i + 1 < inputs.Count; i += 2)
        {
            var (a, b) = RowSplit.Run(() => shared.Forward(inputs[i]), () => shared.Forward(inputs[i + 1]));
            Assert.True(a.eq(expected[i]).all().item<bool>(), $"pass {i}");
            Assert.True(b.eq(expected[i + 1]).all().item<bool>(), $"pass {i + 1}");
            b.Dispose();
        }
    }
}
