using GspoSharp.Models;
using System.Diagnostics;
using GspoSharp.Models.Architecture;
using GspoSharp.Objectives;
using GspoSharp.Rewards;
using GspoSharp.Rollout;
using GspoSharp.Tasks;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>
/// The RL loop of GSPO (and GSPO-token, GRPO). One <see cref="Step"/>:
/// <list type="number">
/// <item>take B prompts and sample G responses each from the current weights (π_θold);</item>
/// <item>score them with the rewards and turn the scores into group advantages;</item>
/// <item>compute the old policy's log-probs (recomputed exactly, or the sampler's);</item>
/// <item>split the rollout batch into M mini-batches and take one optimizer step on each — every
/// step after the first is off-policy, which is where clipping matters;</item>
/// <item>for MoE policies, measure how many activated experts the update changed.</item>
/// </list>
/// </summary>
public sealed class GspoTrainer : IDisposable
{
    readonly TrainConfig config;
    readonly LanguageModel policy;
    readonly LanguageModel? reference;
    readonly Dataset train;
    readonly RewardModel rewards;
    readonly Optimization optimization;
    readonly bool isMoe;
    readonly IRolloutBackend rollout;
    readonly bool ownsRollout;
    readonly bool rowSplit;   // scoring and update passes split by rows across two threads (RowSplit)
    int syncedVersion = -1;   // the weights' version the rollout backend samples from; -1: not told yet

    /// <summary>A trainer for <paramref name="policy"/> (trained in place); <paramref name="reference"/> is the
    /// frozen policy of the KL penalty (needed when beta &gt; 0, unless the policy carries adapters: then the
    /// reference is the policy with its adapters switched off, the frozen base, without a second copy).
    /// <paramref name="rollout"/> samples the completions (default: in process, on the policy's model); the
    /// trainer does not dispose a backend it is given.</summary>
    public GspoTrainer(TrainConfig config, LanguageModel policy, Dataset train, RewardModel rewards, LanguageModel? reference = null,
        IRolloutBackend? rollout = null)
    {
        config.Validate();
        if (config.Beta > 0 && reference is null && !policy.Model.HasAdapters)
            throw new ArgumentException("beta > 0 needs a reference policy (or adapters: the reference is then the base with them switched off).");
        this.config = config;
        this.policy = policy;
        this.reference = reference;
        this.train = train;
        this.rewards = rewards;
        int optimizerSteps = config.MaxSteps * config.NumIterations * config.StepsPerGeneration;
        optimization = new Optimization(policy.Model, config.LearningRate, config.WeightDecay, config.AdamBeta1, config.AdamBeta2,
            config.AdamEpsilon, config.WarmupSteps, optimizerSteps, config.LrSchedulerType);
        isMoe = policy.Model.Config.HasMoeLayers;
        // Decided here, before any step sets its thread count; gradient checkpointing's recomputation puts its
        // gradients into the parameters' own, which the half that returns its gradients must not.
        rowSplit = RowSplit.Applies(policy.Model, config.UpdateThreads) && !config.GradientCheckpointing
                   && (reference is null || RowSplit.Applies(reference.Model, config.UpdateThreads));
        ownsRollout = rollout is null;
        this.rollout = rollout ?? new LocalRolloutBackend(policy.Model, policy.Decode, config.RolloutDtype.ScalarType()) { BatchPrompts = config.RolloutBatchPrompts, Threads = config.RolloutThreads };
    }

    /// <summary>Stops a rollout or weight sync in progress (Ctrl-C during a remote rollout): the step then
    /// throws <see cref="OperationCanceledException"/> without having changed anything.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>RL steps taken.</summary>
    public int StepsDone { get; private set; }

    /// <summary>Factor on the configured clip range for the next step (epsilon_target_clip_fraction; 1 otherwise).</summary>
    public double ClipScale { get; private set; } = 1;

    /// <summary>The reward calls of the last step that threw (each scored 0), with their messages.</summary>
    public IReadOnlyList<(string Function, int Completion, string Message)> RewardFailures { get; private set; } = [];

    /// <summary>Optimizer steps taken (M × num_iterations per RL step, fewer when some were skipped).</summary>
    public int OptimizerSteps => optimization.Steps;

