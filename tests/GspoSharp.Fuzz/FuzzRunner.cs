using System.Diagnostics;
using GspoSharp.Fuzz.Mutations;

namespace GspoSharp.Fuzz;

/// <summary>An input that broke the contract.</summary>
/// <param name="Target">The target's name.</param>
/// <param name="Index">The input's number in its run: with the run's seed it reproduces <see cref="Case"/>.</param>
/// <param name="Case">The seed and mutations that made the input.</param>
/// <param name="Problem">What is wrong: an undocumented exception, a message that names nothing, too much memory.</param>
/// <param name="Exception">The exception, when one was thrown.</param>
/// <param name="Input">The input's bytes.</param>
public sealed record Finding(string Target, long Index, FuzzCase Case, string Problem, Exception? Exception, byte[] Input)
{
    /// <summary>Findings with the same signature are one defect: the problem's kind and where it was thrown.</summary>
    public string Signature => $"{Target}|{Exception?.GetType().Name ?? "allocation"}|{FirstFrame(Exception)}";

    static string FirstFrame(Exception? e)
    {
        if (e is null) return "";
        var frame = new StackTrace(e, false).GetFrames().FirstOrDefault(f => f.GetMethod()?.DeclaringType?.Namespace?.StartsWith("GspoSharp") == true);
        return frame?.GetMethod() is { } m ? $"{m.DeclaringType!.FullName}.{m.Name}" : "";
    }

    public override string ToString() =>
        $"{Target} input {Index} (case {Case}): {Problem}" + (Exception is null ? "" : $"\n{Exception}");
}

/// <summary>Counts of one target's run.</summary>
public sealed class TargetStats(string target)
{
    public string Target { get; } = target;
    public long Tried { get; set; }
    public long Accepted { get; set; }
    public long Refused { get; set; }
    public List<Finding> Findings { get; } = [];
    public long MaxAllocatedBytes { get; set; }
    public TimeSpan Elapsed { get; set; }
}

/// <summary>
/// Runs one target: input i is <see cref="FuzzCase.At"/>(stream, seed, i) applied to the seeds,
/// written to the input path and parsed. The contract of every input: the parse succeeds, or it
/// throws the target's documented exception with a message naming the input; and the managed
/// memory it allocates stays below <see cref="AllocationCap"/>. Anything else is a <see cref="Finding"/>.
/// </summary>
public static class FuzzRunner
{
    /// <summary>
    /// Managed bytes one parse may allocate: 64 MiB plus 64 per input byte. Parsing a file costs a
    /// small multiple of its size; a parser that sizes a buffer by a number read from the file
    /// (a header length, a count) without checking it against the file blows far past this.
    /// </summary>
    public static long AllocationCap(long inputBytes) => (64L << 20) + 64 * inputBytes;

    /// <summary>Checks that every seed is accepted: a target whose seeds fail tests nothing.</summary>
    public static void VerifySeeds(FuzzTarget target, TargetSetup setup)
    {
        for (int i = 0; i < setup.Seeds.Count; i++)
        {
            File.WriteAllBytes(setup.InputPath, setup.Seeds[i]);
            try
            {
                setup.Parse();
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{target.Name}: seed {i} is refused; fix the seed: {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// Runs inputs <paramref name="first"/>, first + 1, … until <paramref name="count"/> have run or
    /// <paramref name="deadline"/> passes. <paramref name="onInput"/> is told each input before it is
    /// parsed (a watchdog uses it).
    /// </summary>
    public static TargetStats Run(FuzzTarget target, TargetSetup setup, uint stream, ulong seed, long count,
        DateTime? deadline = null, long first = 0, Action<long, byte[]>? onInput = null, Action<Finding>? onFinding = null)
    {
        var stats = new TargetStats(target.Name);
        var clock = Stopwatch.StartNew();
        for (long i = first; i < first + count && (deadline is null || DateTime.UtcNow < deadline); i++)
        {
            var fuzzCase = FuzzCase.At(stream, seed, i);
            var finding = RunOne(target, setup, fuzzCase, i, stats, onInput);
            if (finding is not null)
            {
                stats.Findings.Add(finding);
                onFinding?.Invoke(finding);
            }
        }
        stats.Elapsed = clock.Elapsed;
        return stats;
    }

    /// <summary>Runs one case; null when the contract held.</summary>
    public static Finding? RunOne(FuzzTarget target, TargetSetup setup, FuzzCase fuzzCase, long index, TargetStats stats,
        Action<long, byte[]>? onInput = null)
    {
        byte[] input = Mutator.Apply(fuzzCase, setup.Seeds, target.Format);
        File.WriteAllBytes(setup.InputPath, input);
        onInput?.Invoke(index, input);
        stats.Tried++;
        string? problem = null;
        Exception? thrown = null;
        long before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            setup.Parse();
            stats.Accepted++;
        }
        catch (Exception e)
        {
            thrown = e;
            problem = setup.Judge(e);
            if (problem is null) stats.Refused++;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        stats.MaxAllocatedBytes = Math.Max(stats.MaxAllocatedBytes, allocated);
        if (problem is null && allocated > AllocationCap(input.Length))
            problem = $"allocated {allocated:N0} managed bytes for a {input.Length:N0}-byte input (cap {AllocationCap(input.Length):N0})";
        return problem is null ? null : new Finding(target.Name, index, fuzzCase, problem, thrown, input);
    }
}
