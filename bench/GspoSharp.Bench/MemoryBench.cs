using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using GspoSharp.Objectives;
using GspoSharp.Training;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// Peak resident memory and time of one GSPO update (forward, backward and AdamW step on one
/// sequence of 1,024 tokens) for random models of Qwen3-0.6B's and Qwen3-1.7B's exact shapes:
/// full fine-tuning in float32, LoRA r = 16 on every projection, LoRA with gradient checkpointing,
/// and LoRA with checkpointing and a bfloat16 base. Each configuration runs in a child process of
/// its own, so every peak (VmHWM of /proc/self/status) is that configuration's alone, from model
/// creation to the end of the second update; the time is the second update's (the first allocates
/// the AdamW state). Before that, the cost of the three ways a projection can compute with a
/// half-precision weight, at the update's and at decoding's shapes.
/// </summary>
internal static class MemoryBench
{
    /// <summary>Qwen3-0.6B's and Qwen3-1.7B's config.json values (the Hugging Face releases); both tie the embedding.</summary>
    static ModelConfig Qwen3(string name) => name switch
    {
        "qwen3-0.6b" => Shape(hidden: 1024, intermediate: 3072),
        "qwen3-1.7b" => Shape(hidden: 2048, intermediate: 6144),
        _ => throw new ArgumentException($"unknown model '{name}'; use qwen3-0.6b or qwen3-1.7b."),
    };

    static ModelConfig Shape(int hidden, int intermediate) => new()
    {
        ModelType = ModelType.Qwen3, VocabSize = 151_936, HiddenSize = hidden, IntermediateSize = intermediate, NumHiddenLayers = 28,
        NumAttentionHeads = 16, NumKeyValueHeads = 8, HeadDim = 128, RmsNormEps = 1e-6, RopeTheta = 1_000_000,
        MaxPositionEmbeddings = 40_960, TieWordEmbeddings = true, QkNorm = true, EosTokenIds = new[] { 151_645 },
    };

    static readonly string[] Variants = { "full", "lora", "lora+ckpt", "lora+ckpt+bf16" };

    const int Tokens = 1024, PromptTokens = 128;

    /// <summary>The comparison of projection dtypes, then every (model, variant) in a child process; with
    /// <paramref name="only"/> (<c>model:variant,…</c>) just those rows and no dtype comparison.</summary>
    public static void Run(string? only = null)
    {
        var rows = only?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet();
        foreach (var row in rows ?? new HashSet<string>())
            if (row.Split(':') is not [var m, var v] || !Variants.Contains(v) || m is not ("qwen3-0.6b" or "qwen3-1.7b"))
                throw new ArgumentException($"--only: '{row}' is not MODEL:VARIANT with MODEL qwen3-0.6b or qwen3-1.7b and VARIANT one of {string.Join(", ", Variants)}.");
        if (rows is null) DtypeMatmul();
        Console.WriteLine($"one GSPO update: 1 sequence × {Tokens} tokens ({Tokens - PromptTokens} scored), AdamW; LoRA r 16, α 32, all-linear; " +
                          "peak = VmHWM of a child process per row, from model creation on; forward / backward / step = the peak of that phase " +
                          "of the second update alone; time = the second update");
        Console.WriteLine($"{"model",-11} {"configuration",-16} {"trainable",13} {"after creation",15} {"peak",8} {"forward",9} {"backward",9} {"step",8} {"update",9}  allocator");
        foreach (var model in new[] { "qwen3-0.6b", "qwen3-1.7b" })
            foreach (var variant in Variants)
            {
                if (rows is not null && !rows.Contains($"{model}:{variant}")) continue;
                var config = Qwen3(model);
                if (variant == "full" && model == "qwen3-1.7b")
                {
                    // Weights, gradients and two AdamW moments in float32, before any activation.
                    double bytes = 16.0 * config.ParameterCount();
                    Console.WriteLine($"{model,-11} {variant,-16} {config.ParameterCount(),13:N0} {"",15} {"not run",8}: needs ≥ {bytes / 1e9:F1} GB " +
                                      $"(16 bytes per parameter) of {TotalMemoryGb():F1} GB");
                    continue;
                }
                if (variant == "lora" && model == "qwen3-1.7b")
                {
                    // Without checkpointing the activations of every layer live until the backward pass: on the 0.6B
                    // shape the LoRA peak less its float32 weights; on the 1.7B shape twice as wide, beside 6.9 GB of weights.
                    Console.WriteLine($"{model,-11} {variant,-16} {"",13} {"",15} {"not run",8}: float32 weights ({4.0 * config.ParameterCount() / 1e9:F1} GB) " +
                                      "and every layer's activations (twice the 0.6B shape's) exceed a shared 24 GB machine");
                    continue;
                }
                Console.WriteLine(Child(model, variant));
            }
    }

