using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// log softmax(h Wᵀ / τ)[y] for N rows of hidden states h [N, d], output weights W [V, d] and
/// targets y [N], plus each row's entropy, without ever holding more than a chunk of rows of
/// float32 logits. Autograd would keep every chunk's [rows × V] logits alive for the backward
/// pass — the memory that runs RL trainers out of memory with ~150k-token vocabularies — so the
/// backward pass recomputes them chunk by chunk instead:
/// <code>
///   ∂lp/∂logits = onehot(y) − softmax(logits)      ∂/∂h = (g/τ) W      ∂/∂W = (g/τ)ᵀ h
/// </code>
/// Entropies are for metrics and carry no gradient: the forward pass writes them into a buffer
/// the caller passes in, so the function has a single differentiable output.
/// </summary>
internal sealed class SelectedLogProbs : autograd.SingleTensorFunction<SelectedLogProbs>
{
    /// <summary>Rows of logits materialised at once at least: 256 × 152k float32 ≈ 155 MB.</summary>
    public const long ChunkRows = 256;

    /// <summary>Logits materialised at once at most (the 256 rows of a 152k vocabulary): with a small
    /// vocabulary a chunk holds more rows, so the tiny models score a whole batch in one chunk, with
    /// ~25 LibTorch calls instead of ~25 per 256 rows.</summary>
    public const long ChunkElements = ChunkRows * 152_064;

    /// <summary>Rows per chunk for a vocabulary of <paramref name="vocab"/> tokens.</summary>
    public static long RowsPerChunk(long vocab) => Math.Max(ChunkRows, ChunkElements / Math.Max(1, vocab));

    public override string Name => nameof(SelectedLogProbs);

    /// <summary>Returns log-probs [N] and entropies [N] in float32 (float64 for float64 inputs); the
    /// entropies carry no gradient.</summary>
    public static (Tensor LogProbs, Tensor Entropy) Compute(Tensor hidden, Tensor weight, Tensor targets, double temperature, long? chunkRows = null)
    {
        // Entropies are not an output of the function (docs/decisions/0003 and 0004): a second output
        // either needs mark_non_differentiable, whose handle array TorchSharp 0.107 unpins before the
        // native call, or comes back to backward as an undefined gradient, which TorchSharp wraps in
        // a tensor object its live-tensor count never releases.
        var entropy = empty(hidden.shape[0], Precision.Accumulate(hidden.dtype), hidden.device);
        return (apply(hidden, weight, targets, temperature, entropy, chunkRows ?? RowsPerChunk(weight.shape[0])), entropy);
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var (hidden, weight, targets, temperature, entropy) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (double)vars[3], (Tensor)vars[4]);
        long chunk = (long)vars[5];
        long n = hidden.shape[0];
        var acc = Precision.Accumulate(hidden.dtype);
        var logProbs = empty(n, acc, hidden.device);
        var logSumExp = empty(n, acc, hidden.device);
        for (long start = 0; start < n; start += chunk)
        {
            using var scope = NewDisposeScope();
            long rows = Math.Min(chunk, n - start);
            var logits = Logits(hidden.narrow(0, start, rows), weight, temperature);
            var lse = logits.logsumexp(1);
            var y = targets.narrow(0, start, rows).unsqueeze(1);
            logProbs.narrow(0, start, rows).copy_(logits.gather(1, y).squeeze(1) - lse);
            logSumExp.narrow(0, start, rows).copy_(lse);
            // H = lse − Σ p·logits; p overwrites its own temporary, so a chunk holds two [rows, V] buffers, not four.
            var p = (logits - lse.unsqueeze(1)).exp_();
            entropy.narrow(0, start, rows).copy_(lse - p.mul_(logits).sum(1));
        }
        ctx.save_for_backward(new List<Tensor> { hidden, weight, targets, logSumExp });
        ctx.save_data("temperature", temperature);
        ctx.save_data("chunk", chunk);
        // Which inputs want a gradient, known now: under LoRA the output head (the tied embedding) is frozen,
        // and its [V, d] float32 gradient — 622 MB for Qwen3-0.6B — is then never allocated nor computed.
        ctx.save_data("grad_hidden", hidden.requires_grad);
        ctx.save_data("grad_weight", weight.requires_grad);
        // Undefined output gradients stay undefined: materialising them would use TorchSharp's
        // cached output templates, which belong to the caller's dispose scope and may be gone.
        ctx.set_materialize_grads(false);
        return logProbs;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var saved = ctx.get_saved_variables();
        var (hidden, weight, targets, logSumExp) = (saved[0], saved[1], saved[2], saved[3]);
        double temperature = (double)ctx.get_data("temperature");
        long chunk = (long)ctx.get_data("chunk");
        if (grad.IsInvalid) return new List<Tensor> { null!, null!, null!, null!, null!, null! };
        bool wantHidden = (bool)ctx.get_data("grad_hidden"), wantWeight = (bool)ctx.get_data("grad_weight");
        long n = hidden.shape[0];
        var acc = Precision.Accumulate(hidden.dtype);
        var gradHidden = wantHidden ? zeros_like(hidden) : null;
        var gradWeight = wantWeight ? zeros(weight.shape, acc, weight.device) : null;
        for (long start = 0; start < n && (wantHidden || wantWeight); start += chunk)
        {
            using var scope = NewDisposeScope();
            long rows = Math.Min(chunk, n - start);
            var h = hidden.narrow(0, start, rows);
            // In place on the recomputed logits (the same operations, so the same values, as out of place):
            // one [rows, V] buffer per chunk instead of five.
            var dLogits = Logits(h, weight, temperature);
            var g = grad.narrow(0, start, rows).to_type(acc).unsqueeze(1);
            dLogits.sub_(logSumExp.narrow(0, start, rows).unsqueeze(1)).exp_().mul_(g).neg_();    // −softmax · g
            dLogits.scatter_add_(1, targets.narrow(0, start, rows).unsqueeze(1), g);
            if (temperature != 1)
            {
                using var inverse = (1 / temperature).ToScalar();
                dLogits.mul_(inverse);
            }
            gradHidden?.narrow(0, start, rows).copy_(dLogits.matmul(weight.to_type(acc)));
            gradWeight?.add_(dLogits.t().matmul(h.to_type(acc)), Scalars.One);
        }
        return new List<Tensor> { gradHidden!, gradWeight?.to_type(weight.dtype)!, null!, null!, null!, null! };
    }

    static Tensor Logits(Tensor hidden, Tensor weight, double temperature)
    {
        var logits = hidden.matmul(weight.t());
        var acc = Precision.Accumulate(hidden.dtype);
        if (logits.dtype != acc) logits = logits.to_type(acc);
        if (temperature == 1) return logits;   // dividing by 1 changes nothing and costs a pass over [rows, V]
        using var t = temperature.ToScalar();   // kept alive through the call: see Scalars
        return logits.div_(t);
    }
}
