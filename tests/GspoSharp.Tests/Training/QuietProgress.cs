using GspoSharp.Training;

namespace GspoSharp.Tests.Training;

/// <summary>Records what a run reports; can ask the run to stop after a given step.</summary>
internal sealed class QuietProgress(int? stopAfterStep = null) : ITrainingProgress
{
    public List<string> Stages { get; } = new();
    public List<string> Warnings { get; } = new();
    public int LastStep { get; private set; }

    public bool StopRequested() => stopAfterStep is { } s && LastStep >= s;

    public void Stage(string stage, string description) => Stages.Add($"{stage}: {description}");
    public void SftStep(int step, int total, double loss) { }
    public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed) => LastStep = step;
    public void Evaluated(string label, EvaluationResult result) { }
    public void Warning(string message) => Warnings.Add(message);
}
