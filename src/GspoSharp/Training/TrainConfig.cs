using System.ComponentModel;
using GspoSharp.Objectives;

#pragma warning disable CS1591 // Each option is documented by its [Description] (default and source), which --help and docs/config.md print.

namespace GspoSharp.Training;

/// <summary>
/// Every option of <c>gspo train</c>, with its default and where the default comes from. Keys are
/// the snake_case property names (<c>NumGenerations</c> → <c>num_generations</c>) and follow TRL's
/// GRPOConfig wherever TRL has the concept, so a TRL GSPO recipe maps option for option.
/// Read with <c>ConfigFile</c>; checked by <see cref="Validate"/> before any work starts.
/// </summary>
public sealed partial record TrainConfig
{
    // ---- What to train ---------------------------------------------------------------------
    [Description("Hugging Face model directory to train. Unset: a model is created from init_arch / init_size / init_seed in the run directory.")]
    public string? Model { get; init; }
    [Description("Architecture of a created model: qwen3 | qwen3_moe | qwen2 | llama.")]
    public string InitArch { get; init; } = "qwen3";
    [Description("Size of a created model: tiny | small | 50m (docs/models.md).")]
    public string InitSize { get; init; } = "small";
    [Description("Decoder layers of a created model; unset: the size's (tiny: 2, tiny qwen3_moe: 4). For deep-MoE studies (docs/models.md).")]
    public int? InitNumHiddenLayers { get; init; }
    [Description("qwen3_moe only: experts per layer of a created model; unset: the size's (8, 50m: 16).")]
    public int? InitNumExperts { get; init; }
    [Description("qwen3_moe only: experts each token uses (top-k) in a created model; unset: 2.")]
    public int? InitNumExpertsPerTok { get; init; }
    [Description("qwen3_moe only: width of each expert of a created model; unset: the size's (tiny: 32).")]
    public int? InitMoeIntermediateSize { get; init; }
    [Description("Seed of a created model's initialisation.")]
    public long InitSeed { get; init; }
    [Description("Where the model runs: cpu, or cuda / cuda:N in a CUDA build (dotnet build -p:TorchBackend=cuda; the default build references TorchSharp-cpu).")]
    public string Device { get; init; } = "cpu";
    [Description("Wrap plain prompts as a user turn of the tokenizer's chat template (rows with \"messages\" always use it).")]
    public bool ChatTemplate { get; init; }

    // ---- Data and rewards --------------------------------------------------------------------
    [Description("Built-in synthetic task (arithmetic | reverse | long-sum); unlimited train and held-out data from the seed. Exclusive with dataset.")]
    public string? Task { get; init; } = "arithmetic";
    [Description("Training data: JSON Lines with \"prompt\" or \"messages\" and the fields the rewards need. Exclusive with task; setting it replaces the default task.")]
    public string? Dataset { get; init; }
    [Description("Held-out data for accuracy (JSON Lines). With a task, its held-out stream is used.")]
    public string? EvalDataset { get; init; }
    [Description("Reward functions by name: accuracy (final answer equivalent to row's \"answer\" as mathematics: docs/answers.md), format (ends with \\boxed{}). TRL: reward_funcs.")]
    public IReadOnlyList<string> RewardFuncs { get; init; } = new[] { "accuracy", "format" };
    [Description("Weight of each reward function, in reward_funcs order: accuracy 1.0, format 0.1 by default; null: 1.0 each, as TRL. TRL: reward_weights.")]
    public IReadOnlyList<double>? RewardWeights { get; init; } = new[] { 1.0, 0.1 };
    [Description("A .NET assembly (path to a .dll) whose rewards reward_funcs may name beside the built-in ones: its public IRewardFunction classes with a public parameterless constructor, each under its Name (docs/library.md).")]
    public string? RewardAssembly { get; init; }

