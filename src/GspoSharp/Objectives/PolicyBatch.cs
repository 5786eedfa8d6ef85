using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Objectives;

/// <summary>
/// The tensors a policy objective needs for a batch of B responses padded to T positions.
/// Nothing at a masked (padding) position can influence the loss or its gradient: values there
/// may be anything, including NaN or ±∞.
/// </summary>
/// <param name="LogProbs">[B, T] log π_θ(y_{i,t} | x, y_{i,&lt;t}) under the current policy, with gradient.</param>
/// <param name="OldLogProbs">[B, T] the same under the policy that sampled the responses (π_θold); no gradient is taken.</param>
/// <param name="Advantages">[B] one advantage per response (Â_i), or [B, T] per token (Â_{i,t}; GSPO-token and GRPO only).</param>
/// <param name="ResponseMask">[B, T] nonzero (or true) where a position holds a response token.</param>
public sealed record PolicyBatch(Tensor LogProbs, Tensor OldLogProbs, Tensor Advantages, Tensor ResponseMask)
{
    /// <summary>[B, T] log-probs under a frozen reference policy; needed when β &gt; 0, reported when given.</summary>
    public Tensor? RefLogProbs { get; init; }

    /// <summary>
    /// With gradient accumulation, the counts of the whole mini-batch this batch is a slice of:
    /// the loss then uses them as denominators, so that the micro-batch losses add up exactly to
    /// the loss of the whole mini-batch. Null: the batch's own counts.
    /// </summary>
    public LossTotals? Totals { get; init; }

    /// <summary>[B, T] or [B, 1] importance weights of the train–inference mismatch correction
    /// (<see cref="RolloutCorrection.Weights"/>): each token's policy-loss term is multiplied by its
    /// weight, the KL penalty is not. Null: no correction.</summary>
    public Tensor? SamplingWeights { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the tensor whose shape, dtype or device is wrong.</summary>
    internal void Check(ImportanceSamplingLevel level)
    {
        if (LogProbs.dim() != 2)
            throw new ArgumentException($"LogProbs must be [B, T]; got [{Shape(LogProbs)}].", nameof(LogProbs));
        long b = LogProbs.shape[0], t = LogProbs.shape[1];
        if (!LogProbs.is_floating_point())
            throw new ArgumentException($"LogProbs must be a floating-point tensor; got {LogProbs.dtype}.", nameof(LogProbs));
        SameShape(OldLogProbs, nameof(OldLogProbs), b, t);
        SameShape(ResponseMask, nameof(ResponseMask), b, t);
        if (RefLogProbs is not null) SameShape(RefLogProbs, nameof(RefLogProbs), b, t);
        if (SamplingWeights is { } w && (w.dim() != 2 || w.shape[0] != b || (w.shape[1] != t && w.shape[1] != 1)))
            throw new ArgumentException($"SamplingWeights must be [{b}, {t}] or [{b}, 1]; got [{Shape(w)}].", nameof(SamplingWeights));

        bool perSequence = Advantages.dim() == 1 && Advantages.shape[0] == b;
        bool perToken = Advantages.dim() == 2 && Advantages.shape[0] == b && Advantages.shape[1] == t;
        if (!perSequence && !perToken)
            throw new ArgumentException(
                $"Advantages must be [{b}] or [{b}, {t}] to match LogProbs [{b}, {t}]; got [{Shape(Advantages)}].", nameof(Advantages));
        if (perToken && level == ImportanceSamplingLevel.Sequence)
            throw new ArgumentException(
                "Advantages are per token, but importance_sampling_level sequence (GSPO) needs one advantage per " +
                "response; use sequence_token (GSPO-token) for per-token advantages.", nameof(Advantages));
        foreach (var (tensor, name) in new[] { (OldLogProbs, nameof(OldLogProbs)), (Advantages, nameof(Advantages)) })
            if (!tensor.is_floating_point())
                throw new ArgumentException($"{name} must be a floating-point tensor; got {tensor.dtype}.", name);
        foreach (var (tensor, name) in new[] { (OldLogProbs, nameof(OldLogProbs)), (Advantages, nameof(Advantages)),
                     (ResponseMask, nameof(ResponseMask)), (RefLogProbs, nameof(RefLogProbs)) })
            if (tensor is not null && (tensor.device_type != LogProbs.device_type || tensor.device_index != LogProbs.device_index))
                throw new ArgumentException($"{name} is on {tensor.device} but LogProbs is on {LogProbs.device}.", name);
    }

    static void SameShape(Tensor tensor, string name, long b, long t)
    {
        if (tensor.dim() != 2 || tensor.shape[0] != b || tensor.shape[1] != t)
            throw new ArgumentException($"{name} must be [{b}, {t}] like LogProbs; got [{Shape(tensor)}].", name);
    }

    static string Shape(Tensor tensor) => string.Join(", ", tensor.shape);
}

/// <summary>Denominators of the loss aggregation for a whole mini-batch (see <see cref="PolicyBatch.Totals"/>).</summary>
/// <param name="Sequences">Non-empty responses (loss_type grpo).</param>
/// <param name="Tokens">Response tokens (loss_type dapo).</param>
/// <param name="Rows">Responses including empty ones (loss_type dr_grpo).</param>
public sealed record LossTotals(long Sequences, long Tokens, long Rows);
