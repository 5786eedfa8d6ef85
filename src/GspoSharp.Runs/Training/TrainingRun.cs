using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Checkpoints;
using GspoSharp.Reports;
using GspoSharp.Rewards;
using GspoSharp.Rollout;
using GspoSharp.Tasks;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>What a run reports as it goes; the CLI draws it (live in a terminal, plain lines otherwise).</summary>
public interface ITrainingProgress
{
    /// <summary>A stage begins: "model", "sft", "eval", "train", "save", "stop".</summary>
    void Stage(string stage, string description);
    /// <summary>An SFT step finished.</summary>
    void SftStep(int step, int total, double loss);
    /// <summary>An RL step finished.</summary>
    void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed);
    /// <summary>A held-out evaluation finished.</summary>
    void Evaluated(string label, EvaluationResult result);
    /// <summary>Something the user should know (a questionable option, a skipped update).</summary>
    void Warning(string message);
}

/// <summary>The result of a run, as written to summary.json.</summary>
/// <param name="AccuracyBefore">Held-out accuracy before RL.</param>
/// <param name="AccuracyAfter">Held-out accuracy after RL; null when the run was stopped early.</param>
/// <param name="Steps">RL steps completed.</param>
/// <param name="WallSeconds">Wall-clock time of this invocation.</param>
/// <param name="RunDirectory">The run directory.</param>
/// <param name="FinalModel">The trained model's directory (null when stopped early: see the checkpoint).</param>
/// <param name="Stopped">Why the run ended early ("interrupted", "diverged"), or null when it completed.</param>
/// <param name="LastCheckpoint">The newest complete checkpoint.</param>
public sealed record RunSummary(double? AccuracyBefore, double? AccuracyAfter, int Steps, double WallSeconds, string RunDirectory,
    string? FinalModel, string? Stopped, string? LastCheckpoint);

/// <summary>
/// A whole <c>gspo train</c> run in its run directory: record the config, create or load the model,
/// warm it up with SFT, evaluate, train with GSPO (checkpointing every save_steps), evaluate
/// again, save, report. <c>Resume</c> continues an interrupted run from its newest complete
/// checkpoint, producing the same steps an uninterrupted run would. Everything the run writes is
/// under the run directory (docs/training.md). The pieces — rewards, data, model, progress sink —
/// come from the config's keys, or from a program as <see cref="RunInputs"/> (docs/library.md).
/// </summary>
public sealed partial class TrainingRun
{
    readonly TrainConfig config;
    readonly string runDirectory;
    readonly ITrainingProgress progress;
    readonly Func<bool> stopRequested;
    readonly RunInputs inputs;
    readonly Checkpoints checkpoints;
    readonly Stopwatch clock = Stopwatch.StartNew();
    double priorSeconds;   // taken by the earlier invocations of a resumed run
    LoraSettings? lora;    // the adapters' settings in a use_peft run
    ScalarType storageDtype = ScalarType.Float32;   // of the model files written: save_dtype resolved against the base model

    /// <summary>How this run is resumed: by the command line, or by the program that supplied its pieces.</summary>
    string ResumeCommand => inputs.FromConfigKeys
        ? $"gspo train --resume {runDirectory}"
        : $"TrainingRun.Resume(\"{runDirectory}\", inputs) with the same rewards and data";

    /// <summary>Wall-clock seconds of the whole run, over all its invocations.</summary>
    double WallSeconds => priorSeconds + clock.Elapsed.TotalSeconds;

    TrainingRun(TrainConfig config, string runDirectory, RunInputs inputs)
    {
        this.config = config;
        this.runDirectory = runDirectory;
        this.inputs = inputs;
        progress = inputs.Progress;
        stopRequested = inputs.StopRequested ?? (() => false);
        checkpoints = new Checkpoints(runDirectory);
    }

    /// <summary>A built-in reward function by config name.</summary>
    public static IRewardFunction Reward(string name) => RewardRegistry.BuiltIn().Create(name);

