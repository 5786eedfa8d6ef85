using System.Text.Json.Nodes;

namespace GspoSharp.Serving.Http;

/// <summary>
/// What the two OpenAI endpoints share about the response rather than the sampling: the fields that
/// shape it (vLLM's <c>return_tokens_as_token_ids</c>, <c>return_token_ids</c>, <c>stream</c>,
/// <c>stream_options.include_usage</c>) and the envelope every body and stream chunk carries
/// (<c>id</c>, <c>object</c>, <c>created</c>, <c>model</c>).
/// </summary>
internal sealed record ResponseShape(bool TokensAsIds, bool ReturnTokenIds, bool Stream, bool IncludeUsage, string Id, long Created, string Model)
{
    /// <summary>Reads the shaping fields; <paramref name="idPrefix"/> is vLLM's (<c>cmpl</c>, <c>chatcmpl</c>).</summary>
    public static ResponseShape Read(RequestFields f, string idPrefix, string? model, Generation g)
    {
        bool asIds = f.Bool("return_tokens_as_token_ids") ?? false;
        bool returnIds = f.Bool("return_token_ids") ?? false;
        bool stream = f.Bool("stream") ?? false;
        bool includeUsage = SamplingFields.IncludeUsage(f, stream);
        return new ResponseShape(asIds, returnIds, stream, includeUsage, $"{idPrefix}-{Guid.NewGuid():N}",
                                 DateTimeOffset.UtcNow.ToUnixTimeSeconds(), model ?? g.Options.ServedModelName);
    }

    /// <summary>A body or chunk of type <paramref name="objectName"/> with these choices.</summary>
    public JsonObject Envelope(string objectName, JsonArray choices) => new()
    {
        ["id"] = Id, ["object"] = objectName, ["created"] = Created, ["model"] = Model, ["choices"] = choices,
    };

    /// <summary>The stream's last chunk when <c>include_usage</c> is set: no choices, the request's usage.</summary>
    public JsonObject UsageChunk(string objectName, IReadOnlyList<long[]> prompts, IEnumerable<ChoiceState> choices)
    {
        var chunk = Envelope(objectName, new JsonArray());
        chunk["usage"] = SamplingFields.Usage(prompts, choices);
        return chunk;
    }
}
