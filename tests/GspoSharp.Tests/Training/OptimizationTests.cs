using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Tests.Models.Architecture;
using GspoSharp.Training;
using TorchSharp.Modules;

namespace GspoSharp.Tests.Training;

/// <summary>The AdamW step of <see cref="Optimization"/> against TorchSharp's own AdamW.step.</summary>
public class OptimizationTests
{
    /// <summary>
    /// Optimization takes its AdamW steps itself, holding every Scalar operand (docs/decisions/0005).
    /// It must compute exactly what TorchSharp's AdamW computes — here the reference, run on a twin
    /// model with the same parameter groups — bit for bit, over steps with weight decay, a schedule
    /// that changes the rate, and parameters that get no gradient in some steps (unchosen MoE experts:
    /// no update and no step count for them).
    /// </summary>
    [Fact]
    public void The_adamw_step_is_bit_identical_to_torchsharps()
    {
        var config = ModelTestKit.Config(ModelType.Qwen3Moe);
        using var ours = ModelTestKit.RandomModel(config, seed: 5);
        using var theirs = ModelTestKit.RandomModel(config, seed: 5);
        const double rate = 3e-3, decay = 0.1, beta1 = 0.8, beta2 = 0.95, eps = 1e-6;
        using var optimization = new Optimization(ours, rate, decay, beta1, beta2, eps, warmupSteps: 2, totalSteps: 5, LearningRateSchedule.Cosine);
        var decayed = theirs.named_parameters().Where(p => p.parameter.dim() >= 2).Select(p => p.parameter).ToList();
        var plain = theirs.named_parameters().Where(p => p.parameter.dim() < 2).Select(p => p.parameter).ToList();
        using var reference = optim.AdamW(new[]
        {
            new AdamW.ParamGroup(decayed, new AdamW.Options { LearningRate = rate, weight_decay = decay }),
            new AdamW.ParamGroup(plain, new AdamW.Options { LearningRate = rate, weight_decay = 0 }),
        }, rate, beta1, beta2, eps, decay);

        var names = ours.named_parameters().Select(p => p.name).ToList();
        var generator = new Generator(11);
        for (int step = 0; step < 5; step++)
        {
            optimization.ZeroGrad();
            theirs.zero_grad(set_to_none: true);
            var oursByName = ours.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            var theirsByName = theirs.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            for (int i = 0; i < names.Count; i++)
            {
                if ((i + step) % 3 == 0) continue;   // no gradient for this parameter in this step
                var grad = randn(oursByName[names[i]].shape, generator: generator);
                oursByName[names[i]].grad = grad.clone();
                theirsByName[names[i]].grad = grad.clone();
            }
            optimization.Step(maxNorm: 0);   // no clipping: the reference has none
            foreach (var group in reference.ParamGroups) group.LearningRate = optimization.RateAt(step);
            reference.step();
        }

        var expected = theirs.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        using var initial = ModelTestKit.RandomModel(config, seed: 5);
        var start = initial.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in ours.named_parameters())
        {
            Assert.False(p.eq(start[name]).all().item<bool>(), $"{name} never moved: the comparison would prove nothing");
            Assert.True(p.eq(expected[name]).all().item<bool>(), $"{name} differs from TorchSharp's AdamW");
        }
        Assert.Equal(5, optimization.Steps);
    }
}
