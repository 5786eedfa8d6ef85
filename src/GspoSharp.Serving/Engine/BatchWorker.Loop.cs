using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Serving.Engine;

public sealed partial class BatchWorker
{
    /// <summary>One sequence of a request: its own random stream, seeded from (seed, prompt index, sample
    /// index) as the rollout engine seeds its samples, so it draws the same uniforms alone or in any batch.</summary>
    sealed class Sequence(ServeRequest request, int prompt, int sample, int context)
    {
        public ServeRequest Request { get; } = request;
        public int Prompt { get; } = prompt;
        public int Choice { get; } = prompt * request.N + sample;
        public long[] PromptIds => Request.Prompts[Prompt];
        public SampleRandom Random { get; } = new(request.Params.Seed, prompt, sample);
        public List<long> Tokens { get; } = new();
        public int MaxNew { get; } = Math.Min(request.Params.MaxTokens, context - request.Prompts[prompt].Length);
    }

    /// <summary>Sets the thread count on this thread, which runs all of the model's work (<see cref="IntraOpThreads"/>),
    /// and releases the constructor, which waits for it.</summary>
    IntraOpThreads SetThreads()
    {
        try
        {
            var scope = IntraOpThreads.UseFor(Served.Model.Config, requestedThreads);
            Threads = get_num_threads();
            return scope;
        }
        finally
        {
            started.Set();
        }
    }

    void Run()
    {
        using var noGrad = no_grad();
        using var intraOp = SetThreads();
        while (true)
        {
            bool controlPending, partial;
            lock (gate)
            {
                if (stopping) break;
                controlPending = controls.Count > 0;
                partial = waiting.Any(r => r.Unadmitted < r.Sequences);
            }
            try
            {
                DropCancelled();
                if (controlPending && running.Count == 0 && !partial)
                {
                    RunControls();
                    continue;
                }
                if (holdAdmission?.Invoke() != true) Admit(allowNew: !controlPending);
                if (running.Count == 0)
                {
                    wake.WaitOne(50);
                    continue;
                }
                Step();
            }
            catch (Exception e)
            {
                // A failure in one step (out of memory, a bug) ends the requests in flight, not the server.
                FailRunning(e);
            }
        }
        FailRunning(new OperationCanceledException("the server is shutting down."));
        lock (gate)
        {
            foreach (var r in waiting) r.Events.Writer.TryComplete(new OperationCanceledException("the server is shutting down."));
            waiting.Clear();
            while (controls.TryDequeue(out var control)) control.Fail(new OperationCanceledException("the server is shutting down."));
        }
    }

    void RunControls()
    {
        while (true)
        {
            (Action Run, Action<Exception> Fail) control;
            lock (gate) if (!controls.TryDequeue(out control)) return;
            control.Run();
        }
    }

    /// <summary>Removes the requests whose clients left: waiting ones, and running rows.</summary>
    void DropCancelled()
    {
        lock (gate)
            waiting.RemoveAll(r =>
            {
                if (!r.Cancel.IsCancellationRequested) return false;
                r.Events.Writer.TryComplete(new OperationCanceledException());
                return true;
            });
        if (running.Any(s => s.Request.Cancel.IsCancellationRequested))
        {
            foreach (var r in running.Where(s => s.Request.Cancel.IsCancellationRequested).Select(s => s.Request).Distinct())
                r.Events.Writer.TryComplete(new OperationCanceledException());
            Retain(Enumerable.Range(0, running.Count).Where(i => !running[i].Request.Cancel.IsCancellationRequested).ToList());
        }
    }

