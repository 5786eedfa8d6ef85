using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using static GspoSharp.Tests.Models.Architecture.ModelTestKit;

namespace GspoSharp.Tests.Models.Adapters;

/// <summary>
/// A LoRA run's frozen base kept in bfloat16 or float16 (base_dtype): the model computes exactly what
/// a float32 model holding the rounded weights computes, only the adapters train, and saving writes
/// the base in the dtype it is stored in.
/// </summary>
public class HalfBaseTests
{
    static readonly LoraSettings AllLinear = new(4, 8, 0, new[] { LoraSettings.AllLinear }, false);

    static Tensor Ids() => tensor(new long[] { 4, 9, 13, 2, 7, 7, 30, 11, 22, 1, 40, 3, 3, 18, 5, 6 }, new long[] { 2, 8 });

    /// <summary>float32 → bfloat16 → float32 by bit arithmetic, round to nearest even (finite values), independent of LibTorch.</summary>
    static float RoundToBfloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        bits += 0x7FFFu + ((bits >> 16) & 1u);
        return BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
    }

    /// <summary>float32 → float16 → float32 through .NET's Half (IEEE 754 round to nearest even), independent of LibTorch.</summary>
    static float RoundToFloat16(float value) => (float)(Half)value;

    static CausalLm Model(ModelType type)
    {
        var lm = new CausalLm(Config(type));
        lm.InitializeWeights(5);
        Lora.Attach(lm, AllLinear, seed: 1);
        LoraTests.Randomize(lm, 0.05);
        return lm;
    }

    /// <summary>The same model with every projection weight replaced by its rounding, computed in C# (still float32).</summary>
    static CausalLm Rounded(ModelType type, Func<float, float> round)
    {
        var lm = Model(type);
        using var noGrad = no_grad();
        foreach (var (_, layer) in lm.Projections())
        {
            var values = layer.Weight.data<float>().ToArray().Select(round).ToArray();
            layer.Weight.copy_(tensor(values, layer.Weight.shape));
        }
        return lm;
    }

    public static TheoryData<ModelType, string> TypesAndDtypes()
    {
        var data = new TheoryData<ModelType, string>();
        foreach (var type in AllTypes) data.Add(type, "bfloat16");
        data.Add(ModelType.Qwen3, "float16");
        return data;
    }

    static (ScalarType Dtype, Func<float, float> Round) Half(string name) =>
        name == "bfloat16" ? (ScalarType.BFloat16, RoundToBfloat16) : (ScalarType.Float16, RoundToFloat16);

    [Theory]
    [MemberData(nameof(TypesAndDtypes))]
    public void A_half_precision_base_computes_exactly_what_float32_rounded_weights_compute(ModelType type, string dtypeName)
    {
        var (dtype, round) = Half(dtypeName);
        using var half = Model(type);
        Lora.StoreBase(half, dtype);
        using var reference = Rounded(type, round);
        Assert.All(half.Projections(), p => Assert.Equal(dtype, p.Layer.Weight.dtype));
        Assert.All(half.Projections(), p => Assert.Equal(ScalarType.Float32, p.Layer.Adapter!.A.dtype));

        using var scope = NewDisposeScope();
        var ids = Ids();
        using (no_grad())
        {
            // The stored values are the rounded ones, and the outputs are bit for bit those of the float32 model holding them.
            foreach (var ((_, h), (_, r)) in half.Projections().Zip(reference.Projections()))
                Assert.Equal(r.Weight.data<float>().ToArray(), h.Weight.to_type(ScalarType.Float32).data<float>().ToArray());
            Assert.Equal(reference.Logits(reference.Forward(ids)).data<float>().ToArray(), half.Logits(half.Forward(ids)).data<float>().ToArray());
        }

        // Gradients reach the adapters only, and equal the float32 model's.
        foreach (var lm in new[] { half, reference })
        {
            lm.train();
            using var loss = lm.Logits(lm.Forward(ids)).square().mean();
            loss.backward();
        }
        Assert.All(half.Projections(), p => Assert.True(!p.Layer.Weight.requires_grad && p.Layer.Weight.grad is null, p.Name));
        Assert.All(half.named_parameters(), p => Assert.False(p.parameter.requires_grad, p.name));
        var trainable = half.TrainableParameters();
        Assert.Equal(2 * half.Projections().Count, trainable.Count);
        foreach (var ((name, h), (_, r)) in trainable.Zip(reference.TrainableParameters()))
        {
            if (r.grad is null)   // an MoE expert no token was routed to
            {
                Assert.Null(h.grad);
                continue;
            }
            double scale = Row(r.grad!).Max(Math.Abs);
            Assert.True(scale > 0, name);
            Assert.True(MaxDiff(h.grad!, r.grad!) <= 1e-6 * scale, $"{name}: max |Δgrad| = {MaxDiff(h.grad!, r.grad!)} of {scale}");
        }
    }

    [Fact]
    public void Gradient_checkpointing_with_a_half_precision_base_gives_the_same_adapter_gradients()
    {
        using var plain = Model(ModelType.Qwen3);
        using var recomputed = Model(ModelType.Qwen3);
        Lora.StoreBase(plain, ScalarType.BFloat16);
        Lora.StoreBase(recomputed, ScalarType.BFloat16);
        recomputed.GradientCheckpointing = true;
        using var scope = NewDisposeScope();
        foreach (var lm in new[] { plain, recomputed })
        {
            lm.train();
            using var loss = lm.Logits(lm.Forward(Ids())).square().mean();
            loss.backward();
        }
        foreach (var ((name, a), (_, b)) in plain.TrainableParameters().Zip(recomputed.TrainableParameters()))
            Assert.True(MaxDiff(a.grad!, b.grad!) <= 1e-6 * Row(a.grad!).Max(Math.Abs), name);
    }

    [Fact]
    public void Storing_the_weight_in_half_precision_keeps_the_state_dict_names()
    {
        using var lm = Model(ModelType.Qwen3Moe);
        var before = lm.named_parameters().Select(p => p.name).ToList();
        Lora.StoreBase(lm, ScalarType.BFloat16);
        Assert.Equal(before, lm.named_parameters().Select(p => p.name).ToList());
        Assert.Contains(lm.named_parameters(), p => p.name.EndsWith("mlp.gate.weight") && p.parameter.dtype == ScalarType.BFloat16);
        Assert.All(lm.named_parameters().Where(p => p.name.Contains("norm") || p.name.Contains("embed")),
            p => Assert.Equal(ScalarType.Float32, p.parameter.dtype));
    }

    [Fact]
    public void A_bfloat16_checkpoint_loads_with_a_bfloat16_base_and_saves_back_unchanged()
    {
        using var dir = new TempDirectory();
        string stored = Path.Combine(dir.Path, "bf16"), again = Path.Combine(dir.Path, "again");
        using (var lm = new CausalLm(Config(ModelType.Qwen3)))
        {
            lm.InitializeWeights(5);
            ModelDirectory.Save(lm, stored, storageDtype: ScalarType.BFloat16);
        }
        using var loaded = ModelDirectory.Load(stored, projectionWeightDtype: ScalarType.BFloat16);
        Assert.All(loaded.Projections(), p => Assert.Equal(ScalarType.BFloat16, p.Layer.Weight.dtype));
        Assert.All(loaded.named_parameters().Where(p => !p.name.EndsWith("_proj.weight")), p => Assert.Equal(ScalarType.Float32, p.parameter.dtype));
        ModelDirectory.Save(loaded, again, storageDtype: ScalarType.BFloat16);
        using var original = SafetensorsReader.Open(Path.Combine(stored, HfSafetensorsCheckpoint.SingleFileName));
        using var copy = SafetensorsReader.Open(Path.Combine(again, HfSafetensorsCheckpoint.SingleFileName));
        Assert.Equal(original.Entries.Select(e => (e.Name, e.Dtype)), copy.Entries.Select(e => (e.Name, e.Dtype)));
        foreach (var entry in original.Entries)
            Assert.Equal(original.ReadTensor(entry.Name).data<float>().ToArray(), copy.ReadTensor(entry.Name).data<float>().ToArray());
        Assert.Equal(File.ReadAllBytes(Path.Combine(stored, HfSafetensorsCheckpoint.SingleFileName)),
            File.ReadAllBytes(Path.Combine(again, HfSafetensorsCheckpoint.SingleFileName)));
    }

    [Fact]
    public void A_float32_checkpoint_read_into_a_bfloat16_base_is_rounded_to_nearest_even()
    {
        using var dir = new TempDirectory();
        using (var lm = new CausalLm(Config(ModelType.Qwen3)))
        {
            lm.InitializeWeights(5);
            ModelDirectory.Save(lm, dir.Path, overwrite: true);
        }
        using var full = ModelDirectory.Load(dir.Path);
        using var half = ModelDirectory.Load(dir.Path, projectionWeightDtype: ScalarType.BFloat16);
        foreach (var ((name, f), (_, h)) in full.Projections().Zip(half.Projections()))
            Assert.True(f.Weight.data<float>().ToArray().Select(RoundToBfloat16).SequenceEqual(h.Weight.to_type(ScalarType.Float32).data<float>().ToArray()), name);
    }
}