    /// <summary>Starts a new run of <paramref name="config"/> in <paramref name="runDirectory"/>, which must not hold one,
    /// with the rewards and data the config names. <paramref name="stopRequested"/> is polled after each step: when
    /// true, the run checkpoints and stops.</summary>
    public static RunSummary Execute(TrainConfig config, string runDirectory, ITrainingProgress progress, Func<bool>? stopRequested = null)
    {
        foreach (var warning in config.Validate()) progress.Warning(warning);
        RefuseExisting(runDirectory);
        return Start(config, runDirectory, RunInputs.FromConfig(config, progress, stopRequested));
    }

    /// <summary>
    /// Starts a new run of <paramref name="config"/> in <paramref name="runDirectory"/>, which must not hold one, with
    /// the program's rewards, data and (optionally) model. config.yaml records the rewards' names and weights and the
    /// data's names in reward_funcs, reward_weights, dataset and eval_dataset; <see cref="Resume(string, RunInputs, IEnumerable{string}?)"/>
    /// checks them. The config's own reward and data keys are not used.
    /// </summary>
    public static RunSummary Execute(TrainConfig config, string runDirectory, RunInputs inputs)
    {
        inputs.Validate();
        var recorded = inputs.Describe(config);
        if (inputs.Model is not null) recorded = recorded with
        {
            Model = Path.GetFullPath(Path.Combine(runDirectory, "initial-model")), ChatTemplate = inputs.Model.ChatTemplate,
        };
        foreach (var warning in recorded.Validate()) inputs.Progress.Warning(warning);
        RefuseExisting(runDirectory);
        return Start(recorded, runDirectory, inputs);
    }

    static void RefuseExisting(string runDirectory)
    {
        foreach (var marker in new[] { "config.yaml", "metrics.jsonl", "summary.json" })
            if (File.Exists(Path.Combine(runDirectory, marker)))
                throw new IOException($"{runDirectory}: already holds a run ({marker}); choose another --run-dir, or --resume it.");
    }

    /// <summary>Runs <paramref name="config"/> from the start in <paramref name="runDirectory"/>, (re)writing its config.yaml.</summary>
    static RunSummary Start(TrainConfig config, string runDirectory, RunInputs inputs)
    {
        var run = new TrainingRun(config, runDirectory, inputs);
        var progress = inputs.Progress;
        var (rewards, train, eval) = run.Data();
        RemoveTemporaries(runDirectory);   // of an earlier start killed before it wrote config.yaml
        Directory.CreateDirectory(runDirectory);
        AtomicFile.WriteAllText(Path.Combine(runDirectory, "config.yaml"), ConfigFile.ToYaml(config));

        if (inputs.Model is { } given)
        {
            progress.Stage("model", $"saving the program's model as {config.Model}");
            ModelDirectory.Save(given.Model, config.Model!, companionsFrom: given.Tokenizer.Directory, overwrite: true);
        }
        string start = WarmStart.ModelDirectory(config, Path.Combine(runDirectory, "initial-model"), progress,
            $"creating a {config.InitSize} {config.InitArch} model");
        run.storageDtype = SaveDtypes.Resolve(config.SaveDtype, start);
        if (inputs.Model is null) progress.Stage("model", $"loading {start} (models are saved in {ModelDirectory.DtypeName(run.storageDtype)})");
        // A half-precision base is read as such, unless SFT first trains every weight in float32.
        using var loaded = inputs.Model is null ? LanguageModel.Load(start, config.ChatTemplate, config.Device, config.SftSteps == 0 ? HalfBase(config) : null) : null;
        var policy = inputs.Model ?? loaded!;
        if (config.SftSteps > 0)
        {
            WarmStart.Sft(policy, train, config, progress,
                $"supervised warm start: {config.SftSteps} steps of {config.SftBatchSize} demonstrations", run.stopRequested);
            if (run.stopRequested())
            {
                progress.Stage("stop", $"stopped during the supervised warm start, before any checkpoint; {run.ResumeCommand} starts the run again");
                return run.Finish(null, null, 0, null, "interrupted", null);
            }
            string sft = Path.Combine(runDirectory, "sft-model");
            ModelDirectory.Save(policy.Model, sft, companionsFrom: start, storageDtype: run.storageDtype);
            // RL starts from sft-model as saved: the policy, and the reference loaded from that directory, are then
            // the same weights, whether this process continues or a resumed one starts from the files.
            MasterWeights.RoundTo(policy.Model, run.storageDtype);
            start = sft;
        }
        if (config.UsePeft)
        {
            progress.Stage("model", config.Adapter is { } adapter ? $"LoRA adapter from {adapter}" : $"fresh LoRA adapters (r {config.LoraR}, α {config.LoraAlpha})");
            if (HalfBase(config) is { } half) Lora.StoreBase(policy.Model, half);   // after SFT; a no-op when loaded so
            run.lora = config.Adapter is { } dir ? PeftAdapter.Load(policy.Model, dir) : config.Lora;
            if (config.Adapter is null) Lora.Attach(policy.Model, run.lora, config.Seed);
        }
        double before = run.Evaluate(policy, eval, "before").Accuracy;
        var state = new TrainerState(0, 0, config.Seed, 0, before, Path.GetRelativePath(runDirectory, start), 0);
        return run.Loop(policy, train, eval, rewards, state, optimizerCheckpoint: null);
    }

