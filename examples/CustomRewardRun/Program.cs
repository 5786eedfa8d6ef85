// A GSPO run driven by a reward written in C# on the program's own data, through the whole run
// machinery — run directory, SFT warm start, held-out evaluation, checkpoints, metrics.jsonl,
// TensorBoard, report — stopped part-way (as Ctrl-C would) and resumed exactly where it stopped.
//
//   dotnet run -c Release --project examples/CustomRewardRun -- [--run-dir DIR] [--steps N] [--stop-after K] [--sft-steps N]
//
// The defaults (300 SFT steps, 60 RL steps of 8 prompts × 8 samples) are sized as a short demo; the
// tests run it with a handful of steps.
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using GspoSharp.Rewards;
using GspoSharp.Tasks;
using GspoSharp.Training;

string runDirectory = Option("--run-dir") ?? Path.Combine("runs", "custom-reward-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
int steps = int.Parse(Option("--steps") ?? "60", CultureInfo.InvariantCulture);
int stopAfter = int.Parse(Option("--stop-after") ?? (steps / 2).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
int sftSteps = int.Parse(Option("--sft-steps") ?? "300", CultureInfo.InvariantCulture);

// The program's data: any rows with a "prompt" (or chat "messages"). "answer" is what held-out accuracy
// checks; "completion" is the demonstration the SFT warm start learns from.
var random = new Random(1);
var pairs = Enumerable.Range(0, 400).Select(_ => (A: random.Next(2, 10), B: random.Next(2, 10))).ToList();
JsonObject Row((int A, int B) p) => new()
{
    ["prompt"] = $"Multiply: {p.A} * {p.B}", ["answer"] = (p.A * p.B).ToString(CultureInfo.InvariantCulture),
    ["completion"] = $"{p.A}*{p.B}={p.A * p.B}. \\boxed{{{p.A * p.B}}}",
};

var rewards = new List<WeightedReward> { new(new ProductReward(), 1.0), new(new FormatReward(), 0.1) };
var functions = rewards.Select(r => r.Function).ToList();
var progress = new ConsoleProgress();
var inputs = new RunInputs
{
    Rewards = rewards,
    Train = Dataset.FromRows("products (train)", pairs.Skip(40).Select(Row), functions),
    Eval = Dataset.FromRows("products (held out)", pairs.Take(40).Select(Row), functions),
    Progress = progress,
};

// Every other option: a TrainConfig, as gspo train reads it from YAML (docs/config.md). The model is
// created from init_* (set Model to a Hugging Face directory, or RunInputs.Model, to train your own).
var config = new TrainConfig
{
    InitSize = "tiny", SftSteps = sftSteps, SftBatchSize = 32, SftLearningRate = 1e-2,
    PromptsPerStep = 8, NumGenerations = 8, StepsPerGeneration = 4, MaxCompletionLength = 24, LearningRate = 1e-4,
    MaxSteps = steps, SaveSteps = Math.Max(1, steps / 4), EvalPrompts = 40, EvalNumSamples = 2, Seed = 1,
};

// Stop after --stop-after steps: the run finishes the step, writes a checkpoint and returns.
var first = TrainingRun.Execute(config, runDirectory, inputs with { StopRequested = () => progress.Step >= stopAfter });
Console.WriteLine($"first invocation: {first.Stopped ?? "completed"} after step {first.Steps}, checkpoint {first.LastCheckpoint}");

// Later (another process would do the same): the program supplies the same pieces, the run checks their
// names against config.yaml and continues from its checkpoint, producing the steps it would have.
var summary = first.Stopped is null ? first : TrainingRun.Resume(runDirectory, inputs);
Console.WriteLine($"resumed: {summary.Steps} steps, accuracy {summary.AccuracyBefore:F3} -> {summary.AccuracyAfter:F3}, " +
                  $"model {summary.FinalModel}, report {Path.Combine(runDirectory, "report.md")}");

string? Option(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

/// <summary>
/// 1 when the completion's last \boxed{…} holds the product of the two numbers in the prompt, else 0,
/// with whether it boxed anything as a component (logged as rewards/product/boxed). A reward sees the
/// prompt, the completion, the whole row and whether the completion was cut; it must be thread-safe.
/// </summary>
sealed partial class ProductReward : IRewardFunction
{
    public string Name => "product";

    public RewardScore Score(RewardInput input)
    {
        var factors = Number().Matches(input.Prompt).Select(m => long.Parse(m.Value, CultureInfo.InvariantCulture)).ToList();
        var boxed = Boxed().Matches(input.Completion);
        bool correct = boxed.Count > 0 && long.TryParse(boxed[^1].Groups[1].Value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long value)
                       && factors.Count == 2 && value == factors[0] * factors[1];
        return new RewardScore(correct ? 1 : 0, new Dictionary<string, double> { ["boxed"] = boxed.Count > 0 ? 1 : 0 });
    }

    [GeneratedRegex(@"\d+")]
    private static partial Regex Number();

    [GeneratedRegex(@"\\boxed\{([^{}]*)\}")]
    private static partial Regex Boxed();
}

/// <summary>A progress sink: one line per stage, every fifth step, each evaluation and warning.</summary>
sealed class ConsoleProgress : ITrainingProgress
{
    public int Step { get; private set; }

    public void Stage(string stage, string description) => Console.WriteLine($"[{stage}] {description}");

    public void SftStep(int step, int total, double loss)
    {
        if (step % 100 == 0 || step == total) Console.WriteLine($"  sft {step}/{total}: loss {loss:F3}");
    }

    public void RlStep(int step, int total, IReadOnlyDictionary<string, double> metrics, TimeSpan elapsed)
    {
        Step = step;
        if (step % 5 == 0 || step == total || step == 1)
            Console.WriteLine($"  step {step}/{total}: reward {metrics["reward"]:F3}, product {metrics["rewards/product/mean"]:F3}, " +
                              $"boxed {metrics["rewards/product/boxed/mean"]:F3}");
    }

    public void Evaluated(string label, EvaluationResult result) =>
        Console.WriteLine($"  held-out accuracy {label}: {result.Accuracy:F3} ({result.Prompts} prompts × {result.SamplesPerPrompt})");

    public void Warning(string message) => Console.WriteLine($"warning: {message}");
}
