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

    /// <summary>A trainer for <paramref name="policy"/> (trained in place); <paramref name="reference"/> is the
    /// frozen policy of the KL penalty (needed when beta &gt; 0, unless the policy carries adapters: then the
    /// reference is the policy with its adapters switched off, the frozen base, without a second copy).</summary>
    public GspoTrainer(TrainConfig config, LanguageModel policy, Dataset train, RewardModel rewards, LanguageModel? reference = null)
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
    }

    /// <summary>RL steps taken.</summary>
    public int StepsDone { get; private set; }

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
    public void Restore(int stepsDone, string optimizerPath, int optimizerSteps)
    {
        StepsDone = stepsDone;
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
        using var rollout = Generate(prompts, step);
        var completions = rollout.Completions;
        m["time/generation"] = clock.Elapsed.TotalSeconds;
        m["tokens_per_second/generation"] = rollout.GeneratedTokens / Math.Max(1e-9, m["time/generation"]);

        // 2. Rewards → group advantages.
        var scored = rewards.Score(RewardInputs.For(policy, rows, completions));
        RewardFailures = scored.Failures;
        var advantages = GroupAdvantages.Compute(scored.Totals, config.NumGenerations, config.ScaleRewards);
        RewardMetrics(m, scored, advantages, completions);

        // 3. Which completions the update uses, in which order, split into mini- and micro-batches.
        var used = Enumerable.Range(0, completions.Count)
            .Where(i => !(config.FilterZeroStdGroups && advantages.ZeroStdGroups[i / config.NumGenerations])).ToList();
        if (used.Count == 0)   // every group was filtered out: nothing to learn from this batch
        {
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
        var advantageTensor = tensor(advantages.Advantages, ScalarType.Float32, model.Device);

        // 4. Old (and reference) log-probs, micro-batch by micro-batch in training order, so that the
        //    first mini-batch's forward repeats them exactly (ratios of exactly 1).
        var before = clock.Elapsed.TotalSeconds;
        var oldLogProbs = zeros(new[] { batch.Rows, batch.CompletionWidth }, device: model.Device);
        var routingRecords = new Dictionary<int, RoutingRecord>();
        if (config.UseSamplerLogprobs)
            for (int i = 0; i < completions.Count; i++)
                oldLogProbs[i, ..completions[i].LogProbs.Length] = tensor(completions[i].LogProbs, device: model.Device);
        bool baseReference = reference is null && config.Beta > 0;   // adapters switched off
        Tensor? refLogProbs = reference is null && !baseReference ? null : zeros(new[] { batch.Rows, batch.CompletionWidth }, device: model.Device);
        using (no_grad())
            foreach (var micro in miniBatches.SelectMany(mb => mb))
            {
                var index = Index(micro, model.Device);
                if (!config.UseSamplerLogprobs)
                {
                    var recording = isMoe ? RoutingContext.Recording(model.Config.NumHiddenLayers) : null;
                    using var old = CompletionScorer.Score(model, batch, index, config.Temperature, recording);
                    oldLogProbs.index_copy_(0, index, old.LogProbs);
                    if (recording is not null) routingRecords[micro[0]] = recording.Record!;
                }
                if (reference is not null || baseReference)
                {
                    if (baseReference) model.SetAdaptersEnabled(false);
                    try
                    {
                        using var r = CompletionScorer.Score(reference?.Model ?? model, batch, index, config.Temperature);
                        refLogProbs!.index_copy_(0, index, r.LogProbs);
                    }
                    finally
                    {
                        if (baseReference) model.SetAdaptersEnabled(true);
                    }
                }
            }
        m["time/old_logprobs"] = clock.Elapsed.TotalSeconds - before;

        // 5. M off-policy mini-batch updates (× num_iterations).
        before = clock.Elapsed.TotalSeconds;
        model.train();
        model.GradientCheckpointing = config.GradientCheckpointing;
        // LoRA dropout draws from the global generator: seed it per step, so a resumed run repeats the masks.
        if (model.HasAdapters) random.manual_seed(config.Seed * 1_000_033 + step);
        var stats = new UpdateStatistics(config.ImportanceSamplingLevel);
        var objective = config.Objective;
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
                foreach (var micro in mini)
                {
                    using var microScope = NewDisposeScope();
                    var index = Index(micro, model.Device);
                    var routing = config.RoutingReplay && isMoe && routingRecords.TryGetValue(micro[0], out var record)
                        ? RoutingContext.Replaying(record) : null;
                    using var scores = CompletionScorer.Score(model, batch, index, config.Temperature, routing);
                    var mask = trainMask.index_select(0, index);
                    using var loss = PolicyObjective.Compute(new PolicyBatch(scores.LogProbs, oldLogProbs.index_select(0, index),
                        advantageTensor.index_select(0, index), mask)
                    {
                        RefLogProbs = refLogProbs?.index_select(0, index),
                        Totals = totals,
                    }, objective);
                    loss.Loss.backward();
                    miniLoss += loss.Loss.item<float>();
                    microStats.Add(loss.ReadMetrics());
                    stats.Add(microStats[^1], scores.Entropy.masked_select(mask).sum().item<float>(), mask.sum().item<long>());
                }
                stats.AddOptimizerStep(miniLoss, optimization.Step(config.MaxGradNorm));
                OnMiniBatch?.Invoke(iteration, miniIndex, microStats);
            }
        model.eval();
        stats.WriteTo(m);
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
        m["time/step"] = clock.Elapsed.TotalSeconds;
        return m;
    }

    /// <summary>Samples G completions per prompt, <c>rollout_batch_prompts</c> prompts per engine call; every
    /// prompt keeps its random stream (FirstPromptIndex), so the split changes no sample.</summary>
    RolloutResult Generate(IReadOnlyList<long[]> prompts, int step)
    {
        var engine = new RolloutEngine(policy.Model, policy.Decode);
        int chunk = config.RolloutBatchPrompts ?? prompts.Count;
        var parts = new List<RolloutResult>();
        for (int start = 0; start < prompts.Count; start += chunk)
            parts.Add(engine.Generate(prompts.Skip(start).Take(chunk).ToList(), new SamplingOptions
            {
                Temperature = config.Temperature, TopP = config.TopP, TopK = config.TopK, MaxNewTokens = config.MaxCompletionLength,
                SamplesPerPrompt = config.NumGenerations, EosTokenIds = policy.EosTokenIds, Seed = config.Seed * 1_000_003 + step,
                FirstPromptIndex = start,
            }));
        return parts.Count == 1 ? parts[0] : new RolloutResult(
            parts.SelectMany((p, i) => p.Completions.Select(c => c with { PromptIndex = c.PromptIndex + i * chunk })).ToList(),
            parts.Sum(p => p.PrefillSeconds), parts.Sum(p => p.DecodeSeconds));
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

    void RewardMetrics(IDictionary<string, double> m, RewardBatch scored, GroupAdvantageResult advantages, IReadOnlyList<Completion> completions)
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
    public void Dispose() => optimization.Dispose();
}