    /// <summary>Writes the optimizer state to <paramref name="path"/>.</summary>
    public void SaveOptimizer(string path) => optimization.Save(path);

    /// <summary>
    /// Continues after <paramref name="stepsDone"/> RL steps: restores the optimizer state and the
    /// schedule position. Nothing else is needed for an exact continuation: every random draw of a
    /// step (data order, sampling, mini-batch shuffles) derives from (seed, step).
    /// </summary>
    public void Restore(int stepsDone, string optimizerPath, int optimizerSteps, double clipScale = 1)
    {
        StepsDone = stepsDone;
        ClipScale = clipScale;
        optimization.Load(optimizerPath, optimizerSteps);
    }

    /// <summary>Called after each mini-batch update with (iteration, mini-batch index, the objective's
    /// statistics of each of its micro-batches): to watch the off-policy structure step by step.</summary>
    public Action<int, int, IReadOnlyList<PolicyLossStats>>? OnMiniBatch { get; init; }

    /// <summary>Runs one RL step and returns its metrics (docs/metrics.md).</summary>
    public IReadOnlyDictionary<string, double> Step()
    {
        int step = ++StepsDone;
        var m = new SortedDictionary<string, double> { ["step"] = step };
        var clock = Stopwatch.StartNew();
        var model = policy.Model;
        model.eval();

        // 1. Rollout: B prompts × G samples from π_θold.
        var rows = Enumerable.Range(0, config.PromptsPerStep).Select(i => train.Row(RowIndex((long)(step - 1) * config.PromptsPerStep + i))).ToList();
        var prompts = rows.Select(policy.EncodePrompt).ToList();
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i].Length > config.MaxPromptLength)
                throw new InvalidDataException($"{train.Name}: a prompt has {prompts[i].Length} tokens, more than max_prompt_length {config.MaxPromptLength}.");
        // The backend samples from the current weights: synced at the end of every step, and here when that
        // did not happen (the first step of a run or of a resumed one, or a sync that failed). A failure here
        // leaves the step untaken: nothing has changed yet, so a checkpoint of the previous step is exact.
        RolloutResult sampled;
        try
        {
            if (syncedVersion != step - 1) SyncWeights(m, step - 1);
            sampled = Generate(prompts, step);
        }
        catch
        {
            StepsDone--;
            throw;
        }
        using var rollout = sampled;
        foreach (var (key, value) in rollout.Metrics) m[key] = value;
        var completions = rollout.Completions;
        m["time/generation"] = clock.Elapsed.TotalSeconds;
        m["tokens_per_second/generation"] = rollout.GeneratedTokens / Math.Max(1e-9, m["time/generation"]);

        // The rest of the step (scoring, the update, the weight sync) runs on update_threads: one thread for small models.
        using var threads = IntraOpThreads.UseFor(model.Config, config.UpdateThreads);

        // 2. Rewards → group advantages.
        var scored = rewards.Score(RewardInputs.For(policy, rows, completions));
        RewardFailures = scored.Failures;
        var advantages = GroupAdvantages.Compute(scored.Totals, config.NumGenerations, config.ScaleRewards);
        RewardMetrics(m, scored, advantages, completions, rows);

        // 3. Which completions the update uses, in which order, split into mini- and micro-batches.
        var used = Enumerable.Range(0, completions.Count)
            .Where(i => !(config.FilterZeroStdGroups && advantages.ZeroStdGroups[i / config.NumGenerations])).ToList();
        if (used.Count == 0)   // every group was filtered out: nothing to learn from this batch
        {
            if (syncedVersion == step - 1) syncedVersion = step;   // unchanged weights: nothing to sync
            m["time/step"] = clock.Elapsed.TotalSeconds;
            return m;
        }
        Shuffle(used, new Random((int)((config.Seed * 7919 + step) & 0x7FFFFFFF)));
        var miniBatches = Split(used, config.StepsPerGeneration).Select(mb => Split(mb, config.GradientAccumulationSteps)).ToList();

        using var scope = NewDisposeScope();
        using var batch = SequenceBatch.Build(completions.Select(c => c.PromptIds).ToList(), completions.Select(c => c.CompletionIds).ToList(), model.Device);
        var trainMask = batch.CompletionMask.clone();
        if (config.MaskTruncatedCompletions)
            for (int i = 0; i < completions.Count; i++)
                if (completions[i].FinishReason == FinishReason.Length) trainMask[i] = false;
        var advantageTensor = config.StepAdvantageCoef > 0
            ? tensor(StepAdvantages.Build(advantages.Advantages, completions.Select(c => (IReadOnlyList<int>)StepTokens.Labels(c.CompletionIds, policy.Decode,
                  config.StepTask!.Steps(rows[c.PromptIndex], c.Text) ?? [])).ToList(), config.StepAdvantageCoef, (int)batch.CompletionWidth),
                new[] { (long)completions.Count, batch.CompletionWidth }, ScalarType.Float32, model.Device)
            : tensor(advantages.Advantages, ScalarType.Float32, model.Device);

        // 4. Old (and reference) log-probs, micro-batch by micro-batch in training order, so that the
        //    first mini-batch's forward repeats them exactly (ratios of exactly 1).
        var before = clock.Elapsed.TotalSeconds;
        var oldLogProbs = zeros(new[] { batch.Rows, batch.CompletionWidth }, device: model.Device);
        var routingRecords = new Dictionary<int, RoutingRecord>();
        if (config.UseSamplerLogprobs)
            for (int i = 0; i < completions.Count; i++)
                oldLogProbs[i, ..completions[i].LogProbs.Length] = tensor(completions[i].LogProbs, device: model.Device);
        bool baseReference = reference is null && config.Beta > 0;   // adapters switched off
        // The first mini-batch's update forward runs on the same weights as this pass: its own log-probs,
        // detached, are θ_old's for those rows, so their separate forward here is skipped — unless something
        // reads all old log-probs before the update (the mismatch measurement), MoE routing is recorded here,
        // or adapters' dropout makes the training forward differ from this one.
        var reusedFirst = !config.UseSamplerLogprobs && !config.MeasuresRolloutMismatch && !isMoe && !model.HasAdapters
            ? miniBatches[0].ToHashSet() : null;
        Tensor? refLogProbs = reference is null && !baseReference ? null : zeros(new[] { batch.Rows, batch.CompletionWidth }, device: model.Device);
        using (no_grad())
        using (model.FuseProjections())   // no update until the loop ends
            foreach (var micro in miniBatches.SelectMany(mb => mb))
            {
                var index = Index(micro, model.Device);
                if (!config.UseSamplerLogprobs && reusedFirst?.Contains(micro) != true)
                {
                    if (rowSplit) ScoreSplit(model, batch, micro, oldLogProbs);
                    else
                    {
                        var recording = isMoe ? RoutingContext.Recording(model.Config.NumHiddenLayers) : null;
                        using var old = CompletionScorer.Score(model, batch, index, config.Temperature, recording);
                        oldLogProbs.index_copy_(0, index, old.LogProbs);
                        if (recording is not null) routingRecords[micro[0]] = recording.Record!;
                    }
                }
                if (reference is not null || baseReference)
                {
                    if (baseReference) model.SetAdaptersEnabled(false);
                    try
                    {
                        // A base reference means adapters, which turn the split off: a split has a reference model.
                        if (rowSplit) ScoreSplit(reference!.Model, batch, micro, refLogProbs!);
                        else
                        {
                            using var r = CompletionScorer.Score(reference?.Model ?? model, batch, index, config.Temperature);
                            refLogProbs!.index_copy_(0, index, r.LogProbs);
                        }
                    }
                    finally
                    {
                        if (baseReference) model.SetAdaptersEnabled(true);
                    }
                }
            }
        m["time/old_logprobs"] = clock.Elapsed.TotalSeconds - before;
        // 4b. Train–inference mismatch: the recomputed old log-probs against the rollout engine's.
        Tensor? samplingWeights = null;
        if (config.MeasuresRolloutMismatch && !config.UseSamplerLogprobs)
        {
            var engineLogProbs = EngineLogProbs(completions, batch, model.Device);
            MismatchMetrics(m, RolloutCorrection.Measure(oldLogProbs, engineLogProbs, batch.CompletionMask));
            if (config.RolloutCorrection is { } correction)
            {
                samplingWeights = RolloutCorrection.Weights(oldLogProbs, engineLogProbs, batch.CompletionMask, correction, config.ImportanceSamplingLevel);
                WeightMetrics(m, samplingWeights, batch.CompletionMask);
            }
        }
        // With use_sampler_logprobs the trainer's own log-probs of the sampled tokens under θ_old are those
        // of the first mini-batch's first forward: the mismatch is measured on that mini-batch, at no cost.
        var firstForward = config.UseSamplerLogprobs ? zeros(new[] { batch.Rows, batch.CompletionWidth }, device: model.Device) : null;

        // 5. M off-policy mini-batch updates (× num_iterations).
        before = clock.Elapsed.TotalSeconds;
        model.train();
        model.GradientCheckpointing = config.GradientCheckpointing;
        // LoRA dropout draws from the global generator: seed it per step, so a resumed run repeats the masks.
        if (model.HasAdapters) random.manual_seed(config.Seed * 1_000_033 + step);
        var stats = new UpdateStatistics(config.ImportanceSamplingLevel);
        var objective = config.EpsilonTargetClipFraction is null ? config.Objective : EpsilonController.Apply(config.Objective, ClipScale);
        for (int iteration = 0; iteration < config.NumIterations; iteration++)
            for (int miniIndex = 0; miniIndex < miniBatches.Count; miniIndex++)
            {
                var mini = miniBatches[miniIndex];
                var microStats = new List<PolicyLossStats>();
                optimization.ZeroGrad();
                var all = Index(mini.SelectMany(x => x).ToList(), model.Device);
                var miniMask = trainMask.index_select(0, all);
                var totals = new LossTotals(miniMask.any(1).sum().item<long>(), miniMask.sum().item<long>(), all.shape[0]);
                double miniLoss = 0;
                bool firstPass = iteration == 0 && miniIndex == 0;
                var inputs = new UpdateInputs(batch, trainMask, oldLogProbs, advantageTensor, refLogProbs, samplingWeights, totals, objective,
                    ReuseOldLogProbs: reusedFirst is not null && firstPass);
                foreach (var micro in mini)
                {
                    using var microScope = NewDisposeScope();
                    var routing = config.RoutingReplay && isMoe && routingRecords.TryGetValue(micro[0], out var record)
                        ? RoutingContext.Replaying(record) : null;
                    // Split, the halves are two micro-batches run at once, summed in the order of two consecutive ones.
                    MicroUpdate[] parts;
                    if (rowSplit && micro.Count >= 2)
                    {
                        var (first, second) = SplitBackward.Halves(optimization, micro, rows => UpdateLoss(rows, inputs, null));
                        parts = [first, second];
                    }
                    else parts = [SplitBackward.Whole(micro, rows => UpdateLoss(rows, inputs, routing))];
                    try
                    {
                        foreach (var part in parts)
                        {
                            if (inputs.ReuseOldLogProbs) oldLogProbs.index_copy_(0, part.Index, part.LogProbs);
                            if (firstForward is not null && firstPass) firstForward.index_copy_(0, part.Index, part.LogProbs);
                            miniLoss += part.Loss;
                            microStats.Add(part.Stats);
                            stats.Add(part.Stats, part.EntropySum, part.Tokens);
                        }
                    }
                    finally
                    {
                        foreach (var part in parts) part.Dispose();
                    }
                }
                if (firstForward is not null && iteration == 0 && miniIndex == 0)
                {
                    MismatchMetrics(m, RolloutCorrection.Measure(firstForward.index_select(0, all), oldLogProbs.index_select(0, all),
                        batch.CompletionMask.index_select(0, all)));
                }
                stats.AddOptimizerStep(miniLoss, optimization.Step(config.MaxGradNorm));
                OnMiniBatch?.Invoke(iteration, miniIndex, microStats);
            }
        model.eval();
        stats.WriteTo(m);
        if (config.EpsilonTargetClipFraction is { } target)
        {
            m["clip/epsilon_low"] = objective.ClipLow;
            m["clip/epsilon_high"] = objective.ClipHigh;
            ClipScale = EpsilonController.Next(ClipScale, m["clip_fraction/sequences/region"], target, config.EpsilonControllerRate);
        }
        m["learning_rate"] = optimization.RateAt(Math.Max(0, optimization.Steps - 1));
        m["time/update"] = clock.Elapsed.TotalSeconds - before;
        m["tokens_per_second/update"] = (double)batch.CompletionMask.sum().item<long>() * config.NumIterations / Math.Max(1e-9, m["time/update"]);

        // 6. MoE: how many experts the update changed for the same tokens.
        if (isMoe && routingRecords.Count > 0)
        {
            double changed = 0, count = 0;
            using (no_grad())
                foreach (var micro in miniBatches.SelectMany(mb => mb))
                {
                    var index = Index(micro, model.Device);
                    var after = RoutingContext.Recording(model.Config.NumHiddenLayers);
                    model.Forward(batch.Ids.index_select(0, index), batch.Mask.index_select(0, index), routing: after);
                    using var afterRecord = after.Record!;
                    var tokens = batch.Mask.index_select(0, index);
                    double n = tokens.sum().item<long>();
                    changed += RoutingRecord.Volatility(routingRecords[micro[0]], afterRecord, tokens) * n;
                    count += n;
                }
            m["routing/volatility"] = count > 0 ? changed / count : 0;
        }
        foreach (var record in routingRecords.Values) record.Dispose();
        // The step is complete whether or not the servers take its weights: a failed sync is retried before the next rollout.
        try
        {
            SyncWeights(m, step);
        }
        catch (Exception e) when (e is RolloutUnavailableException or OperationCanceledException)
        {
            m["rollout/weight_sync_failed"] = 1;
        }
        m["time/step"] = clock.Elapsed.TotalSeconds;
        return m;
    }

    /// <summary>The step's tensors a micro-batch's update reads (none is written while micro-batches run).</summary>
    sealed record UpdateInputs(SequenceBatch Batch, Tensor TrainMask, Tensor OldLogProbs, Tensor Advantages, Tensor? RefLogProbs,
        Tensor? SamplingWeights, LossTotals Totals, PolicyObjectiveOptions Objective, bool ReuseOldLogProbs);

    /// <summary>What a micro-batch's update keeps besides its gradients: its loss and statistics, and its detached
    /// log-probs (θ_old's, in the first mini-batch).</summary>
    sealed record MicroUpdate(Tensor Index, Tensor LogProbs, float Loss, PolicyLossStats Stats, double EntropySum, long Tokens) : IDisposable
    {
        public void Dispose()
        {
            Index.Dispose();
            LogProbs.Dispose();
        }
    }

    /// <summary>One micro-batch's forward and objective over <paramref name="rows"/> (for <see cref="SplitBackward"/>, which
    /// opens the dispose scope and runs the backward pass): the loss, and what the step keeps of it, detached.</summary>
    (Tensor Loss, MicroUpdate Result) UpdateLoss(List<int> rows, UpdateInputs inputs, RoutingContext? routing)
    {
        var model = policy.Model;
        var index = Index(rows, model.Device);
        var scores = CompletionScorer.Score(model, inputs.Batch, index, config.Temperature, routing);
        var mask = inputs.TrainMask.index_select(0, index);
        var logProbs = scores.LogProbs.detach();
        // In the first mini-batch these rows' log-probs are θ_old's: the same values the step would copy into the old
        // log-probs and read back, so ratios are exactly 1.
        var old = inputs.ReuseOldLogProbs ? logProbs : inputs.OldLogProbs.index_select(0, index);
        var loss = PolicyObjective.Compute(new PolicyBatch(scores.LogProbs, old, inputs.Advantages.index_select(0, index), mask)
        {
            RefLogProbs = inputs.RefLogProbs?.index_select(0, index),
            Totals = inputs.Totals,
            SamplingWeights = inputs.SamplingWeights?.index_select(0, index),
        }, inputs.Objective);
        var result = new MicroUpdate(index, logProbs, loss.Loss.item<float>(), loss.ReadMetrics(),
            scores.Entropy.masked_select(mask).sum().item<float>(), mask.sum().item<long>());
        index.DetachFromDisposeScope();
        logProbs.DetachFromDisposeScope();
        return (loss.Loss, result);
    }

    /// <summary>Log-probs of <paramref name="rows"/> under <paramref name="scorer"/> into <paramref name="into"/>, the rows
    /// scored in two halves at once (<see cref="RowSplit"/>).</summary>
    void ScoreSplit(CausalLm scorer, SequenceBatch batch, List<int> rows, Tensor into)
    {
        if (rows.Count < 2)   // nothing to split
        {
            using var index = Index(rows, scorer.Device);
            using var whole = CompletionScorer.Score(scorer, batch, index, config.Temperature);
            into.index_copy_(0, index, whole.LogProbs);
            return;
        }
        var (firstRows, secondRows) = RowSplit.Halves(rows);
        ScoredRows Score(List<int> part)
        {
            using var scope = NewDisposeScope();
            var index = Index(part, scorer.Device);
            using var scores = CompletionScorer.Score(scorer, batch, index, config.Temperature);
            return new ScoredRows(index.DetachFromDisposeScope(), scores.LogProbs.detach().DetachFromDisposeScope());
        }
        var (first, second) = RowSplit.Run(() => Score(firstRows), () => Score(secondRows));
        using (first)
        using (second)
        {
            into.index_copy_(0, first.Index, first.LogProbs);
            into.index_copy_(0, second.Index, second.LogProbs);
        }
    }

    sealed record ScoredRows(Tensor Index, Tensor LogProbs) : IDisposable
    {
        public void Dispose() { Index.Dispose(); LogProbs.Dispose(); }
    }

    /// <summary>Samples G completions per prompt through the rollout backend; every prompt keeps its
    /// random stream (seed, step, prompt, sample), however the backend splits the batch.</summary>
    RolloutResult Generate(IReadOnlyList<long[]> prompts, int step)
    {
        var result = rollout.GenerateAsync(prompts, new SamplingOptions
        {
            Temperature = config.Temperature, TopP = config.TopP, TopK = config.TopK, MaxNewTokens = config.MaxCompletionLength,
            SamplesPerPrompt = config.NumGenerations, EosTokenIds = policy.EosTokenIds, Seed = config.Seed * 1_000_003 + step,
        }, Cancellation).GetAwaiter().GetResult();
        // Remote backends return ids and log-probs only: the text the rewards read is decoded here.
        return result.Completions.All(c => c.Text.Length > 0 || c.CompletionIds.Length == 0) ? result
            : result with { Completions = result.Completions.Select(c => c.Text.Length > 0 ? c : c with { Text = policy.Decode(c.CompletionIds) }).ToList() };
    }

    /// <summary>Tells the rollout backend the weights are those of <paramref name="version"/> steps; adds its metrics.</summary>
    void SyncWeights(IDictionary<string, double> m, int version)
    {
        foreach (var (key, value) in rollout.WeightsChangedAsync(version, Cancellation).GetAwaiter().GetResult())
            m[key] = m.TryGetValue(key, out var earlier) && key.StartsWith("time/", StringComparison.Ordinal) ? earlier + value : value;
        syncedVersion = version;
    }

    /// <summary>[B, T] log-probs the rollout engine reported for the sampled tokens (0 on padding).</summary>
    static Tensor EngineLogProbs(IReadOnlyList<Completion> completions, SequenceBatch batch, Device device)
    {
        var values = new float[batch.Rows * batch.CompletionWidth];
        for (int i = 0; i < completions.Count; i++)
            Array.Copy(completions[i].LogProbs, 0, values, i * batch.CompletionWidth, completions[i].LogProbs.Length);
        return tensor(values, new long[] { batch.Rows, batch.CompletionWidth }, device: device);
    }

    static void MismatchMetrics(IDictionary<string, double> m, RolloutMismatch mismatch)
    {
        m["mismatch/token_abs_diff_mean"] = mismatch.TokenAbsDiffMean;
        m["mismatch/seq_log_ratio_mean"] = mismatch.SeqLogRatioMean;
        m["mismatch/seq_log_ratio_max"] = mismatch.SeqLogRatioMax;
        m["mismatch/k3_kl"] = mismatch.K3Kl;
    }

    /// <summary>The correction's weights over response tokens (token modes) or non-empty responses (sequence modes), as TRL logs them.</summary>
    static void WeightMetrics(IDictionary<string, double> m, Tensor weights, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var selected = mask.to_type(ScalarType.Bool);
        var values = weights.shape[1] == 1 ? weights.squeeze(1).masked_select(selected.any(1)) : weights.masked_select(selected);
        if (values.numel() == 0) return;
        m["mismatch/is_weight_mean"] = values.mean().item<float>();
        m["mismatch/is_weight_min"] = values.min().item<float>();
        m["mismatch/is_weight_max"] = values.max().item<float>();
    }

    /// <summary>Row of the training data for the n-th prompt: in order for unlimited tasks; for files,
    /// epoch by epoch, each epoch in a fresh permutation drawn from the seed.</summary>
    long RowIndex(long n)
    {
        if (train.Count is not { } count) return n;
        long epoch = n / count;
        var permutation = Enumerable.Range(0, (int)count).ToList();
        Shuffle(permutation, new Random((int)((config.Seed * 31 + epoch) & 0x7FFFFFFF)));
        return permutation[(int)(n % count)];
    }

    void RewardMetrics(IDictionary<string, double> m, RewardBatch scored, GroupAdvantageResult advantages, IReadOnlyList<Completion> completions,
        IReadOnlyList<System.Text.Json.Nodes.JsonObject> rows)
    {
        m["reward"] = scored.Totals.Average();
        m["reward_std"] = advantages.GroupStds.Average();
        m["frac_reward_zero_std"] = advantages.FracRewardZeroStd;
        foreach (var (name, values) in scored.ByFunction)
        {
            m[$"rewards/{name}/mean"] = values.Average();
            double mean = values.Average();
            m[$"rewards/{name}/std"] = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / Math.Max(1, values.Length - 1));
        }
        m["reward_failures"] = scored.Failures.Count;
        if (config.StepTask is { } task)   // where the errors are: per-step credit of the worked steps
        {
            var credit = completions.Select(c => task.Steps(rows[c.PromptIndex], c.Text) ?? []).ToList();
            int steps = credit.Sum(c => c.Count);
            m["steps/per_completion"] = credit.Average(c => c.Count);
            m["steps/correct_fraction"] = steps > 0 ? credit.Sum(c => c.Count(s => s.Correct)) / (double)steps : 0;
            var firstErrors = credit.Where(c => c.Any(s => !s.Correct)).Select(c => (double)c.TakeWhile(s => s.Correct).Count() / c.Count).ToList();
            m["steps/first_error_position"] = firstErrors.Count > 0 ? firstErrors.Average() : 1;
        }
        var lengths = completions.Select(c => (double)c.CompletionIds.Length).ToList();
        var terminated = completions.Where(c => c.FinishReason == FinishReason.Stop).Select(c => (double)c.CompletionIds.Length).ToList();
        m["completions/mean_length"] = lengths.Average();
        m["completions/min_length"] = lengths.Min();
        m["completions/max_length"] = lengths.Max();
        m["completions/clipped_ratio"] = 1 - terminated.Count / (double)completions.Count;
        m["completions/mean_terminated_length"] = terminated.Count > 0 ? terminated.Average() : 0;
    }

    static Tensor Index(IReadOnlyList<int> rows, Device device) => tensor(rows.Select(r => (long)r).ToArray(), device: device);

    static List<List<int>> Split(IReadOnlyList<int> items, int parts)
    {
        var result = new List<List<int>>();
        for (int p = 0; p < parts; p++)
        {
            int start = items.Count * p / parts, end = items.Count * (p + 1) / parts;
            if (end > start) result.Add(items.Skip(start).Take(end - start).ToList());
        }
        return result;
    }

    static void Shuffle<T>(IList<T> list, Random random)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        optimization.Dispose();
        if (ownsRollout) rollout.Dispose();
    }
}