    // ---- Generation ----------------------------------------------------------------------------
    [Description("Prompts sampled per RL step (B).")]
    public int PromptsPerStep { get; init; } = 8;
    [Description("Responses per prompt, the group size G. TRL: num_generations (default 8).")]
    public int NumGenerations { get; init; } = 8;
    [Description("Most tokens per completion. TRL: max_completion_length (default 256).")]
    public int MaxCompletionLength { get => Objective.MaxCompletionLength; init => Objective = Objective with { MaxCompletionLength = value }; }
    [Description("Longest prompt in tokens; longer prompts are refused. TRL: max_prompt_length (default 512).")]
    public int MaxPromptLength { get; init; } = 512;
    [Description("Prompts per call of the rollout engine (its KV cache holds this many × num_generations sequences); unset: all prompts_per_step at once. The samples do not depend on it.")]
    public int? RolloutBatchPrompts { get; init; }
    [Description("LibTorch threads while sampling in process; unset: 1 for models under 1 M parameters (their decoding steps are too small to split), and with two threads or more in the process a dense one without adapters samples its prompts in two halves at once on two threads, each on one; else the process's count (OMP_NUM_THREADS or the cores); when that is 2, a dense model under 100 M parameters without adapters samples with LibTorch on one thread and each large product split in halves across the two (faster than LibTorch's own two threads on CPU). A number given is used as it is. Like any thread count, it can change float rounding in the last bits (docs/performance.md).")]
    public int? RolloutThreads { get; init; }
    [Description("LibTorch threads for the passes that score and train: the old and reference log-probs, the update and the supervised warm start; unset: 1 for models under 1 M parameters (their operations are too small to split), and with two threads or more in the process a dense one without adapters or gradient checkpointing runs each micro-batch as two halves of its rows at once on two threads, each on one (the same sum as those halves run one after the other); else the process's count. Like any thread count, it can change float rounding in the last bits.")]
    public int? UpdateThreads { get; init; }
    [Description("Sampling temperature; log-probs are taken at this temperature. TRL default 1.0.")]
    public double Temperature { get; init; } = 1.0;
    [Description("Nucleus sampling mass, taken over the top-k survivors renormalised (as transformers and vLLM). TRL default 1.0 (off).")]
    public double TopP { get; init; } = 1.0;
    [Description("Keep the k most likely tokens (and any tied with the k-th); unset or 0: off. TRL: top_k.")]
    public int? TopK { get; init; }

    // ---- Update ----------------------------------------------------------------------------------
    [Description("Mini-batches per rollout batch, M: one optimizer step each, every one after the first off-policy. The GSPO paper uses 4. TRL: steps_per_generation.")]
    public int StepsPerGeneration { get; init; } = 4;
    [Description("Passes over each rollout batch (μ). TRL: num_iterations (default 1).")]
    public int NumIterations { get; init; } = 1;
    [Description("Micro-batches per mini-batch, for memory; the update is identical. TRL: gradient_accumulation_steps.")]
    public int GradientAccumulationSteps { get; init; } = 1;
    [Description("Peak AdamW learning rate. TRL default 1e-6 (for real checkpoints).")]
    public double LearningRate { get; init; } = 1e-6;
    [Description("constant | cosine | linear after warm-up. TRL's default is linear; RL runs are usually open-ended, so constant here.")]
    public LearningRateSchedule LrSchedulerType { get; init; } = LearningRateSchedule.Constant;
    [Description("Linear warm-up steps (optimizer steps).")]
    public int WarmupSteps { get; init; }
    [Description("AdamW weight decay on matrices (not norms or biases). transformers default 0.0.")]
    public double WeightDecay { get; init; }
    [Description("AdamW β1 (transformers default).")]
    public double AdamBeta1 { get; init; } = 0.9;
    [Description("AdamW β2 (transformers default).")]
    public double AdamBeta2 { get; init; } = 0.999;
    [Description("AdamW ε (transformers default).")]
    public double AdamEpsilon { get; init; } = 1e-8;
    [Description("Gradient-norm clip; 0 = off. transformers default 1.0.")]
    public double MaxGradNorm { get; init; } = 1.0;

