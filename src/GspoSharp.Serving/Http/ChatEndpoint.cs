using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models.Tokenization;
using GspoSharp.Serving.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>
/// <c>POST /v1/chat/completions</c>: <c>messages</c> rendered by the model's chat template (with the
/// assistant generation prompt), then sampled as a completion; vLLM's <c>ChatCompletionRequest</c>
/// fields and <c>ChatCompletionResponse</c> / <c>ChatCompletionStreamResponse</c> shapes.
/// </summary>
internal static class ChatEndpoint
{
    public static void Map(WebApplication app, Generation g) =>
        app.MapPost("/v1/chat/completions", (HttpContext context) => ServingHost.Guard(context, () => Handle(context, g)));

    static async Task Handle(HttpContext context, Generation g)
    {
        var f = await RequestFields.Read(context.Request);
        string? model = f.String("model");
        string? adapter = g.Adapter(model);
        bool thinking = true;
        if (f.Object("chat_template_kwargs") is { } kwargs)
        {
            thinking = kwargs.Bool("enable_thinking") ?? true;
            kwargs.RejectUnknown();
        }
        f.Neutral("add_generation_prompt", true);
        f.Neutral("continue_final_message", false);
        f.Neutral("echo", false);
        f.Neutral("tools", new JsonArray());
        f.Neutral("tool_choice", "none", "auto");
        f.Neutral("parallel_tool_calls", true, false);
        f.Neutral("response_format", new JsonObject { ["type"] = "text" });
        var prompt = Prompt(f.Node("messages"), g, thinking);
        var prompts = new[] { prompt };
        int n = f.Int("n", 1, 128) ?? 1;
        bool logprobs = f.Bool("logprobs") ?? false;
        int? top = f.Int("top_logprobs", 0, Generation.MaxLogprobs);
        if (top is > 0 && !logprobs) throw ApiError.Field("top_logprobs", "needs logprobs: true.");
        int? maxCompletion = f.Int("max_completion_tokens", 1, int.MaxValue);
        int? maxTokens = f.Int("max_tokens", 1, int.MaxValue);
        int max = g.MaxTokens(maxCompletion ?? maxTokens, prompts, maxCompletion is null ? "max_tokens" : "max_completion_tokens");
        var shape = ResponseShape.Read(f, "chatcmpl", model, g);
        bool asIds = shape.TokensAsIds, returnIds = shape.ReturnTokenIds;
        var p = SamplingFields.Read(f, g, logprobs ? top ?? 0 : null) with { MaxTokens = max };
        f.Ignore("metadata", "store");
        f.RejectUnknown();

        var request = g.Submit(prompts, n, p, adapter, context);
        if (!shape.Stream)
        {
            var choices = await g.Collect(request, context);
            var body = shape.Envelope("chat.completion", new JsonArray(choices.Select(c => (JsonNode)new JsonObject
                {
                    ["index"] = c.Index,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Text(g.Tokenizer, p), ["tool_calls"] = new JsonArray() },
                    ["logprobs"] = logprobs ? Logprobs(c, g, asIds, 0, c.Tokens.Count) : null,
                    ["finish_reason"] = c.FinishName,
                    ["stop_reason"] = SamplingFields.StopReason(c.StopReason),
                    ["token_ids"] = returnIds ? new JsonArray(c.Tokens.Select(t => (JsonNode)t).ToArray()) : null,
                }).ToArray()));
            body["usage"] = SamplingFields.Usage(prompts, choices);
            body["prompt_logprobs"] = null;
            body["prompt_token_ids"] = returnIds ? new JsonArray(prompt.Select(t => (JsonNode)t).ToArray()) : null;
            body["kv_transfer_params"] = null;
            await JsonResponse.Write(context, body);
            return;
        }

