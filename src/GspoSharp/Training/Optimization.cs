using GspoSharp.Models.Architecture;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>How the learning rate moves after warm-up (TRL / transformers <c>lr_scheduler_type</c>).</summary>
public enum LearningRateSchedule
{
    /// <summary>Stays at the peak.</summary>
    Constant,
    /// <summary>Half a cosine from the peak to 0 at the last step.</summary>
    Cosine,
    /// <summary>Straight line from the peak to 0 at the last step (transformers' default).</summary>
    Linear,
}

/// <summary>AdamW over a model, with warm-up and a schedule, and gradient-norm clipping.</summary>
public sealed class Optimization : IDisposable
{
    readonly AdamW optimizer;
    readonly CausalLm model;
    readonly IReadOnlyList<Parameter> parameters;
    readonly double peak;
    readonly int warmup, total;
    readonly LearningRateSchedule schedule;

    /// <summary>
    /// AdamW over the model's trainable parameters (<see cref="CausalLm.TrainableParameters"/>: all of
    /// them, or only the adapters), with decoupled weight decay on matrices only (norm weights and biases are not decayed,
    /// as transformers' Trainer does), peak learning rate <paramref name="learningRate"/> reached
    /// linearly over <paramref name="warmupSteps"/> steps.
    /// </summary>
    public Optimization(CausalLm model, double learningRate, double weightDecay, double beta1, double beta2, double epsilon,
        int warmupSteps, int totalSteps, LearningRateSchedule schedule)
    {
        this.model = model;
        var trainable = model.TrainableParameters();
        parameters = trainable.Select(p => p.Parameter).ToList();
        var decay = trainable.Where(p => p.Parameter.dim() >= 2).Select(p => p.Parameter).ToList();
        var noDecay = trainable.Where(p => p.Parameter.dim() < 2).Select(p => p.Parameter).ToList();
        optimizer = optim.AdamW(new[]
        {
            new AdamW.ParamGroup(decay, new AdamW.Options { LearningRate = learningRate, weight_decay = weightDecay }),
            new AdamW.ParamGroup(noDecay, new AdamW.Options { LearningRate = learningRate, weight_decay = 0 }),
        }, learningRate, beta1, beta2, epsilon, weightDecay);
        peak = learningRate;
        warmup = warmupSteps;
        total = Math.Max(1, totalSteps);
        this.schedule = schedule;
        SetLearningRate(RateAt(0));
    }

    /// <summary>Optimizer steps taken.</summary>
    public int Steps { get; private set; }

    /// <summary>The learning rate of the next step.</summary>
    public double LearningRate => RateAt(Steps);

    /// <summary>The rate at step <paramref name="step"/> (0-based): linear warm-up, then the schedule.</summary>
    public double RateAt(int step)
    {
        if (step < warmup) return peak * (step + 1) / warmup;
        double progress = Math.Clamp((step - warmup) / (double)Math.Max(1, total - warmup), 0, 1);
        return schedule switch
        {
            LearningRateSchedule.Cosine => peak * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            LearningRateSchedule.Linear => peak * (1 - progress),
            _ => peak,
        };
    }

    /// <summary>Writes the AdamW moments, step counts and options to <paramref name="path"/> (TorchSharp's format).</summary>
    public void Save(string path) => optimizer.save_state_dict(path);

    /// <summary>Restores what <see cref="Save"/> wrote, and the number of steps taken (the schedule's position).</summary>
    public void Load(string path, int steps)
    {
        optimizer.load_state_dict(path);
        Steps = steps;
        SetLearningRate(RateAt(steps));
    }

    /// <summary>
    /// Drops the gradients (sets them to none, as PyTorch's default): a parameter that gets no
    /// gradient in a step — an MoE expert no token was routed to — is then left alone by AdamW,
    /// rather than moved by its momentum, and the update depends only on the step, not on whether
    /// the process had computed that parameter's gradient before (exact resume).
    /// </summary>
    public void ZeroGrad()
    {
        model.zero_grad(set_to_none: true);
        foreach (var p in parameters)   // adapter factors are not registered in the module tree
            if (p.grad is { } grad)
            {
                p.grad = null;
                grad.Dispose();
            }
    }