    // ---- Objective (docs/algorithms/objectives.md) ----------------------------------------------
    /// <summary>The objective's options, held here once: their keys (importance_sampling_level, epsilon, epsilon_high,
    /// beta, loss_type, and max_completion_length above) read and write it, and their defaults are its defaults.</summary>
    public PolicyObjectiveOptions Objective { get; init; } = new();
    [Description("token (GRPO) | sequence (GSPO) | sequence_token (GSPO-token). TRL: importance_sampling_level.")]
    public ImportanceSamplingLevel ImportanceSamplingLevel { get => Objective.ImportanceSamplingLevel; init => Objective = Objective with { ImportanceSamplingLevel = value }; }
    [Description("ε_low; unset: the paper's value for the level (GSPO 3e-4, GRPO 0.2). TRL: epsilon.")]
    public double? Epsilon { get => Objective.Epsilon; init => Objective = Objective with { Epsilon = value }; }
    [Description("ε_high; unset: the paper's value (GSPO 4e-4, GRPO 0.27), or epsilon when only epsilon is set. TRL: epsilon_high.")]
    public double? EpsilonHigh { get => Objective.EpsilonHigh; init => Objective = Objective with { EpsilonHigh = value }; }
    [Description("KL penalty weight to the initial policy (k3, per token); 0 = no reference model. GSPO paper and TRL: 0.")]
    public double Beta { get => Objective.Beta; init => Objective = Objective with { Beta = value }; }
    [Description("grpo (per-response mean, the papers) | dapo (token mean) | dr_grpo (constant normaliser) | sapo (SAPO's soft gate instead of the clip, aggregated as grpo: ℓ = −(4/τ)·σ(τ(r−1))·Â, τ = sapo_temperature_pos when Â > 0, else sapo_temperature_neg; r is the level's ratio). TRL: loss_type.")]
    public LossType LossType { get => Objective.LossType; init => Objective = Objective with { LossType = value }; }
    [Description("SAPO gate temperature τ for positive advantages (loss_type sapo). Paper and TRL: 1.0, for token ratios; GSPO's sequence ratio moves ~1e-3 per update and needs τ of order 1/ε. TRL: sapo_temperature_pos.")]
    public double SapoTemperaturePos { get => Objective.SapoTemperaturePos; init => Objective = Objective with { SapoTemperaturePos = value }; }
    [Description("SAPO gate temperature τ for negative advantages (loss_type sapo). Paper and TRL: 1.05. TRL: sapo_temperature_neg.")]
    public double SapoTemperatureNeg { get => Objective.SapoTemperatureNeg; init => Objective = Objective with { SapoTemperatureNeg = value }; }
    [Description("Adaptive clip range: hold the fraction of clipped responses f near this target f*. After RL step k with fraction f_k, c ← clamp(c·exp(η·(f_k − f*)), 0.01, 100) (c = 1 at the start) and the next step clips at ε_low·c (at most 0.99) / ε_high·c. Unset: the fixed range. Logged as clip/epsilon_low, clip/epsilon_high.")]
    public double? EpsilonTargetClipFraction { get; init; }
    [Description("Rate η of the adaptive clip range (epsilon_target_clip_fraction): log ε moves by η·(f_k − f*) per RL step.")]
    public double EpsilonControllerRate { get; init; } = EpsilonController.DefaultRate;
    [Description("group | batch | none: advantage scaling. TRL: scale_rewards (default group).")]
    public ScaleRewards ScaleRewards { get; init; } = ScaleRewards.Group;
    [Description("Per-token advantages from the task's per-step credit (arithmetic, long-sum): Â_{i,t} = Â_i + λ·u_{i,t}, u = +1 on the tokens of a right worked step, −1 on a wrong one, 0 elsewhere; λ is this value. 0 = off (every token gets Â_i). Needs importance_sampling_level sequence_token (GSPO-token) or token.")]
    public double StepAdvantageCoef { get; init; }
    [Description("Exclude completions cut by max_completion_length from the loss. TRL: mask_truncated_completions (default false).")]
    public bool MaskTruncatedCompletions { get; init; }
    [Description("Drop groups whose rewards are all equal (zero advantage, no signal) before the update; their fraction is logged either way.")]
    public bool FilterZeroStdGroups { get; init; }
    [Description("Use the sampler's log-probs as the old policy's instead of recomputing them (GSPO paper, infrastructure consequence). Saves a forward pass.")]
    public bool UseSamplerLogprobs { get; init; }
    [Description("MoE only: record the experts of the old-log-prob pass and use them in the update passes (the GSPO paper's Routing Replay).")]
    public bool RoutingReplay { get; init; }