        var states = Generation.Choices(request);
        await g.Started(request, context);
        await Sse.Begin(context);
        JsonObject Chunk(JsonObject choice) => shape.Envelope("chat.completion.chunk", new JsonArray(choice));
        // The first chunk of each choice carries the role, as in vLLM (and the prompt ids with return_token_ids).
        foreach (var c in states)
        {
            var first = Chunk(new JsonObject
            {
                ["index"] = c.Index, ["delta"] = new JsonObject { ["role"] = "assistant", ["content"] = "" }, ["logprobs"] = null, ["finish_reason"] = null,
            });
            if (returnIds && c.Index == 0) first["prompt_token_ids"] = new JsonArray(prompt.Select(t => (JsonNode)t).ToArray());
            await Sse.Data(context, first);
        }
        await foreach (var batch in Sse.Batches(request, context))
        {
            foreach (var e in batch)
            {
                var c = states[e.Choice];
                c.Add(e);
                string delta = c.TakeDelta(g.Tokenizer, p);
                bool last = c.Finish is not null;
                var choice = new JsonObject
                {
                    ["index"] = c.Index,
                    ["delta"] = new JsonObject { ["content"] = delta },
                    ["logprobs"] = logprobs ? Logprobs(c, g, asIds, c.TokensSent, c.Tokens.Count) : null,
                    ["finish_reason"] = last ? c.FinishName : null,
                    ["stop_reason"] = last ? SamplingFields.StopReason(c.StopReason) : null,
                };
                if (returnIds) choice["token_ids"] = new JsonArray(c.Tokens.Skip(c.TokensSent).Select(t => (JsonNode)t).ToArray());
                c.TokensSent = c.Tokens.Count;
                await Sse.Data(context, Chunk(choice), flush: false);
            }
            await Sse.Flush(context);
        }
        if (shape.IncludeUsage) await Sse.Data(context, shape.UsageChunk("chat.completion.chunk", prompts, states));
        await Sse.Done(context);
    }

    /// <summary>OpenAI's <c>ChatCompletionLogProbs</c>: content = [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}].</summary>
    static JsonObject Logprobs(ChoiceState c, Generation g, bool asIds, int from, int to)
    {
        var content = new JsonArray();
        for (int t = from; t < to; t++)
        {
            string token = g.TokenText(c.Tokens[t], asIds);
            var top = new JsonArray((c.Top[t] ?? Array.Empty<(long, float)>()).Select(x =>
            {
                string s = g.TokenText(x.Item1, asIds);
                return (JsonNode)new JsonObject { ["token"] = s, ["logprob"] = x.Item2, ["bytes"] = new JsonArray(Generation.Bytes(s).Select(b => (JsonNode)b).ToArray()) };
            }).ToArray());
            content.Add(new JsonObject
            {
                ["token"] = token, ["logprob"] = c.LogProbs[t],
                ["bytes"] = new JsonArray(Generation.Bytes(token).Select(b => (JsonNode)b).ToArray()), ["top_logprobs"] = top,
            });
        }
        return new JsonObject { ["content"] = content };
    }

    /// <summary>The prompt ids of <c>messages</c>: each {role, content} with content a string or a list of text parts.</summary>
    static long[] Prompt(JsonNode? node, Generation g, bool thinking)
    {
        if (node is not JsonArray { Count: > 0 } messages) throw ApiError.Field("messages", "must be a non-empty list of {role, content}.");
        if (g.Tokenizer.ChatFormat is null) throw ApiError.Field("messages", "the served model's tokenizer has no chat template GspoSharp renders; use /v1/completions.");
        var list = new List<ChatMessage>();
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject m) throw ApiError.Field($"messages[{i}]", "must be an object.");
            var fields = new RequestFields(m, $"messages[{i}].");
            string role = fields.String("role") ?? throw ApiError.Field($"messages[{i}].role", "is required.");
            if (role is not ("system" or "user" or "assistant" or "developer"))
                throw ApiError.Field($"messages[{i}].role", $"must be system, user or assistant; got {role}.");
            string content = fields.Node("content") switch
            {
                JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                JsonArray parts => string.Concat(parts.Select((part, j) => part is JsonObject o && o["type"]?.GetValue<string>() == "text" && o["text"] is JsonValue t
                    ? t.GetValue<string>() : throw ApiError.Field($"messages[{i}].content[{j}]", "only {\"type\": \"text\", \"text\": ...} parts are supported."))),
                null => "",
                _ => throw ApiError.Field($"messages[{i}].content", "must be a string or a list of text parts."),
            };
            fields.Ignore("name");
            fields.RejectUnknown();
            list.Add(new ChatMessage(role == "developer" ? "system" : role, content));
        }
        long[] ids;
        try
        {
            ids = g.Encode(g.Tokenizer.ApplyChatTemplate(list, addGenerationPrompt: true, enableThinking: thinking));
        }
        catch (Exception e) when (e is ArgumentException or Models.ModelFormatException)
        {
            throw ApiError.Field("messages", e.Message);
        }
        g.CheckPrompt(ids, "messages");
        return ids;
    }
}