    /// <summary>
    /// The gradients of <paramref name="loss"/> with respect to the trainable parameters, without adding them to the
    /// parameters' own: for a half of a batch that runs beside another on a second thread (<see cref="SplitBackward"/>),
    /// whose gradients <see cref="Accumulate"/> adds afterwards, so that the sum is taken in the order of two
    /// consecutive backward passes. They belong to no dispose scope.
    /// </summary>
    public ParameterGradients Gradients(Tensor loss)
    {
        var inputs = parameters.Cast<Tensor>().ToList();
        var grads = autograd.grad(new[] { loss }, inputs, allow_unused: true);
        // An input the loss does not reach comes back as a wrapper of no tensor.
        return new ParameterGradients(grads.Select(g => g is null || g.IsInvalid ? null : g.DetachFromDisposeScope()).ToArray());
    }

    /// <summary>Adds <paramref name="gradients"/> (from <see cref="Gradients"/>) to the parameters' gradients, as a
    /// backward pass would (a parameter without one takes it), and releases them.</summary>
    public void Accumulate(ParameterGradients gradients)
    {
        using var noGrad = no_grad();
        using (gradients)
            for (int i = 0; i < parameters.Count; i++)
            {
                if (gradients.Values[i] is not { } g) continue;
                if (parameters[i].grad is { } existing)
                    using (existing) existing.add_(g, Scalars.One);
                else parameters[i].grad = g;   // the parameter holds the native gradient; the wrapper is released below
            }
    }

    /// <summary>Clips the gradient norm to <paramref name="maxNorm"/> (when &gt; 0), takes a step if the
    /// norm is finite, and returns the norm before clipping (NaN/∞ means the step was skipped).</summary>
    public double Step(double maxNorm)
    {
        double norm = nn.utils.clip_grad_norm_(parameters, maxNorm > 0 ? maxNorm : double.PositiveInfinity);
        if (!double.IsFinite(norm)) return norm;
        SetLearningRate(RateAt(Steps));
        AdamWStep();
        Steps++;
        return norm;
    }

    /// <summary>
    /// TorchSharp's <c>AdamW.step</c>, operation for operation (so the numbers are bit-identical,
    /// tested), on its own state and options, but with every Scalar operand held until its native
    /// call has returned. TorchSharp's version converts each double to a temporary Scalar that a
    /// garbage collection on another thread can free while LibTorch reads it; under GC stress that
    /// crashed training within a few steps (docs/decisions/0005).
    /// </summary>
    void AdamWStep()
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var state = optimizer.state_dict().State;
        int index = 0;
        foreach (var group in optimizer.ParamGroups.Cast<AdamW.ParamGroup>())
        {
            var options = group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, decay = options.weight_decay!.Value;
            double eps = options.eps!.Value, rate = options.LearningRate!.Value;
            if (options.amsgrad == true || options.maximize == true) throw new NotSupportedException("AdamW here has neither amsgrad nor maximize.");
            using var shrink = (1.0 - rate * decay).ToScalar();
            using var b1 = beta1.ToScalar();
            using var oneMinusB1 = (1.0 - beta1).ToScalar();
            using var b2 = beta2.ToScalar();
            using var oneMinusB2 = (1.0 - beta2).ToScalar();
            using var epsilon = eps.ToScalar();
            foreach (var parameter in group.Parameters)
            {
                var moments = (AdamW.State)state[index++];
                var grad = parameter.grad;
                if (grad is null) continue;   // no gradient this step: no update, no step count (an unchosen expert)
                moments.step++;
                parameter.mul_(shrink);
                double correction1 = 1.0 - Math.Pow(beta1, moments.step);
                double correction2 = 1.0 - Math.Pow(beta2, moments.step);
                moments.exp_avg.mul_(b1).add_(grad, oneMinusB1);
                moments.exp_avg_sq.mul_(b2).addcmul_(grad, grad, oneMinusB2);
                using var root = Math.Sqrt(correction2).ToScalar();
                var denominator = moments.exp_avg_sq.sqrt().div(root).add_(epsilon, Scalars.One);
                using var stepSize = (0.0 - rate / correction1).ToScalar();
                parameter.addcdiv_(moments.exp_avg, denominator, stepSize);
            }
        }
    }

    void SetLearningRate(double rate)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = rate;
    }

    /// <inheritdoc />
    public void Dispose() => optimizer.Dispose();
}

/// <summary>Gradients of the trainable parameters held apart from their own (<see cref="Optimization.Gradients"/>),
/// null where the loss did not reach a parameter.</summary>
public sealed class ParameterGradients(Tensor?[] values) : IDisposable
{
    internal Tensor?[] Values => values;

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var g in values) g?.Dispose();
    }
}
