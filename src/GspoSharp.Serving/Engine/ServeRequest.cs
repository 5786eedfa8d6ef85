using System.Threading.Channels;
using GspoSharp.Rollout;

namespace GspoSharp.Serving.Engine;

/// <summary>One token of one sequence, as the worker reports it.</summary>
/// <param name="Choice">The sequence: prompt index × n + sample index (vLLM's choice index).</param>
/// <param name="Token">The sampled id.</param>
/// <param name="LogProb">Its processed log-prob (NaN when not asked for).</param>
/// <param name="Top">The most likely tokens and their processed log-probs, when asked for.</param>
/// <param name="Finish">Set on a sequence's last token.</param>
/// <param name="StopReason">What stopped it: a stop string, a stop token id (long), or null (EOS, length).</param>
public readonly record struct TokenEvent(int Choice, long Token, float LogProb, (long Id, float LogProb)[]? Top, FinishReason? Finish, object? StopReason);

/// <summary>
/// A generation request as the worker sees it: prompts, n samples of each, how to sample, the adapter
/// to sample with. The worker writes each sequence's tokens to <see cref="Events"/>; the request is
/// complete when the channel completes (with an exception when the worker could not serve it).
/// </summary>
public sealed class ServeRequest(IReadOnlyList<long[]> prompts, int n, SequenceParams parameters, string? adapter, CancellationToken cancel)
{
    /// <summary>Prompt token ids.</summary>
    public IReadOnlyList<long[]> Prompts { get; } = prompts;

    /// <summary>Samples per prompt.</summary>
    public int N { get; } = n;

    /// <summary>Sampling and stopping.</summary>
    public SequenceParams Params { get; } = parameters;

    /// <summary>The LoRA adapter name, or null for the base model.</summary>
    public string? Adapter { get; } = adapter;

    /// <summary>Cancelled when the client goes away: the request's sequences leave the batch.</summary>
    public CancellationToken Cancel { get; } = cancel;

    /// <summary>Tokens as they are sampled, in order per sequence.</summary>
    public Channel<TokenEvent> Events { get; } = Channel.CreateUnbounded<TokenEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>The weight version that sampled the request (set when its first sequence is prefilled;
    /// a weight update waits for running sequences, so all of a request's sequences share it).</summary>
    public long WeightVersion { get; internal set; }

    /// <summary>Sequences of the request.</summary>
    public int Sequences => Prompts.Count * N;

    internal int Unadmitted;
    internal int Unfinished;
}
