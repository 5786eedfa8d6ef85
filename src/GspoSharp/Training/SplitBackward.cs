using GspoSharp.Models.Architecture;
using static TorchSharp.torch;

namespace GspoSharp.Training;

/// <summary>
/// A micro-batch's forward and backward passes, whole or as two halves of its rows at once (<see cref="RowSplit"/>).
/// Split, the first half back-propagates into the parameters' gradients while the second takes its own
/// (<see cref="Optimization.Gradients"/>), which are added after the first's: the sum two consecutive micro-batches
/// of those halves make, in the same order, so a split pass equals, bit for bit, its halves run one after the other.
/// </summary>
/// <remarks>
/// <c>part</c> computes the loss of some rows and whatever else the caller keeps of them (its result); it runs in
/// a dispose scope this class opens and disposes, on the thread it is called on, so it must detach every tensor its
/// result holds. The result is disposed here if the pass fails after it was made.
/// </remarks>
public static class SplitBackward
{
    /// <summary>Runs <paramref name="part"/> on all of <paramref name="rows"/> and back-propagates its loss.</summary>
    public static T Whole<T>(IReadOnlyList<int> rows, Func<List<int>, (Tensor Loss, T Result)> part) where T : class, IDisposable =>
        Pass(rows.ToList(), part, null).Result;

    /// <summary>Runs <paramref name="part"/> on the two halves of <paramref name="rows"/> at once (<see cref="RowSplit.Halves"/>),
    /// adds both halves' gradients to the parameters', first then second, and returns both results in that order.</summary>
    public static (T First, T Second) Halves<T>(Optimization optimization, IReadOnlyList<int> rows, Func<List<int>, (Tensor Loss, T Result)> part)
        where T : class, IDisposable
    {
        var (firstRows, secondRows) = RowSplit.Halves(rows);
        var (first, second) = RowSplit.Run(() => Pass(firstRows, part, null), () => Pass(secondRows, part, optimization));
        try
        {
            optimization.Accumulate(second.Gradients!);
            return (first.Result, second.Result);
        }
        catch
        {
            first.Dispose();
            second.Dispose();
            throw;
        }
    }

    /// <summary>One part's pass: its loss back-propagated (no <paramref name="returning"/>) or its gradients returned.</summary>
    static PartPass<T> Pass<T>(List<int> rows, Func<List<int>, (Tensor Loss, T Result)> part, Optimization? returning) where T : class, IDisposable
    {
        using var scope = NewDisposeScope();
        var (loss, result) = part(rows);
        try
        {
            if (returning is null)
            {
                loss.backward();
                return new PartPass<T>(result, null);
            }
            return new PartPass<T>(result, returning.Gradients(loss));
        }
        catch
        {
            result.Dispose();
            throw;
        }
    }

    sealed record PartPass<T>(T Result, ParameterGradients? Gradients) : IDisposable where T : IDisposable
    {
        public void Dispose()
        {
            Result.Dispose();
            Gradients?.Dispose();
        }
    }
}
