using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Serving.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>
/// <c>POST /v1/completions</c>, with the request fields and response shapes of vLLM's OpenAI server
/// (<c>CompletionRequest</c>, <c>CompletionResponse</c>, <c>CompletionStreamResponse</c>).
/// </summary>
internal static class CompletionsEndpoint
{
    public static void Map(WebApplication app, Generation g) =>
        app.MapPost("/v1/completions", (HttpContext context) => ServingHost.Guard(context, () => Handle(context, g)));

    static async Task Handle(HttpContext context, Generation g)
    {
        var f = await RequestFields.Read(context.Request);
        string? model = f.String("model");
        string? adapter = g.Adapter(model);
        var prompts = Prompts(f.Node("prompt"), g);
        int n = f.Int("n", 1, 128) ?? 1;
        f.Neutral("best_of", n);
        f.Neutral("echo", false);
        f.Neutral("suffix", "");
        f.Neutral("use_beam_search", false);
        int? logprobs = f.Int("logprobs", 0, Generation.MaxLogprobs);
        int maxTokens = g.MaxTokens(f.Int("max_tokens", 1, int.MaxValue) ?? 16, prompts, "max_tokens");
        var shape = ResponseShape.Read(f, "cmpl", model, g);
        var p = SamplingFields.Read(f, g, logprobs) with { MaxTokens = maxTokens };
        f.RejectUnknown();

        var request = g.Submit(prompts, n, p, adapter, context);
        if (!shape.Stream)
        {
            var choices = await g.Collect(request, context);
            var body = shape.Envelope("text_completion",
                new JsonArray(choices.Select(c => (JsonNode)Choice(c, g, p, shape, c.Text(g.Tokenizer, p), 0, c.Tokens.Count, true)).ToArray()));
            body["usage"] = SamplingFields.Usage(prompts, choices);
            body["system_fingerprint"] = null;
            body["kv_transfer_params"] = null;
            await JsonResponse.Write(context, body);
            return;
        }

        var states = Generation.Choices(request);
        await g.Started(request, context);
        await Sse.Begin(context);
        await foreach (var batch in Sse.Batches(request, context))
        {
            foreach (var e in batch)
            {
                var c = states[e.Choice];
                c.Add(e);
                int offset = c.Sent;
                string delta = c.TakeDelta(g.Tokenizer, p);
                bool first = c.TokensSent == 0;
                var choice = Choice(c, g, p, shape, delta, c.TokensSent, c.Tokens.Count, first, offset);
                c.TokensSent = c.Tokens.Count;
                var chunk = shape.Envelope("text_completion", new JsonArray(choice));
                chunk["usage"] = null;
                await Sse.Data(context, chunk, flush: false);
            }
            await Sse.Flush(context);
        }
        if (shape.IncludeUsage) await Sse.Data(context, shape.UsageChunk("text_completion", prompts, states));
        await Sse.Done(context);
    }

    /// <summary>A choice (or a stream chunk's choice) covering tokens [from, to).</summary>
    static JsonObject Choice(ChoiceState c, Generation g, SequenceParams p, ResponseShape shape, string text, int from, int to, bool withPrompt, int textOffset = 0)
    {
        var choice = new JsonObject
        {
            ["index"] = c.Index,
            ["text"] = text,
            ["logprobs"] = p.Logprobs is null ? null : Logprobs(c, g, shape.TokensAsIds, from, to, textOffset),
            ["finish_reason"] = to == c.Tokens.Count ? c.FinishName : null,
            ["stop_reason"] = to == c.Tokens.Count ? SamplingFields.StopReason(c.StopReason) : null,
            ["prompt_logprobs"] = null,
        };
        if (shape.ReturnTokenIds)
        {
            choice["prompt_token_ids"] = withPrompt ? new JsonArray(c.PromptIds.Select(i => (JsonNode)i).ToArray()) : null;
            choice["token_ids"] = new JsonArray(c.Tokens.Skip(from).Take(to - from).Select(i => (JsonNode)i).ToArray());
        }
        return choice;
    }

    /// <summary>vLLM's <c>CompletionLogProbs</c>: text_offset, token_logprobs, tokens, top_logprobs (the
    /// sampled token and the k most likely, as token → log-prob).</summary>
    static JsonObject Logprobs(ChoiceState c, Generation g, bool asIds, int from, int to, int textOffset)
    {
        var offsets = new JsonArray();
        var values = new JsonArray();
        var tokens = new JsonArray();
        var tops = new JsonArray();
        int offset = textOffset;
        for (int t = from; t < to; t++)
        {
            string token = g.TokenText(c.Tokens[t], asIds);
            offsets.Add(offset);
            offset += asIds ? 0 : token.Length;
            values.Add(c.LogProbs[t]);
            tokens.Add(token);
            var top = new JsonObject { [token] = c.LogProbs[t] };
            foreach (var (id, lp) in c.Top[t] ?? Array.Empty<(long, float)>())
            {
                string key = g.TokenText(id, asIds);
                if (!top.ContainsKey(key)) top[key] = lp;
            }
            tops.Add(top);
        }
        return new JsonObject { ["text_offset"] = offsets, ["token_logprobs"] = values, ["tokens"] = tokens, ["top_logprobs"] = tops };
    }

    /// <summary>vLLM's four prompt forms: a string, a list of strings, a list of token ids, a list of id lists.</summary>
    static List<long[]> Prompts(JsonNode? node, Generation g)
    {
        List<long[]> prompts;
        switch (node)
        {
            case null:
                throw ApiError.Field("prompt", "is required.");
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                prompts = new() { g.Encode(v.GetValue<string>()) };
                break;
            case JsonArray { Count: 0 }:
                throw ApiError.Field("prompt", "must not be empty.");
            case JsonArray a when a.All(x => x is JsonValue s && s.GetValueKind() == JsonValueKind.String):
                prompts = a.Select(x => g.Encode(x!.GetValue<string>())).ToList();
                break;
            case JsonArray a when a.All(x => x is JsonValue s && s.GetValueKind() == JsonValueKind.Number):
                prompts = new() { a.Select((x, i) => RequestFields.AsLong(x!, $"prompt[{i}]", long.MinValue, long.MaxValue)).ToArray() };
                break;
            case JsonArray a when a.All(x => x is JsonArray):
                prompts = a.Select((x, i) => x!.AsArray().Select((y, j) => y is null ? throw ApiError.Field($"prompt[{i}][{j}]", "must be an integer.")
                    : RequestFields.AsLong(y, $"prompt[{i}][{j}]", long.MinValue, long.MaxValue)).ToArray()).ToList();
                break;
            default:
                throw ApiError.Field("prompt", "must be a string, a list of strings, a list of token ids or a list of token-id lists.");
        }
        for (int i = 0; i < prompts.Count; i++) g.CheckPrompt(prompts[i], prompts.Count == 1 ? "prompt" : $"prompt[{i}]");
        return prompts;
    }
}