    /// <summary>
    /// Continues the run in <paramref name="runDirectory"/> from its newest complete checkpoint
    /// (config from its config.yaml; only max_steps may be raised with <paramref name="overrides"/>).
    /// </summary>
    public static RunSummary Resume(string runDirectory, ITrainingProgress progress, Func<bool>? stopRequested = null,
        IEnumerable<string>? overrides = null) =>
        Resume(runDirectory, config => RunInputs.FromConfig(config, progress, stopRequested), overrides);

    /// <summary>
    /// Continues the run in <paramref name="runDirectory"/> from its newest complete checkpoint with the program's
    /// rewards and data, which must be those the run recorded (names and weights of the rewards, names of the data):
    /// otherwise an <see cref="ArgumentException"/> says what differs. The model comes from the checkpoint.
    /// </summary>
    public static RunSummary Resume(string runDirectory, RunInputs inputs, IEnumerable<string>? overrides = null) =>
        Resume(runDirectory, config =>
        {
            inputs.Validate();
            inputs.CheckResumes(config, runDirectory);
            return inputs;
        }, overrides);

    static RunSummary Resume(string runDirectory, Func<TrainConfig, RunInputs> inputsFor, IEnumerable<string>? overrides)
    {
        string configPath = Path.Combine(runDirectory, "config.yaml");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{configPath}: not found; {runDirectory} holds no run to resume.");
        var saved = ConfigFile.Load(new TrainConfig(), configPath, Array.Empty<string>());
        var config = ConfigFile.Load(saved, null, overrides ?? Array.Empty<string>());
        // Where the rollout servers run is not part of the training: restarted servers may have new addresses.
        if (config with { MaxSteps = saved.MaxSteps, RolloutServers = saved.RolloutServers, RolloutTimeout = saved.RolloutTimeout,
                RolloutRetries = saved.RolloutRetries } != saved)
            throw new ArgumentException("--resume continues the run as configured; only max_steps and the rollout servers (rollout_servers, rollout_timeout, rollout_retries) may be changed.");
        config.Validate();
        var inputs = inputsFor(config);
        var progress = inputs.Progress;
        var run = new TrainingRun(config, runDirectory, inputs);
        RemoveTemporaries(runDirectory);
        run.checkpoints.RemoveStaging();
        if (run.checkpoints.Latest is not { } latest)
        {
            progress.Warning($"{runDirectory}: no complete checkpoint (the run stopped before its first save); starting it again from its config.yaml.");
            // config.yaml stays: whenever this process is killed, the directory can still be resumed.
            foreach (string file in new[] { "metrics.jsonl", "summary.json", "report.md" })
                File.Delete(Path.Combine(runDirectory, file));
            foreach (string directory in new[] { "checkpoints", "tensorboard", "initial-model", "sft-model", "final-model" })
                if (Directory.Exists(Path.Combine(runDirectory, directory)) && !IsModel(config, Path.Combine(runDirectory, directory)))
                    Directory.Delete(Path.Combine(runDirectory, directory), recursive: true);
            return Start(config, runDirectory, inputs);
        }
        var state = Checkpoints.ReadState(latest.Path);
        bool finishing = state.Step == config.MaxSteps && !Finished(runDirectory, config.MaxSteps);
        if (state.Step >= config.MaxSteps && !finishing)
            throw new ArgumentException($"{runDirectory}: already trained {state.Step} of max_steps {config.MaxSteps}; raise max_steps to continue.");
        progress.Stage("model", $"resuming from {Path.GetFileName(latest.Path)} (step {state.Step})" +
                                (finishing ? ": every step is trained; finishing the run (final evaluation, model, summary, report)" : ""));
        TruncateMetrics(Path.Combine(runDirectory, "metrics.jsonl"), state.Step, dropFinalEvaluation: finishing);
        var (rewards, train, eval) = run.Data();
        string startModel = Path.Combine(runDirectory, state.StartModel);
        run.storageDtype = SaveDtypes.Resolve(config.SaveDtype, config.UsePeft ? startModel : Path.Combine(latest.Path, "model"));
        // A LoRA checkpoint holds only the adapter: the frozen base is the run's start model.
        using var policy = config.UsePeft ? LanguageModel.Load(startModel, config.ChatTemplate, config.Device, HalfBase(config))
            : Checkpoints.LoadPolicy(latest.Path, config.ChatTemplate, config.Device);
        if (config.UsePeft) run.lora = PeftAdapter.Load(policy.Model, Path.Combine(latest.Path, Checkpoints.AdapterDirectory));
        if (!finishing) return run.Loop(policy, train, eval, rewards, state, Path.Combine(latest.Path, "optimizer.bin"));
        // Killed after the last checkpoint, before summary.json: the weights are final, only the tail is left.
        run.priorSeconds = state.WallSeconds;
        using var log = new MetricsLog(Path.Combine(runDirectory, "metrics.jsonl"));
        return run.Complete(policy, eval, state, log, new TensorBoardLog(runDirectory), latest.Path);
    }

