using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GspoSharp.Objectives;
using Spectre.Console;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Cli.Commands;

/// <summary>
/// <c>gspo objective</c>: evaluates GSPO, GSPO-token and GRPO on a batch of per-token log-probs
/// and prints the loss, the metrics and the gradient — to see what each objective does, or to
/// check parity with another framework.
/// </summary>
internal static class ObjectiveCommand
{
    static readonly ImportanceSamplingLevel[] AllLevels =
        { ImportanceSamplingLevel.Sequence, ImportanceSamplingLevel.SequenceToken, ImportanceSamplingLevel.Token };

    public static Command Create()
    {
        var input = new Option<FileInfo?>("--input", "-i")
        {
            Description = "Batch file: {\"responses\": [{\"logprobs\": [..], \"old_logprobs\": [..], \"advantage\": x}, ..]}. " +
                          "Default: a built-in three-response example.",
        };
        var level = new Option<string?>("--importance-sampling-level")
        {
            Description = "token (GRPO) | sequence (GSPO) | sequence_token (GSPO-token). Default: all three side by side.",
        };
        var epsilon = new Option<double?>("--epsilon") { Description = "ε_low. Default: the paper's value for the level (GSPO 3e-4, GRPO 0.2)." };
        var epsilonHigh = new Option<double?>("--epsilon-high") { Description = "ε_high. Default: the paper's value (GSPO 4e-4, GRPO 0.27)." };
        var beta = new Option<double>("--beta") { Description = "KL penalty weight (needs ref_logprobs).", DefaultValueFactory = _ => ObjectiveDefaults.Beta };
        var lossType = new Option<string>("--loss-type")
        {
            Description = "grpo (per-response mean, the paper) | dapo (token mean) | dr_grpo (constant normaliser).",
            DefaultValueFactory = _ => PolicyObjectiveOptions.Names.Of(ObjectiveDefaults.Loss),
        };
        var maxLength = new Option<int>("--max-completion-length")
        {
            Description = "Constant of dr_grpo.", DefaultValueFactory = _ => ObjectiveDefaults.MaxCompletionLength,
        };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables." };

        var command = new Command("objective", "Loss, clipping metrics and gradient of GSPO / GSPO-token / GRPO on a batch of log-probs.")
        {
            input, level, epsilon, epsilonHigh, beta, lossType, maxLength, json,
        };
        command.SetAction(parse => CommandErrors.Run(() =>
        {
            var responses = parse.GetValue(input) is { } file ? ObjectiveBatchFile.Read(file.FullName) : ObjectiveBatchFile.Example;
            var levels = parse.GetValue(level) is { } text ? new[] { PolicyObjectiveOptions.Names.ParseLevel(text) } : AllLevels;
            var results = levels.Select(l =>
            {
                var options = new PolicyObjectiveOptions
                {
                    ImportanceSamplingLevel = l, Epsilon = parse.GetValue(epsilon), EpsilonHigh = parse.GetValue(epsilonHigh),
                    Beta = parse.GetValue(beta), LossType = PolicyObjectiveOptions.Names.ParseLossType(parse.GetValue(lossType)!),
                    MaxCompletionLength = parse.GetValue(maxLength),
                };
                foreach (var warning in options.Validate())
                    Console.Error.WriteLine($"warning: {warning}");
                return Evaluate(options, responses);
            }).ToList();
            if (parse.GetValue(json)) PrintJson(results);
            else PrintTables(results);
            return 0;
        }));
        return command;
    }

    sealed record Evaluation(PolicyObjectiveOptions Options, double Loss, PolicyLossStats Stats, double[][] Gradient);