    static double TotalMemoryGb() =>
        File.ReadLines("/proc/meminfo").Where(l => l.StartsWith("MemTotal:")).Select(l => double.Parse(l.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1e6).FirstOrDefault();

    /// <summary>Runs this benchmark program again as <c>memory-child MODEL VARIANT</c> and formats its result line.</summary>
    static string Child(string model, string variant)
    {
        var run = ChildRun.Start("memory-child", model, variant);
        if (run.Result is not { } r) return $"{model,-11} {variant,-16} failed (exit {run.ExitCode}): {run.Why}";
        string Gb(string key) => r[key] is { } v ? $"{(double)v,5:F2} GB" : "    —   ";
        return $"{model,-11} {variant,-16} {(long)r["trainable"]!,13:N0} {Gb("created_gb"),15} {Gb("peak_gb"),8} {Gb("forward_gb"),9} {Gb("backward_gb"),9} " +
               $"{Gb("step_gb"),8} {(double)r["update_s"]!,7:F1} s  {r["allocator"]}; frozen parameters with a gradient: {r["frozen_with_gradient"]}";
    }

    /// <summary>The child: builds the model, runs two updates, prints one JSON line.</summary>
    public static int RunChild(string model, string variant)
    {
        if (!Variants.Contains(variant)) throw new ArgumentException($"unknown variant '{variant}'; use {string.Join(", ", Variants)}.");
        var config = Qwen3(model);
        bool lora = variant.StartsWith("lora"), checkpointing = variant.Contains("ckpt"), bf16 = variant.EndsWith("bf16");
        CausalLm policy;
        // A bfloat16 base is built in bfloat16: its projections never exist in float32 (as ModelDirectory.Load does).
        using (bf16 ? ProjectionLinear.WeightsStoredIn(ScalarType.BFloat16) : null)
            policy = new CausalLm(config);
        using var _ = policy;
        policy.InitializeWeights(seed: 1);
        if (lora) Lora.Attach(policy, new LoraSettings(16, 32, 0.05, new[] { LoraSettings.AllLinear }, UseRslora: false), seed: 1);
        policy.GradientCheckpointing = checkpointing;
        double created = ResidentGb("VmRSS");
        using var optimization = new Optimization(policy, 1e-5, 0, 0.9, 0.999, 1e-8, 0, 10, LearningRateSchedule.Constant);

        var generator = new Generator(7);
        using var ids = randint(0, config.VocabSize, new long[] { 1, Tokens }, generator: generator);
        using var mask = ones(new long[] { 1, Tokens }, ScalarType.Bool);
        using var targets = cat(new[] { zeros(new long[] { 1, PromptTokens - 1 }, ScalarType.Bool), ones(new long[] { 1, Tokens - PromptTokens }, ScalarType.Bool) }, 1);
        double seconds = 0, peak = 0;
        var phases = new double?[3];
        for (int update = 0; update < 2; update++)
        {
            using var scope = NewDisposeScope();
            bool last = update == 1;
            var clock = Stopwatch.StartNew();
            policy.train();
            optimization.ZeroGrad();
            if (last) peak = Math.Max(peak, ResetPeak());
            using var scores = policy.ScoreTokens(ids, mask, targets);
            var old = scores.LogProbs.detach();
            using var loss = PolicyObjective.Compute(new PolicyBatch(scores.LogProbs, old, ones(1), targets), PolicyObjectiveOptions.Gspo());
            if (last) phases[0] = PhasePeak(ref peak);
            loss.Loss.backward();
            if (last) phases[1] = PhasePeak(ref peak);
            optimization.Step(1.0);
            seconds = clock.Elapsed.TotalSeconds;
            if (last) phases[2] = PhasePeak(ref peak);
        }
        long trainable = policy.TrainableParameters().Sum(p => p.Parameter.numel());
        // Optimizer state for exactly the trainable tensors; a frozen parameter holds no gradient.
        long frozenGradients = policy.parameters().Count(p => !p.requires_grad && p.grad is not null);
        Console.WriteLine(new JsonObject
        {
            ["model"] = model, ["variant"] = variant, ["trainable"] = trainable, ["created_gb"] = created,
            ["peak_gb"] = Math.Max(peak, ResidentGb("VmHWM")), ["forward_gb"] = phases[0], ["backward_gb"] = phases[1], ["step_gb"] = phases[2],
            ["update_s"] = seconds, ["frozen_with_gradient"] = frozenGradients,
            ["allocator"] = AllocatorPinned ? "mmap threshold pinned" : "glibc defaults",
        }.ToJsonString());
        return 0;
    }

    /// <summary>Whether this process pinned glibc's thresholds at start (Program.cs; not when the user set glibc's variables).</summary>
    public static bool AllocatorPinned { get; set; }

    /// <summary>The peak since the last reset (null when the kernel refuses resets), and a new reset.</summary>
    static double? PhasePeak(ref double peak)
    {
        double hwm = ResidentGb("VmHWM");
        peak = Math.Max(peak, hwm);
        return ResetPeak() >= 0 ? hwm : null;
    }

    /// <summary>Returns the peak so far and resets it to the current resident size (Linux ≥ 4.0: "5" to clear_refs); −1 if refused.</summary>
    static double ResetPeak()
    {
        double hwm = ResidentGb("VmHWM");
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return hwm;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return -1;
        }
    }