    /// <summary>The dtype of a LoRA run's frozen projection weights when base_dtype asks for half precision, else null.</summary>
    static ScalarType? HalfBase(TrainConfig config) => config.UsePeft && config.BaseScalarType != ScalarType.Float32 ? config.BaseScalarType : null;

    /// <summary>True for the run's start model when a program gave it (saved as initial-model, named by <c>model</c>): the run cannot create it again.</summary>
    static bool IsModel(TrainConfig config, string directory) =>
        config.Model is { } model && Path.GetFullPath(model) == Path.GetFullPath(directory);

    /// <summary>True when summary.json records that all <paramref name="maxSteps"/> steps ran and the run completed.
    /// summary.json is the last file a run writes, so this is true only when nothing is left to do.</summary>
    static bool Finished(string runDirectory, int maxSteps)
    {
        string path = Path.Combine(runDirectory, "summary.json");
        if (!File.Exists(path)) return false;
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) is JsonObject summary && summary["stopped"] is null && summary["final_model"] is not null
                   && summary["steps"] is JsonValue steps && steps.TryGetValue(out int n) && n == maxSteps;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Removes what a process killed while writing leaves in the run directory: hidden temporaries of
    /// small files (<c>.NAME.RANDOM.tmp</c>) and the hidden staging and replaced directories of models
    /// (<c>.NAME.partial-RANDOM</c>, <c>.NAME.old-RANDOM</c>), RANDOM being the 32 hex digits of a
    /// GUID. Nothing else is touched, so a directory shared with other files is safe.
    /// </summary>
    static void RemoveTemporaries(string runDirectory)
    {
        if (!Directory.Exists(runDirectory)) return;
        foreach (string file in Directory.GetFiles(runDirectory, ".*.tmp"))
            if (StagedFileName().IsMatch(Path.GetFileName(file))) File.Delete(file);
        foreach (string directory in Directory.GetDirectories(runDirectory, ".*"))
            if (StagedDirectoryName().IsMatch(Path.GetFileName(directory))) Directory.Delete(directory, recursive: true);
    }

