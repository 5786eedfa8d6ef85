using System.Runtime.ExceptionServices;
using static TorchSharp.torch;

namespace GspoSharp.Models.Architecture;

/// <summary>
/// The process's one worker thread for work split in two across two cores (<see cref="ProductSplit"/>,
/// <see cref="RowSplit"/>): it runs one half while the calling thread runs the other, each on one
/// LibTorch thread, in the caller's grad mode. Started on first use and never stopped: a thread per
/// split would give the BLAS library a new thread, and whatever it keeps per thread, every time.
/// </summary>
/// <remarks>One split at a time in the process (a lock hands the worker over). Tensors the worker's half
/// makes belong to no dispose scope unless the half opens one: the half's code decides what outlives it.</remarks>
internal static class SecondThread
{
    static readonly object handOver = new();
    static readonly ManualResetEventSlim start = new(false, 2047), done = new(false, 2047);
    static Thread? thread;
    static Action? work;
    static bool gradEnabled;
    static ExceptionDispatchInfo? error;
    [ThreadStatic] static bool running;   // this thread is running one half: a nested split would wait for itself

    /// <summary>Runs <paramref name="theirs"/> on the worker while <paramref name="mine"/> runs here, and returns
    /// when both have ended. An exception of either is rethrown here (this thread's first) after both have ended:
    /// the worker may read the caller's tensors, so the caller never leaves before it is done.</summary>
    public static void Run(Action theirs, Action mine)
    {
        if (running) throw new InvalidOperationException("work split across two threads cannot split again inside one of its halves.");
        lock (handOver)
        {
            if (thread is null)
            {
                thread = new Thread(Serve) { IsBackground = true, Name = "GspoSharp second thread" };
                thread.Start();
            }
            work = theirs;
            gradEnabled = is_grad_enabled();   // grad mode is per thread: the worker takes the caller's
            error = null;
            start.Set();
            running = true;
            try
            {
                mine();
            }
            finally
            {
                running = false;
                done.Wait();
                done.Reset();
            }
            if (error is { } failed)
            {
                error = null;
                failed.Throw();
            }
        }
    }

    static void Serve()
    {
        set_num_threads(1);   // this thread's own OpenMP / BLAS count, whatever LibTorch's lazy start would give it
        running = true;
        while (true)
        {
            start.Wait();
            start.Reset();
            try
            {
                using var mode = enable_grad(gradEnabled);
                work!();
            }
            catch (Exception e)
            {
                error = ExceptionDispatchInfo.Capture(e);
            }
            work = null;
            done.Set();
        }
    }
}