    /// <summary>Takes waiting sequences, in arrival order, while the batch has room, and prefills them.
    /// With <paramref name="allowNew"/> false only requests already partly running continue (a weight
    /// update is waiting for the batch to drain). The batch runs one adapter at a time: a request for
    /// another adapter waits until the batch is empty, then the adapter is switched.</summary>
    void Admit(bool allowNew)
    {
        var batch = new List<Sequence>();
        int context = Served.Model.Config.MaxPositionEmbeddings;
        lock (gate)
        {
            for (int i = 0; i < waiting.Count && running.Count + batch.Count < maxBatch;)
            {
                var r = waiting[i];
                bool started = r.Unadmitted < r.Sequences;
                if (!allowNew && !started) break;
                if (r.Adapter != adapters.Active)
                {
                    if (running.Count > 0 || batch.Count > 0) break;
                    if (r.Adapter is not null && !adapters.Contains(r.Adapter))
                    {
                        r.Events.Writer.TryComplete(new ArgumentException($"the LoRA adapter '{r.Adapter}' is not loaded."));
                        waiting.RemoveAt(i);
                        continue;
                    }
                    adapters.Activate(Served.Model, r.Adapter);
                }
                if (!started) r.WeightVersion = WeightVersion;
                while (r.Unadmitted > 0 && running.Count + batch.Count < maxBatch)
                {
                    int index = r.Sequences - r.Unadmitted--;
                    batch.Add(new Sequence(r, index / r.N, index % r.N, context));
                }
                if (r.Unadmitted == 0) waiting.RemoveAt(i);
                else i++;
            }
        }
        if (batch.Count == 0) return;
        try
        {
            Prefill(batch);
        }
        catch (Exception e)
        {
            foreach (var r in batch.Select(s => s.Request).Distinct()) r.Events.Writer.TryComplete(e);
            throw;
        }
    }

    /// <summary>Runs the new sequences' prompts (each distinct prompt of a request once, shared by its n
    /// samples) and joins their cache rows and next-token logits to the running batch.</summary>
    void Prefill(List<Sequence> batch)
    {
        using var scope = NewDisposeScope();
        var model = Served.Model;
        var groups = batch.GroupBy(s => (s.Request, s.Prompt)).ToList();
        int width = groups.Max(g => g.Key.Request.Prompts[g.Key.Prompt].Length);
        var ids = new long[groups.Count * width];
        var mask = new bool[groups.Count * width];
        for (int i = 0; i < groups.Count; i++)
        {
            var prompt = groups[i].First().PromptIds;
            int offset = i * width + width - prompt.Length;
            Array.Copy(prompt, 0, ids, offset, prompt.Length);
            Array.Fill(mask, true, offset, prompt.Length);
        }
        using var fresh = model.NewCache(groups.Count, width, maxRows: batch.Count);
        var hidden = model.Forward(tensor(ids, new long[] { groups.Count, width }, device: model.Device),
            tensor(mask, new long[] { groups.Count, width }, device: model.Device), fresh);
        var last = model.Logits(hidden.narrow(1, width - 1, 1).squeeze(1));
        var rows = tensor(groups.SelectMany((g, i) => g.Select(_ => (long)i)).ToArray(), device: model.Device);
        fresh.SelectRows(rows);
        var newLogits = last.index_select(0, rows);
        if (cache is null)
            cache = fresh.Resized(maxBatch, CapacityFor(width + 1));
        else
        {
            EnsureCapacity(width, 0);
            cache.Join(fresh);
        }
        var joined = logits is null ? newLogits : cat(new[] { logits, newLogits }, 0);
        logits?.Dispose();
        logits = joined.DetachFromDisposeScope();
        running.AddRange(batch);
        Volatile.Write(ref runningCount, running.Count);
    }