    [GeneratedRegex(@"^\..+\.[0-9a-f]{32}\.tmp$")]
    private static partial Regex StagedFileName();

    [GeneratedRegex(@"^\..+\.(partial|old)-[0-9a-f]{32}$")]
    private static partial Regex StagedDirectoryName();

    /// <summary>Steps state.Step + 1 … max_steps, then the final evaluation, save, summary and report.</summary>
    RunSummary Loop(LanguageModel policy, Dataset train, Dataset eval, RewardModel rewards, TrainerState state, string? optimizerCheckpoint)
    {
        string start = Path.Combine(runDirectory, state.StartModel);
        using var reference = config.Beta > 0 && lora is null ? LanguageModel.Load(start, config.ChatTemplate, config.Device) : null;
        // Remote backends report from their HTTP threads; the messages are shown from this thread, after each step.
        var rolloutWarnings = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void ShowRolloutWarnings() { while (rolloutWarnings.TryDequeue(out var w)) progress.Warning(w); }
        using var rollout = RolloutBackends.Create(config, policy, start, runDirectory, lora, rolloutWarnings.Enqueue);
        // Ctrl-C during a remote rollout: the stop request cancels the requests in flight.
        using var cancel = new CancellationTokenSource();
        using var poll = rollout is null ? null : new Timer(_ => { if (stopRequested()) cancel.Cancel(); }, null, 200, 200);
        using var trainer = new GspoTrainer(config, policy, train, rewards, reference, rollout) { Cancellation = cancel.Token };
        if (optimizerCheckpoint is not null) trainer.Restore(state.Step, optimizerCheckpoint, state.OptimizerSteps, state.ClipScale);
        using var log = new MetricsLog(Path.Combine(runDirectory, "metrics.jsonl"));
        var tensorboard = new TensorBoardLog(runDirectory);
        var guard = new BadStepGuard(config.MaxConsecutiveBadSteps, config.StepsPerGeneration * config.NumIterations, state.ConsecutiveBadSteps);
        progress.Stage("train", $"steps {state.Step + 1}–{config.MaxSteps}: {config.PromptsPerStep} prompts × {config.NumGenerations} samples, " +
                                $"{config.StepsPerGeneration} mini-batches each ({Objectives.PolicyObjectiveOptions.Names.Of(config.ImportanceSamplingLevel)}, " +
                                $"ε {config.Objective.ClipLow:G3}/{config.Objective.ClipHigh:G3})");
        var trainClock = Stopwatch.StartNew();
        string? lastCheckpoint = checkpoints.Latest?.Path;
        priorSeconds = state.WallSeconds;
        TrainerState Current() => state with
        {
            Step = trainer.StepsDone, OptimizerSteps = trainer.OptimizerSteps,
            PromptsConsumed = (long)trainer.StepsDone * config.PromptsPerStep, ConsecutiveBadSteps = guard.Consecutive,
            WallSeconds = WallSeconds, ClipScale = trainer.ClipScale,
        };
        string Checkpoint() => lastCheckpoint = checkpoints.Save(trainer, policy, Current(), config, start, config.SaveTotalLimit, storageDtype, lora);

        while (trainer.StepsDone < config.MaxSteps)
        {
            IReadOnlyDictionary<string, double> stepMetrics;
            try
            {
                stepMetrics = trainer.Step();
            }
            catch (Exception e) when (e is RolloutUnavailableException or RolloutRequestException or OperationCanceledException)
            {
                // The step was not taken (the trainer is back at the previous one): checkpoint that, and stop.
                ShowRolloutWarnings();
                bool interrupted = e is OperationCanceledException;
                if (trainer.StepsDone > 0 && (lastCheckpoint is null || Checkpoints.ReadState(lastCheckpoint).Step != trainer.StepsDone))
                {
                    progress.Stage("save", $"checkpoint at step {trainer.StepsDone}");
                    Checkpoint();
                }
                progress.Stage("stop", interrupted
                    ? $"stopped during the rollout of step {trainer.StepsDone + 1}; resume with: gspo train --resume {runDirectory}"
                    : $"{e.Message} The run stopped after step {trainer.StepsDone}; once the servers are up, resume with: gspo train --resume {runDirectory}");
                return Finish(state.AccuracyBefore, null, trainer.StepsDone, null, interrupted ? "interrupted" : "rollout_failed", lastCheckpoint);
            }
            ShowRolloutWarnings();
            var metrics = new Dictionary<string, double>(stepMetrics);
            int step = trainer.StepsDone;
            metrics["memory/rss_mb"] = Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
            metrics["memory/live_tensors"] = TorchSharp.torch.Tensor.TotalCount;
            if (config.EvalSteps > 0 && step % config.EvalSteps == 0 && step < config.MaxSteps)
                metrics["eval/accuracy"] = Evaluate(policy, eval, $"step {step}").Accuracy;
            if (step % config.LoggingSteps == 0 || step == config.MaxSteps) log.Write(metrics);
            tensorboard.Write(step, metrics);
            progress.RlStep(step, config.MaxSteps, metrics, trainClock.Elapsed);
            if (trainer.RewardFailures is [var failure, ..] failures)
                progress.Warning($"step {step}: {failures.Count} reward call(s) threw and were scored 0; " +
                                 $"first: {failure.Function} on completion {failure.Completion}: {failure.Message}");
            if (guard.Observe(metrics) is { } problem)
            {
                progress.Stage("stop", problem);
                return Finish(state.AccuracyBefore, null, step, null, "diverged", lastCheckpoint);
            }
            if (guard.Consecutive > 0) progress.Warning($"step {step}: updates skipped for NaN/∞ loss or gradients ({guard.Consecutive} step(s) in a row).");
            bool stop = stopRequested();
            if ((config.SaveSteps > 0 && step % config.SaveSteps == 0) || stop || step == config.MaxSteps)
            {
                progress.Stage("save", $"checkpoint at step {step}");
                Checkpoint();
            }
            if (stop && step < config.MaxSteps)
            {
                progress.Stage("stop", $"stopped after step {step}; resume with: {ResumeCommand}");
                return Finish(state.AccuracyBefore, null, step, null, "interrupted", lastCheckpoint);
            }
        }
        return Complete(policy, eval, state, log, tensorboard, lastCheckpoint);
    }

