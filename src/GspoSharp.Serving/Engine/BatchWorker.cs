using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using TorchSharp;
using static TorchSharp.torch;

namespace GspoSharp.Serving.Engine;

/// <summary>
/// The one thread that owns the model (TorchSharp's dispose scopes and grad mode are per thread).
/// Requests queue; at every decoding step the waiting sequences that fit are prefilled and join the
/// running batch (<see cref="KvCache.Join"/>), every running sequence gets one token, and finished or
/// cancelled sequences leave at once — continuous batching. Weight updates and adapter loads run on
/// this thread between steps, when no sequence is running, so a request samples with one set of
/// weights from its first token to its last. See docs/serve.md.
/// </summary>
public sealed partial class BatchWorker : IDisposable
{
    readonly object gate = new();
    readonly List<ServeRequest> waiting = new();                 // FIFO; guarded by gate
    readonly Queue<(Action Run, Action<Exception> Fail)> controls = new();   // guarded by gate
    readonly AutoResetEvent wake = new(false);
    readonly Thread thread;
    readonly int maxBatch, maxQueue;
    readonly ScalarType dtype;
    readonly AdapterRegistry adapters = new();
    readonly List<Sequence> running = new();
    KvCache? cache;
    Tensor? logits;                                              // [running, V]: the next token's logits of each row
    volatile bool stopping;
    long weightVersion = 1;
    int runningCount;

    readonly Func<bool>? holdAdmission;

    /// <summary>Starts the worker on <paramref name="model"/> (which it then owns), sampling on
    /// <paramref name="threads"/> LibTorch threads (null: <see cref="IntraOpThreads.For"/>'s choice).
    /// While <paramref name="holdAdmission"/> returns true no waiting request starts (tests use it to fill the
    /// queue deterministically).</summary>
    public BatchWorker(ServedModel model, ScalarType dtype, int maxBatch, int maxQueue, Func<bool>? holdAdmission = null, int? threads = null)
    {
        if (threads is < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "a thread count must be ≥ 1.");
        this.holdAdmission = holdAdmission;
        Served = model;
        this.dtype = dtype;
        this.maxBatch = maxBatch;
        this.maxQueue = maxQueue;
        requestedThreads = threads;
        thread = new Thread(Run) { Name = "gspo serve worker", IsBackground = true };
        thread.Start();
        started.Wait();
    }

    readonly int? requestedThreads;
    readonly ManualResetEventSlim started = new(false);

    /// <summary>The LibTorch intra-op threads the worker samples with (read on its thread when it started).</summary>
    public int Threads { get; private set; }

    /// <summary>The model being served (replaced by a weight update; read its tokenizer and config only).</summary>
    public ServedModel Served { get; private set; }

    /// <summary>Counts up by one at every weight update; 1 for the weights loaded at start.</summary>
    public long WeightVersion => Interlocked.Read(ref weightVersion);

    /// <summary>Requests waiting to start (whole or in part).</summary>
    public int Waiting { get { lock (gate) return waiting.Count; } }

    /// <summary>Sequences in the running batch.</summary>
    public int Running => Volatile.Read(ref runningCount);

    /// <summary>The adapter names and directories loaded (a snapshot; never waits for the batch).</summary>
    public IReadOnlyList<(string Name, string Path)> Adapters()
    {
        lock (adapterNames) return adapterNames.Select(a => (a.Key, a.Value)).ToList();
    }

    /// <summary>Queues a request; false when the queue is full (the caller answers 429).</summary>
    public bool TryEnqueue(ServeRequest request)
    {
        lock (gate)
        {
            if (stopping || waiting.Count >= maxQueue) return false;
            request.Unadmitted = request.Sequences;
            request.Unfinished = request.Sequences;
            waiting.Add(request);
        }
        wake.Set();
        return true;
    }

    /// <summary>Runs <paramref name="action"/> on the worker thread once no sequence runs.</summary>
    public Task<T> Control<T>(Func<T> action)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (gate)
        {
            if (stopping) done.SetException(new OperationCanceledException("the server is shutting down."));
            else controls.Enqueue((() =>
            {
                try { done.SetResult(action()); }
                catch (Exception e) { done.SetException(e); }
            }, e => done.TrySetException(e)));
        }
        wake.Set();
        return done.Task;
    }

    /// <summary>Loads the checkpoint in <paramref name="directory"/> in place of the served weights (same
    /// architecture and vocabulary), between steps. Returns the new weight version.</summary>
    public Task<long> UpdateWeights(string directory) => Control(() =>
    {
        var next = ServedModel.Load(directory, dtype, Served.Model.Device);
        var (old, now) = (Served.Model.Config, next.Model.Config);
        if (old.VocabSize != now.VocabSize || old.ModelType != now.ModelType || old.HiddenSize != now.HiddenSize || old.NumHiddenLayers != now.NumHiddenLayers
            || old.NumKeyValueHeads != now.NumKeyValueHeads || old.HeadDim != now.HeadDim || old.MaxPositionEmbeddings != now.MaxPositionEmbeddings)
        {
            next.Dispose();
            throw new ArgumentException($"{directory}: a {ModelConfig.Name(now.ModelType)} model with {now.NumHiddenLayers} layers, hidden size {now.HiddenSize} and " +
                                        $"vocabulary {now.VocabSize} cannot replace the served {ModelConfig.Name(old.ModelType)} model with {old.NumHiddenLayers}, {old.HiddenSize} and {old.VocabSize}.");
        }
        adapters.Activate(Served.Model, null);
        var previous = Served;
        Served = next;
        previous.Dispose();
        return Interlocked.Increment(ref weightVersion);
    });

    /// <summary>Loads a PEFT adapter under <paramref name="name"/> (replacing one of that name).</summary>
    public Task<bool> LoadAdapter(string name, string directory) => Control(() =>
    {
        adapters.Load(Served.Model, name, directory);
        SyncAdapterNames();
        return true;
    });

    /// <summary>Forgets an adapter; false when none has that name.</summary>
    public Task<bool> UnloadAdapter(string name) => Control(() =>
    {
        adapters.Activate(Served.Model, null);
        bool removed = adapters.Remove(name);
        SyncAdapterNames();
        return removed;
    });

    /// <summary>Whether an adapter of that name is loaded (a snapshot).</summary>
    public bool HasAdapter(string name)
    {
        lock (adapterNames) return adapterNames.ContainsKey(name);
    }

    readonly SortedDictionary<string, string> adapterNames = new(StringComparer.Ordinal);

    void SyncAdapterNames()
    {
        lock (adapterNames)
        {
            adapterNames.Clear();
            foreach (var (name, path) in adapters.List()) adapterNames[name] = path;
        }
    }

    /// <summary>Stops: waiting and running requests end with an error, the thread exits, the model is released.</summary>
    public void Dispose()
    {
        lock (gate) stopping = true;
        wake.Set();
        thread.Join();
        adapters.Dispose();
        Served.Dispose();
        wake.Dispose();
        started.Dispose();
    }
}
