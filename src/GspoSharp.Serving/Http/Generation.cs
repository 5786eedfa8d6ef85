using System.Text;
using GspoSharp.Models.Tokenization;
using GspoSharp.Serving.Engine;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>What the three generation endpoints share: prompt checks, queueing (429 when full), and
/// reading the worker's events.</summary>
internal sealed class Generation(BatchWorker worker, ServerOptions options)
{
    /// <summary>Largest number of log-probs per token (vLLM's default <c>max_logprobs</c>).</summary>
    public const int MaxLogprobs = 20;

    public BatchWorker Worker { get; } = worker;
    public ServerOptions Options { get; } = options;
    public HfTokenizer Tokenizer => Worker.Served.Tokenizer;
    public int Context => Worker.Served.Model.Config.MaxPositionEmbeddings;
    public int VocabSize => Worker.Served.Model.Config.VocabSize;
    readonly object encodeGate = new();

    public long[] Encode(string text)
    {
        lock (encodeGate) return Tokenizer.Encode(text).Select(i => (long)i).ToArray();
    }

    /// <summary>The adapter a request's <c>model</c> names: null for the served model (or no name), else a loaded adapter; 404 otherwise.</summary>
    public string? Adapter(string? model, string field = "model")
    {
        if (model is null || model == Options.ServedModelName) return null;
        if (Worker.HasAdapter(model)) return model;
        throw new ApiError(StatusCodes.Status404NotFound, $"The model `{model}` does not exist.", field);
    }

    /// <summary>Checks a prompt's ids against the vocabulary and the context.</summary>
    public void CheckPrompt(long[] ids, string field)
    {
        if (ids.Length == 0) throw ApiError.Field(field, "the prompt is empty.");
        foreach (long id in ids)
            if (id < 0 || id >= VocabSize) throw ApiError.Field(field, $"token id {id} is outside the vocabulary [0, {VocabSize}).");
        if (ids.Length >= Context)
            throw ApiError.Field(field, $"This model's maximum context length is {Context} tokens. However, your prompt has {ids.Length} tokens, leaving no room to generate.");
    }

    /// <summary>max_tokens checked against the context for every prompt (vLLM's message); null means "the rest of the context".</summary>
    public int MaxTokens(int? requested, IReadOnlyList<long[]> prompts, string field)
    {
        int longest = prompts.Max(p => p.Length);
        if (requested is null) return Context - longest;
        if (longest + requested > Context)
            throw ApiError.Field(field, $"This model's maximum context length is {Context} tokens. However, you requested {longest + requested} tokens " +
                                        $"({longest} in the messages, {requested} in the completion). Please reduce the length of the messages or completion.");
        return requested.Value;
    }

    /// <summary>Queues the request (429 when the queue is full) and sets the weight-version header once it starts.</summary>
    public ServeRequest Submit(IReadOnlyList<long[]> prompts, int n, SequenceParams p, string? adapter, HttpContext context)
    {
        var request = new ServeRequest(prompts, n, p, adapter, context.RequestAborted);
        if (!Worker.TryEnqueue(request))
            throw new ApiError(StatusCodes.Status429TooManyRequests, $"The server's queue is full ({Options.MaxQueue} waiting requests); retry later.");
        return request;
    }

    /// <summary>Waits for the first token (the request has started, so its weight version is known) and sets the header.</summary>
    public async Task<bool> Started(ServeRequest request, HttpContext context)
    {
        bool any = await request.Events.Reader.WaitToReadAsync(context.RequestAborted);
        context.Response.Headers[ServingHost.WeightVersionHeader] = request.WeightVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return any;
    }

    /// <summary>Reads every event of a request into its choices.</summary>
    public async Task<ChoiceState[]> Collect(ServeRequest request, HttpContext context)
    {
        var choices = Choices(request);
        await Started(request, context);
        await foreach (var e in request.Events.Reader.ReadAllAsync(context.RequestAborted)) choices[e.Choice].Add(e);
        return choices;
    }

    public static ChoiceState[] Choices(ServeRequest request) =>
        Enumerable.Range(0, request.Sequences).Select(i => new ChoiceState(i, request.Prompts[i / request.N])).ToArray();

    /// <summary>A token's text for log-prob listings: the token alone decoded, or <c>token_id:N</c> (vLLM's return_tokens_as_token_ids).</summary>
    public string TokenText(long id, bool asIds) => asIds ? $"token_id:{id}" : Tokenizer.Decode(new[] { (int)id });

    public static int[] Bytes(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();

    /// <summary>A fresh seed when the request gives none.</summary>
    public static long Seed(long? seed) => seed ?? Random.Shared.NextInt64();
}
