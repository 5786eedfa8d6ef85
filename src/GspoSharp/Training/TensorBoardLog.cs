using TorchSharp;

namespace GspoSharp.Training;

/// <summary>
/// Every metric of metrics.jsonl as a TensorBoard scalar (TorchSharp's SummaryWriter writes the
/// event files), in RUN/tensorboard/, so <c>tensorboard --logdir runs</c> shows the runs. A resumed
/// run adds a new event file; TensorBoard reads them together.
/// </summary>
public sealed class TensorBoardLog(string runDirectory)
{
    readonly TorchSharp.Modules.SummaryWriter writer = torch.utils.tensorboard.SummaryWriter(Path.Combine(runDirectory, "tensorboard"));

    /// <summary>The directory of the event files.</summary>
    public string Directory => writer.LogDir;

    /// <summary>Writes each finite metric except the step itself at <paramref name="step"/>.</summary>
    public void Write(int step, IReadOnlyDictionary<string, double> metrics)
    {
        foreach (var (key, value) in metrics)
            if (key != "step" && double.IsFinite(value))
                writer.add_scalar(key, (float)value, step);
    }
}