    /// <summary>A field of /proc/self/status (kB) in GB (10⁹ bytes).</summary>
    static double ResidentGb(string field) =>
        File.ReadLines("/proc/self/status").Where(l => l.StartsWith(field + ":"))
            .Select(l => double.Parse(l.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1e3 / 1e9).First();

    /// <summary>
    /// A projection y = x Wᵀ with W held in bfloat16, three ways: a float32 W (the reference), W widened to float32 for
    /// each product (what a bfloat16 base does), and the product in bfloat16 (x rounded too). Shapes: the up-projections
    /// of both models, for the update's 1,024 rows and for one decoding step of 8 sequences.
    /// </summary>
    public static void DtypeMatmul()
    {
        Console.WriteLine("projection x·Wᵀ with W in bfloat16 (median of 7 after 2 warm-up calls): float32 W / W widened to float32 / bfloat16 product");
        foreach (var (rows, outFeatures, inFeatures) in new (long, long, long)[] { (1024, 3072, 1024), (1024, 6144, 2048), (8, 3072, 1024), (8, 6144, 2048) })
        {
            using var scope = NewDisposeScope();
            var x = randn(rows, inFeatures);
            var w = randn(outFeatures, inFeatures);
            var half = w.to_type(ScalarType.BFloat16);
            double fp32 = Measure.Seconds(() => { using var s = NewDisposeScope(); nn.functional.linear(x, w); });
            double widened = Measure.Seconds(() => { using var s = NewDisposeScope(); nn.functional.linear(x, half.to_type(ScalarType.Float32)); });
            double native = Measure.Seconds(() => { using var s = NewDisposeScope(); nn.functional.linear(x.to_type(ScalarType.BFloat16), half).to_type(ScalarType.Float32); });
            double gflop = 2.0 * rows * outFeatures * inFeatures / 1e9;
            Console.WriteLine($"  [{rows}×{inFeatures}]·[{outFeatures}×{inFeatures}]ᵀ: {fp32 * 1e3,8:F2} ms ({gflop / fp32,5:F0} GFLOP/s) / " +
                              $"{widened * 1e3,8:F2} ms / {native * 1e3,8:F2} ms ({gflop / native,5:F0} GFLOP/s)");
        }
    }
}