    // ---- Run -----------------------------------------------------------------------------------
    [Description("RL steps (rollout batches). TRL: max_steps.")]
    public int MaxSteps { get; init; } = 100;
    [Description("Write a metrics line every n steps. TRL: logging_steps.")]
    public int LoggingSteps { get; init; } = 1;
    [Description("Evaluate held-out accuracy every n steps; 0 = only before and after training.")]
    public int EvalSteps { get; init; }
    [Description("Held-out prompts per evaluation.")]
    public int EvalPrompts { get; init; } = 64;
    [Description("Samples per held-out prompt: accuracy is pass@1 averaged over them.")]
    public int EvalNumSamples { get; init; } = 4;
    [Description("Sampling temperature of evaluation; unset: temperature.")]
    public double? EvalTemperature { get; init; }
    [Description("Seed of data order, sampling and created models. TRL default 42.")]
    public long Seed { get; init; } = 42;
    [Description("Write a checkpoint every n steps (and always at the end); 0 = only at the end. TRL: save_steps (default 500).")]
    public int SaveSteps { get; init; } = 100;
    [Description("Dtype of the saved models (checkpoints' model/, sft-model/, final-model/): auto (as the base model's weights are stored; a created model: float32) | float32 | bfloat16 | float16, rounded to nearest even. Training stays float32, and checkpoints keep the float32 weights for resuming.")]
    public SaveDtype SaveDtype { get; init; } = SaveDtype.Auto;
    [Description("Keep the newest n checkpoints. TRL: save_total_limit (default: keep all; 2 here so long runs do not fill the disk).")]
    public int SaveTotalLimit { get; init; } = 2;
    [Description("Stop the run when this many steps in a row had all their updates skipped for NaN/∞ loss or gradients.")]
    public int MaxConsecutiveBadSteps { get; init; } = 5;
    [Description("Write report.md with PNG plots into the run directory at the end (also: gspo report RUN_DIR).")]
    public bool Report { get; init; } = true;

    // ---- Supervised warm start (run before RL when sft_steps > 0) -------------------------------
    [Description("Supervised fine-tuning steps on the data's \"completion\" demonstrations before RL (the paper's cold start). 0 = none. With use_peft it trains every weight, and the adapters then train on the warmed-up model (sft-model/).")]
    public int SftSteps { get; init; }
    [Description("Demonstrations per SFT step.")]
    public int SftBatchSize { get; init; } = 32;
    [Description("Peak SFT learning rate (10% warm-up, cosine decay).")]
    public double SftLearningRate { get; init; } = 3e-3;

    // ---- LoRA (PEFT) ------------------------------------------------------------------------------
    [Description("Train LoRA adapters on a frozen base instead of every weight (docs/lora.md). TRL: use_peft.")]
    public bool UsePeft { get; init; }
    [Description("LoRA rank r. TRL: lora_r (default 16).")]
    public int LoraR { get; init; } = 16;
    [Description("LoRA α; the update is scaled by α/r (α/√r with use_rslora). TRL: lora_alpha (default 32).")]
    public double LoraAlpha { get; init; } = 32;
    [Description("Dropout on the adapters' input during updates. TRL: lora_dropout (default 0.05).")]
    public double LoraDropout { get; init; } = 0.05;
    [Description("Projections that get adapters: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, or all-linear. TRL: lora_target_modules (default: PEFT's q_proj, v_proj for Qwen and Llama).")]
    public IReadOnlyList<string> LoraTargetModules { get; init; } = new[] { "q_proj", "v_proj" };
    [Description("Rank-stabilised LoRA: scale by α/√r. TRL: use_rslora.")]
    public bool UseRslora { get; init; }
    [Description("Recompute each decoder layer in the backward pass instead of keeping its activations: less memory, about one more forward pass per update. TRL: gradient_checkpointing.")]
    public bool GradientCheckpointing { get; init; }
    [Description("With use_peft: the dtype the frozen base's projection weights are kept in, float32 | bfloat16 | float16 (rounded to nearest even). Half precision halves their memory; the layers still compute in float32, widening each weight for its product (docs/lora.md).")]
    public string BaseDtype { get; init; } = "float32";
    [Description("Start from this PEFT adapter directory (adapter_config.json + adapter_model.safetensors) instead of fresh adapters; its r, α, dropout and targets replace the lora_* keys. Needs use_peft.")]
    public string? Adapter { get; init; }