    /// <summary>After the last step: the final evaluation, the trained model, the summary and the report.</summary>
    RunSummary Complete(LanguageModel policy, Dataset eval, TrainerState state, MetricsLog log, TensorBoardLog tensorboard, string? lastCheckpoint)
    {
        double after = Evaluate(policy, eval, "after").Accuracy;
        log.Write(new Dictionary<string, double> { ["step"] = config.MaxSteps, ["eval/accuracy"] = after });
        tensorboard.Write(config.MaxSteps, new Dictionary<string, double> { ["eval/accuracy"] = after });
        progress.Stage("save", "saving the trained model");
        string final = Path.Combine(runDirectory, "final-model");
        if (lora is null)
            ModelDirectory.Save(policy.Model, final, companionsFrom: Path.Combine(runDirectory, state.StartModel), storageDtype: storageDtype, overwrite: true);
        else Checkpoints.SaveAdapter(policy, lora, final, Path.Combine(runDirectory, state.StartModel));
        return Finish(state.AccuracyBefore, after, config.MaxSteps, final, null, lastCheckpoint);
    }

    /// <summary>Writes the report, then summary.json — last, so that a complete summary means a complete run.</summary>
    RunSummary Finish(double? before, double? after, int steps, string? final, string? stopped, string? lastCheckpoint)
    {
        var summary = new RunSummary(before, after, steps, WallSeconds, runDirectory, final, stopped, lastCheckpoint);
        var json = new JsonObject
        {
            ["accuracy_before"] = before, ["accuracy_after"] = after, ["steps"] = steps, ["wall_seconds"] = summary.WallSeconds,
            ["stopped"] = stopped, ["final_model"] = final is null ? null : Path.GetFileName(final),
            ["last_checkpoint"] = lastCheckpoint is null ? null : Path.GetRelativePath(runDirectory, lastCheckpoint),
            ["eval_prompts"] = config.EvalPrompts, ["eval_samples_per_prompt"] = config.EvalNumSamples,
        };
        if (config.Report && steps > 0) RunReport.Write(new[] { RunData.Load(runDirectory) with { Summary = json } }, runDirectory);
        AtomicFile.WriteAllText(Path.Combine(runDirectory, "summary.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        return summary;
    }

    EvaluationResult Evaluate(LanguageModel policy, Dataset eval, string label)
    {
        progress.Stage("eval", $"{label}: {config.EvalPrompts} held-out prompts × {config.EvalNumSamples} samples");
        var result = Evaluation.Run(policy, eval, config.EvalPrompts, config.EvalNumSamples, config.MaxCompletionLength,
            config.EvalTemperature ?? config.Temperature, config.Seed + 1, threads: config.RolloutThreads);
        progress.Evaluated(label, result);
        return result;
    }

    (RewardModel Rewards, Dataset Train, Dataset Eval) Data() =>
        (new RewardModel(inputs.Rewards), inputs.Train, (inputs.Eval ?? inputs.Train).Take(config.EvalPrompts));

    /// <summary>Drops the lines of steps after the checkpoint (written by the interrupted process),
    /// and a last line torn by a crash or a full disk; with <paramref name="dropFinalEvaluation"/>, also
    /// the final evaluation's line at the checkpoint's step, which finishing the run writes again.</summary>
    static void TruncateMetrics(string path, int step, bool dropFinalEvaluation)
    {
        if (!File.Exists(path)) return;
        var kept = File.ReadAllLines(path).Where(line => Parse(line) is { } m && m["step"]?.GetValue<double>() is { } s && s <= step
                                                         && !(dropFinalEvaluation && s == step && IsFinalEvaluation(m)));
        AtomicFile.WriteAllText(path, string.Concat(kept.Select(line => line + "\n")));

        static JsonObject? Parse(string line)
        {
            try
            {
                return JsonNode.Parse(line) as JsonObject;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        // The final evaluation's line holds only the step and the accuracy; a step's line holds its training metrics.
        static bool IsFinalEvaluation(JsonObject line) => line.Count == 2 && line.ContainsKey("eval/accuracy");
    }
}

/// <summary>Counts steps in a row whose every update was skipped for NaN/∞ and says when to stop.</summary>
internal sealed class BadStepGuard(int limit, int updatesPerStep, int consecutive = 0)
{
    /// <summary>Bad steps in a row so far.</summary>
    public int Consecutive { get; private set; } = consecutive;

    /// <summary>Records a step; returns why the run must stop, or null.</summary>
    public string? Observe(IReadOnlyDictionary<string, double> metrics)
    {
        bool bad = metrics.TryGetValue("skipped_updates", out var skipped) && skipped >= updatesPerStep;
        Consecutive = bad ? Consecutive + 1 : 0;
        return Consecutive >= limit
            ? $"{Consecutive} steps in a row (up to step {(int)metrics["step"]}) had NaN or infinite loss or gradients; every update was skipped and the run stopped. The last good checkpoint is intact."
            : null;
    }
}