    /// <summary>Samples one token for every running sequence, reports it, lets finished sequences leave,
    /// and runs the model on the tokens of the others.</summary>
    void Step()
    {
        using var scope = NewDisposeScope();
        var model = Served.Model;
        var uniforms = running.Select(s => s.Random.NextUniform()).ToArray();
        var draws = RowSampler.Draw(logits!, running.Select(s => s.Request.Params).ToList(), uniforms);
        var keep = new List<int>(running.Count);
        var answered = new List<ServeRequest>();
        for (int i = 0; i < running.Count; i++)
        {
            var s = running[i];
            var p = s.Request.Params;
            long token = draws[i].Token;
            s.Tokens.Add(token);
            FinishReason? finish = null;
            object? stopReason = null;
            if (!p.IgnoreEos && Served.EosTokenIds.Contains(token)) finish = FinishReason.Stop;
            else if (p.StopTokenIds.Contains(token)) (finish, stopReason) = (FinishReason.Stop, token);
            else if (p.Stop.Count > 0 && StopText.Cut(StopText.Decode(Served.Tokenizer, s.Tokens, p), p).Stop is { } matched)
                (finish, stopReason) = (FinishReason.Stop, matched);
            else if (s.Tokens.Count >= s.MaxNew) finish = FinishReason.Length;
            s.Request.Events.Writer.TryWrite(new TokenEvent(s.Choice, token, draws[i].LogProb, draws[i].Top, finish, stopReason));
            if (finish is null) keep.Add(i);
            else if (Interlocked.Decrement(ref s.Request.Unfinished) == 0) answered.Add(s.Request);
        }
        var tokens = tensor(draws.Select(d => d.Token).ToArray(), device: model.Device);
        Retain(keep);
        // Completed only once the running count excludes them: a client holding its whole answer never finds
        // its request still counted as running in /health.
        foreach (var request in answered) request.Events.Writer.TryComplete();
        if (running.Count == 0) return;
        if (keep.Count < draws.Length) tokens = tokens.index_select(0, tensor(keep.Select(i => (long)i).ToArray(), device: model.Device));
        EnsureCapacity(0, 1);
        var hidden = model.Forward(tokens.unsqueeze(1), cache: cache);
        var next = model.Logits(hidden.squeeze(1)).DetachFromDisposeScope();
        logits!.Dispose();
        logits = next;
    }

    /// <summary>Keeps only the running rows <paramref name="keep"/> (ascending) in the batch, its cache and its logits.</summary>
    void Retain(List<int> keep)
    {
        if (keep.Count == running.Count) return;
        if (keep.Count == 0)
        {
            running.Clear();
            ReleaseBatch();
        }
        else
        {
            using var scope = NewDisposeScope();
            var index = tensor(keep.Select(i => (long)i).ToArray(), device: logits!.device);
            cache!.SelectRows(index);
            var kept = logits.index_select(0, index).DetachFromDisposeScope();
            logits.Dispose();
            logits = kept;
            var rows = keep.Select(i => running[i]).ToList();
            running.Clear();
            running.AddRange(rows);
        }
        Volatile.Write(ref runningCount, running.Count);
    }

    void ReleaseBatch()
    {
        cache?.Dispose();
        cache = null;
        logits?.Dispose();
        logits = null;
    }

    /// <summary>Makes room for the longer of <paramref name="width"/> positions and the filled ones plus
    /// <paramref name="step"/>: first by dropping columns no row uses any more, then by a larger cache (at
    /// most the model's context, which every row fits).</summary>
    void EnsureCapacity(long width, long step)
    {
        if (Math.Max(cache!.Length + step, width) <= cache.Capacity) return;
        cache.TrimLeft();
        long needed = Math.Max(cache.Length + step, width);
        if (needed <= cache.Capacity) return;
        var grown = cache.Resized(maxBatch, CapacityFor(needed));
        cache.Dispose();
        cache = grown;
    }

    /// <summary>Room for <paramref name="length"/> positions and some more, so growing is rare; never past the context.</summary>
    long CapacityFor(long length)
    {
        long capacity = 64;
        while (capacity < length + 32) capacity *= 2;
        return Math.Min(capacity, Math.Max(length, Served.Model.Config.MaxPositionEmbeddings));
    }

    /// <summary>Ends every running request with <paramref name="error"/> and empties the batch.</summary>
    void FailRunning(Exception error)
    {
        foreach (var r in running.Select(s => s.Request).Distinct()) r.Events.Writer.TryComplete(error);
        running.Clear();
        Volatile.Write(ref runningCount, 0);
        ReleaseBatch();
    }
}