    /// <summary>The LoRA settings of the lora_* keys.</summary>
    public Models.Adapters.LoraSettings Lora => new(LoraR, LoraAlpha, LoraDropout, LoraTargetModules, UseRslora);

    /// <summary>The built-in task, when it gives per-step credit (<see cref="Tasks.SyntheticTask.Steps"/>); else null.</summary>
    public Tasks.SyntheticTask? StepTask => Task is { } name && Tasks.SyntheticTask.BuiltIn.TryGetValue(name, out var task)
        && task.Steps(task.Example(0, Tasks.TaskSplit.Train, 0), "") is not null ? task : null;

    /// <summary>The init_num_* overrides of a created model's shape.</summary>
    public Models.ModelShape InitShape => new(InitNumHiddenLayers, InitNumExperts, InitNumExpertsPerTok, InitMoeIntermediateSize);

    /// <summary>The dtype of base_dtype (float32 unless a half precision is named).</summary>
    public TorchSharp.torch.ScalarType BaseScalarType => BaseDtype switch
    {
        "bfloat16" => TorchSharp.torch.ScalarType.BFloat16,
        "float16" => TorchSharp.torch.ScalarType.Float16,
        _ => TorchSharp.torch.ScalarType.Float32,
    };

    /// <summary>Whether this build references a CUDA build of TorchSharp (-p:TorchBackend=cuda).</summary>
#if GSPO_TORCH_CUDA
    public static bool CudaBuild => true;
#else
    public static bool CudaBuild => false;
#endif

    /// <summary>Rollout batch size, B·G.</summary>
    public int CompletionsPerStep => PromptsPerStep * NumGenerations;