    static Evaluation Evaluate(PolicyObjectiveOptions options, IReadOnlyList<ResponseRecord> responses)
    {
        using var scope = NewDisposeScope();
        int width = Math.Max(1, responses.Max(r => r.LogProbs.Length));
        Tensor Pad(Func<ResponseRecord, double[]?> select) => tensor(
            responses.SelectMany(r => Enumerable.Range(0, width).Select(t => t < r.LogProbs.Length ? select(r)![t] : 0.0)).ToArray(),
            new long[] { responses.Count, width }, ScalarType.Float64);

        var logProbs = Pad(r => r.LogProbs).requires_grad_();
        bool hasReference = responses.All(r => r.RefLogProbs is not null);
        var batch = new PolicyBatch(logProbs, Pad(r => r.OldLogProbs),
            options.ImportanceSamplingLevel == ImportanceSamplingLevel.Sequence ? tensor(responses.Select(r => r.Advantages.FirstOrDefault()).ToArray()) : Pad(r => r.Advantages),
            Pad(r => Enumerable.Repeat(1.0, r.LogProbs.Length).ToArray()))
        {
            RefLogProbs = hasReference ? Pad(r => r.RefLogProbs) : null,
        };
        if (options.ImportanceSamplingLevel == ImportanceSamplingLevel.Sequence &&
            responses.Any(r => r.Advantages.Distinct().Count() > 1))
            throw new ArgumentException("importance_sampling_level sequence (GSPO) needs one advantage per response; " +
                                        "the batch has per-token advantages that vary (use sequence_token).");
        using var loss = PolicyObjective.Compute(batch, options);
        loss.Loss.backward();
        var grad = logProbs.grad!.data<double>().ToArray();
        var gradient = responses.Select((r, i) => grad.Skip(i * width).Take(r.LogProbs.Length).ToArray()).ToArray();
        return new Evaluation(options, loss.Loss.item<double>(), loss.ReadMetrics(), gradient);
    }

    static string Name(PolicyObjectiveOptions o) => o.ImportanceSamplingLevel switch
    {
        ImportanceSamplingLevel.Sequence => "GSPO",
        ImportanceSamplingLevel.SequenceToken => "GSPO-token",
        _ => "GRPO",
    };

    static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    static void PrintTables(IReadOnlyList<Evaluation> results)
    {
        var table = new Table().AddColumn("");
        foreach (var r in results) table.AddColumn(new TableColumn(Name(r.Options)).RightAligned());
        void Row(string name, Func<Evaluation, string> value) =>
            table.AddRow(new[] { name }.Concat(results.Select(value)).Select(cell => new Text(cell)));
        Row("importance_sampling_level", r => PolicyObjectiveOptions.Names.Of(r.Options.ImportanceSamplingLevel));
        Row("ε_low / ε_high", r => $"{F(r.Options.ClipLow)} / {F(r.Options.ClipHigh)}");
        Row("loss (−J)", r => F(r.Loss));
        Row("clipped tokens (low / high)", r => $"{F(r.Stats.ClipRegionTokens)} ({F(r.Stats.ClipLowTokens)} / {F(r.Stats.ClipHighTokens)})");
        Row("clipped responses", r => F(r.Stats.ClipRegionSequences));
        Row("ratio mean [min, max]", r => $"{F(r.Stats.RatioMean)} [{F(r.Stats.RatioMin)}, {F(r.Stats.RatioMax)}]");
        Row("approx KL(old‖new)", r => F(r.Stats.ApproxKl));
        Row("KL to reference", r => r.Stats.RefKl is { } kl ? F(kl) : "—");
        Row("responses / tokens", r => $"{r.Stats.Sequences} / {r.Stats.Tokens}");
        Row("clamped log-ratios", r => r.Stats.ClampedLogRatios.ToString(CultureInfo.InvariantCulture));
        for (int i = 0; i < results[0].Gradient.Length; i++)
            Row($"∂loss/∂logp, response {i}", r => string.Join(" ", r.Gradient[i].Select(F)));
        AnsiConsole.Write(table);
    }

    static void PrintJson(IReadOnlyList<Evaluation> results)
    {
        var document = results.ToDictionary(r => PolicyObjectiveOptions.Names.Of(r.Options.ImportanceSamplingLevel), r => new
        {
            epsilon = r.Options.ClipLow, epsilon_high = r.Options.ClipHigh, loss = r.Loss, metrics = r.Stats, gradient = r.Gradient,
        });
        Console.WriteLine(JsonSerializer.Serialize(document, new JsonSerializerOptions { WriteIndented = true }));
    }
}
