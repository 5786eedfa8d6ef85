using GspoSharp.Experiments;
using GspoSharp.Training;

namespace GspoSharp.Tests.Experiments;

public class ExperimentRunnerTests
{
    /// <summary>Asks the experiment to stop once the warm start has taken a given number of SFT steps,
    /// as Ctrl-C or SIGTERM does through the command's stop request.</summary>
    sealed class StopDuringWarmStart(int stopAfterSftStep) : ExperimentRunner.IProgress, ITrainingProgress
    {
        public int SftSteps { get; private set; }
        public List<string> Actions { get; } = new();
        public List<string> Stages { get; } = new();
        public bool StopRequested() => SftSteps >= stopAfterSftStep;

        public ITrainingProgress Training => this;
        public void Run(PlannedRun run, int index, int total, string action) => Actions.Add(action);
        public void Stage(string stage, string description) => Stages.Add($"{stage}: {description}");
        public void SftStep(int step, int total, double loss) => SftSteps = step;
        public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed) { }
        public void Evaluated(string label, EvaluationResult result) { }
        public void Warning(string message) { }
    }

    const string Matrix = """
        name: stop
        seeds: [1]
        base: { task: arithmetic, init_size: tiny, sft_steps: 50, sft_batch_size: 2, prompts_per_step: 2, num_generations: 2,
                max_completion_length: 8, max_steps: 1, eval_steps: 0, eval_prompts: 2, eval_num_samples: 1, save_steps: 1, report: false }
        models: { dense: { init_arch: qwen3 } }
        arms: { gspo: { importance_sampling_level: sequence } }
        """;

    [Fact]
    public void A_stop_request_during_the_warm_start_stops_it_after_the_step_and_keeps_nothing_of_it()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "m.yaml"), Matrix);
        var plan = ExperimentMatrix.Load(Path.Combine(dir.Path, "m.yaml"));
        string output = Path.Combine(dir.Path, "out");
        var progress = new StopDuringWarmStart(stopAfterSftStep: 2);

        ExperimentRunner.Execute(plan, output, progress, progress.StopRequested);

        Assert.Equal(2, progress.SftSteps);   // of 50: the request was heard after the step it came in
        Assert.Empty(progress.Actions);       // no run started
        Assert.Contains(progress.Stages, s => s.StartsWith("stop: stopped during the warm start of 'dense'", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(output, "warm-start", "dense", "config.json")));   // no half-trained warm start to reuse
        Assert.False(Directory.Exists(Path.Combine(output, "dense")));
    }
}