    /// <summary>The config key of a property: PascalCase → snake_case (NumGenerations → num_generations, AdamBeta1 → adam_beta1).</summary>
    public static string Key(string propertyName)
    {
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < propertyName.Length; i++)
        {
            if (char.IsUpper(propertyName[i]) && i > 0) text.Append('_');
            text.Append(char.ToLowerInvariant(propertyName[i]));
        }
        return text.ToString();
    }

    /// <summary>Checks every value and their consistency before any work starts; throws
    /// <see cref="ArgumentException"/> naming the key; returns warnings.</summary>
    public IReadOnlyList<string> Validate()
    {
        void Require(bool ok, string key, string message) { if (!ok) throw new ArgumentException($"{key}: {message}"); }
        Require(NumGenerations >= 2, "num_generations", $"is {NumGenerations}; group advantages need at least 2 responses per prompt.");
        Require(PromptsPerStep >= 1, "prompts_per_step", $"is {PromptsPerStep}; must be ≥ 1.");
        Require(StepsPerGeneration >= 1, "steps_per_generation", $"is {StepsPerGeneration}; must be ≥ 1.");
        Require(CompletionsPerStep % StepsPerGeneration == 0, "steps_per_generation",
            $"{CompletionsPerStep} completions per step (prompts_per_step × num_generations) do not split into {StepsPerGeneration} equal mini-batches.");
        Require(GradientAccumulationSteps >= 1 && CompletionsPerStep / StepsPerGeneration % GradientAccumulationSteps == 0, "gradient_accumulation_steps",
            $"mini-batches of {CompletionsPerStep / StepsPerGeneration} completions do not split into {GradientAccumulationSteps} equal micro-batches.");
        Require(NumIterations >= 1, "num_iterations", $"is {NumIterations}; must be ≥ 1.");
        Require(MaxCompletionLength >= 1, "max_completion_length", $"is {MaxCompletionLength}; must be ≥ 1.");
        Require(MaxPromptLength >= 1, "max_prompt_length", $"is {MaxPromptLength}; must be ≥ 1.");
        Require(RolloutBatchPrompts is null or >= 1, "rollout_batch_prompts", $"is {RolloutBatchPrompts}; must be ≥ 1.");
        Require(RolloutThreads is null or >= 1, "rollout_threads", $"is {RolloutThreads}; must be ≥ 1.");
        Require(UpdateThreads is null or >= 1, "update_threads", $"is {UpdateThreads}; must be ≥ 1.");
        Require(Temperature > 0 && double.IsFinite(Temperature), "temperature", $"is {Temperature}; RL needs sampling (> 0).");
        Require(TopP > 0 && TopP <= 1, "top_p", $"is {TopP}; must be in (0, 1].");
        Require(TopK is null or >= 0, "top_k", $"is {TopK}; must be ≥ 0.");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", $"is {LearningRate}; must be > 0.");
        Require(WarmupSteps >= 0, "warmup_steps", $"is {WarmupSteps}; must be ≥ 0.");
        Require(WeightDecay >= 0, "weight_decay", $"is {WeightDecay}; must be ≥ 0.");
        Require(AdamBeta1 is >= 0 and < 1, "adam_beta1", $"is {AdamBeta1}; must be in [0, 1).");
        Require(AdamBeta2 is >= 0 and < 1, "adam_beta2", $"is {AdamBeta2}; must be in [0, 1).");
        Require(AdamEpsilon > 0, "adam_epsilon", $"is {AdamEpsilon}; must be > 0.");
        Require(MaxGradNorm >= 0, "max_grad_norm", $"is {MaxGradNorm}; must be ≥ 0.");
        Require(MaxSteps >= 1, "max_steps", $"is {MaxSteps}; must be ≥ 1.");
        Require(LoggingSteps >= 1, "logging_steps", $"is {LoggingSteps}; must be ≥ 1.");
        Require(EvalSteps >= 0, "eval_steps", $"is {EvalSteps}; must be ≥ 0.");
        Require(EvalPrompts >= 1 && EvalNumSamples >= 1, "eval_prompts", "eval_prompts and eval_num_samples must be ≥ 1.");
        Require(EvalTemperature is null or >= 0, "eval_temperature", $"is {EvalTemperature}; must be ≥ 0.");
        Require(SaveSteps >= 0, "save_steps", $"is {SaveSteps}; must be ≥ 0.");
        Require(Enum.IsDefined(SaveDtype), "save_dtype", $"is {(int)SaveDtype}; must be {SaveDtypes.Names}.");
        Require(SaveTotalLimit >= 1, "save_total_limit", $"is {SaveTotalLimit}; must be ≥ 1.");
        Require(MaxConsecutiveBadSteps >= 1, "max_consecutive_bad_steps", $"is {MaxConsecutiveBadSteps}; must be ≥ 1.");
        Require(StepAdvantageCoef >= 0 && double.IsFinite(StepAdvantageCoef), "step_advantage_coef", $"is {StepAdvantageCoef}; must be ≥ 0.");
        Require(StepAdvantageCoef == 0 || ImportanceSamplingLevel != ImportanceSamplingLevel.Sequence, "step_advantage_coef",
            "gives per-token advantages, but importance_sampling_level sequence (GSPO) takes one per response; use sequence_token (GSPO-token) or token.");
        Require(StepAdvantageCoef == 0 || StepTask is not null, "step_advantage_coef",
            $"needs a task with per-step credit ({string.Join(", ", Tasks.SyntheticTask.BuiltIn.Values.Where(t => t.Steps(t.Example(0, Tasks.TaskSplit.Train, 0), "") is not null).Select(t => t.Name))}); got {(Task is null ? "a dataset" : $"task {Task}")}.");
        Require(EpsilonTargetClipFraction is null or (> 0 and < 1), "epsilon_target_clip_fraction", $"is {EpsilonTargetClipFraction}; a fraction of responses in (0, 1).");
        Require(EpsilonControllerRate > 0 && double.IsFinite(EpsilonControllerRate), "epsilon_controller_rate", $"is {EpsilonControllerRate}; must be > 0.");
        Require(!(EpsilonTargetClipFraction is not null && LossType == LossType.Sapo), "epsilon_target_clip_fraction",
            "adapts the hard clip range, which loss_type sapo does not use.");
        Require(!(UseSamplerLogprobs && RoutingReplay), "routing_replay",
            "records the experts of the old-log-prob pass, which use_sampler_logprobs skips; use one or the other.");
        Require((Task is null) != (Dataset is null), Task is null ? "dataset" : "task", "set exactly one of task and dataset.");
        Require(Dataset is not null || EvalDataset is null || Task is not null, "eval_dataset", "needs a dataset.");
        Require(RewardFuncs.Count >= 1, "reward_funcs", "needs at least one reward function.");
        Require(RewardWeights is null || RewardWeights.Count == RewardFuncs.Count, "reward_weights",
            $"has {RewardWeights?.Count} weights for {RewardFuncs.Count} reward functions.");
        Require(SftSteps >= 0 && SftBatchSize >= 1 && SftLearningRate > 0, "sft_steps", "sft_steps ≥ 0, sft_batch_size ≥ 1 and sft_learning_rate > 0 are required.");
        if (UsePeft) Lora.Validate();
        Require(BaseDtype is "float32" or "bfloat16" or "float16", "base_dtype", $"is '{BaseDtype}'; must be float32, bfloat16 or float16.");
        Require(BaseDtype == "float32" || UsePeft, "base_dtype",
            $"is {BaseDtype}, which keeps a frozen base in half precision; it needs use_peft: true (training every weight keeps them in float32).");
        ValidateRollout(Require);
        Require(Adapter is null || UsePeft, "adapter", "starts from a LoRA adapter; set use_peft: true.");
        Require(Models.Architecture.ModelConfig.ParseType(InitArch) is not null, "init_arch", $"is '{InitArch}'; must be qwen3, qwen3_moe, qwen2 or llama.");
        Require(Models.TinyConfigs.ParseSize(InitSize) is not null, "init_size", $"is '{InitSize}'; must be tiny, small or 50m.");
        if (Model is null && Models.TinyConfigs.ParseSize(InitSize) is { } size && Models.Architecture.ModelConfig.ParseType(InitArch) is { } type)
            try
            {
                Models.TinyConfigs.Create(type, size, Models.TinyModels.VocabSize, shape: InitShape);   // checks the shape the run will create
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"init_{e.Message.Split(' ')[0]}: {e.Message}");
            }
        Require(Device == "cpu" || System.Text.RegularExpressions.Regex.IsMatch(Device, @"^cuda(:\d+)?$"), "device", $"is '{Device}'; must be cpu, cuda or cuda:N.");
        Require(Device == "cpu" || (CudaBuild && TorchSharp.torch.cuda.is_available()), "device", CudaBuild
            ? $"is '{Device}' but CUDA is not available here (no CUDA device, or its driver is missing)."
            : $"is '{Device}' but this gspo is a CPU build (TorchSharp-cpu); build it with dotnet build -p:TorchBackend=cuda to run on a GPU, or use device: cpu.");
        try
        {
            var warnings = Objective.Validate().ToList();
            if (RoutingReplay && InitArch != "qwen3_moe" && Model is null) warnings.Add("routing_replay is on but the model has no MoE layers; it does nothing.");
            if (Dataset is not null && EvalDataset is null)
                warnings.Add("no eval_dataset: accuracy is measured on the first eval_prompts rows of the training dataset, which are not held out.");
            if (UseSamplerLogprobs)
                warnings.Add("use_sampler_logprobs: the old policy's log-probs are the sampler's, not recomputed; on MoE models routing/volatility " +
                             "is not measured (it compares the experts of the recomputed pass with those after the update).");
            return warnings;
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{Key(e.ParamName ?? nameof(MaxCompletionLength))}: {e.Message}");
        }
    }
}
