using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Serving.Engine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>
/// SGLang's native endpoints: <c>POST /generate</c> (<c>GenerateReqInput</c>: <c>text</c> or
/// <c>input_ids</c>, <c>sampling_params</c>, <c>return_logprob</c>, …) and
/// <c>POST /update_weights_from_disk</c> (<c>UpdateWeightFromDiskReqInput</c>).
/// </summary>
internal static class SglangEndpoints
{
    public static void Map(WebApplication app, Generation g)
    {
        app.MapPost("/generate", (HttpContext context) => ServingHost.Guard(context, () => Generate(context, g)));
        app.MapPost("/update_weights_from_disk", (HttpContext context) => ServingHost.Guard(context, () => UpdateWeights(context, g)));
    }

    static async Task Generate(HttpContext context, Generation g)
    {
        var clock = Stopwatch.StartNew();
        var f = await RequestFields.Read(context.Request);
        var (prompts, batched) = Prompts(f, g);
        var s = f.Object("sampling_params") ?? new RequestFields(new JsonObject(), "sampling_params.");
        int n = s.Int("n", 1, 128) ?? 1;
        int maxNew = g.MaxTokens(s.Int("max_new_tokens", 0, int.MaxValue) ?? 128, prompts, "sampling_params.max_new_tokens");
        double temperature = s.Double("temperature", 0, 100) ?? 1.0;
        double? topP = s.Double("top_p", double.Epsilon, 1);
        int? topK = s.Int("top_k", -1, int.MaxValue);
        var stop = s.Strings("stop");
        var stopIds = s.Longs("stop_token_ids", 0, g.VocabSize - 1);
        bool ignoreEos = s.Bool("ignore_eos") ?? false;
        bool skipSpecial = s.Bool("skip_special_tokens") ?? true;
        long? seed = s.Long("sampling_seed", long.MinValue, long.MaxValue);
        s.Neutral("min_new_tokens", 0);
        s.Neutral("frequency_penalty", 0);
        s.Neutral("presence_penalty", 0);
        s.Neutral("repetition_penalty", 1);
        s.Neutral("min_p", 0);
        s.Neutral("no_stop_trim", false);
        s.Neutral("spaces_between_special_tokens", true);
        s.RejectUnknown();
        bool returnLogprob = f.Bool("return_logprob") ?? false;
        int topN = f.Int("top_logprobs_num", 0, Generation.MaxLogprobs) ?? 0;
        bool withText = f.Bool("return_text_in_logprobs") ?? false;
        f.Neutral("logprob_start_len", -1);
        f.Neutral("stream", false);
        string? adapter = f.String("lora_path") is { } lora ? g.Adapter(lora, "lora_path") : null;
        string rid = f.String("rid") ?? Guid.NewGuid().ToString("N");
        f.RejectUnknown();
        if (maxNew == 0) throw ApiError.Field("sampling_params.max_new_tokens", "must be ≥ 1 here.");

        var p = new SequenceParams
        {
            Temperature = temperature, TopP = topP is 1 ? null : topP, TopK = topK is null or <= 0 ? null : topK, MaxTokens = maxNew,
            Seed = Generation.Seed(seed), Stop = stop, StopTokenIds = stopIds, IgnoreEos = ignoreEos,
            Logprobs = returnLogprob ? topN : null, SkipSpecialTokens = skipSpecial,
        };
        var request = g.Submit(prompts, n, p, adapter, context);
        var choices = await g.Collect(request, context);
        var results = choices.Select(c => (JsonNode)Result(c, g, p, rid, returnLogprob, topN, withText, request.WeightVersion, clock.Elapsed.TotalSeconds)).ToArray();
        await JsonResponse.Write(context, batched || n > 1 ? new JsonArray(results) : results[0]);
    }

    /// <summary>One output as SGLang returns it: text, output_ids, meta_info.</summary>
    static JsonObject Result(ChoiceState c, Generation g, SequenceParams p, string rid, bool logprob, int topN, bool withText, long version, double seconds)
    {
        JsonNode? TokenText(long id) => withText ? g.Tokenizer.Decode(new[] { (int)id }) : null;
        JsonObject finish = c.FinishName == "length"
            ? new JsonObject { ["type"] = "length", ["length"] = c.Tokens.Count }
            : new JsonObject { ["type"] = "stop", ["matched"] = c.StopReason is null ? c.Tokens[^1] : SamplingFields.StopReason(c.StopReason) };
        var meta = new JsonObject
        {
            ["id"] = rid, ["finish_reason"] = finish, ["prompt_tokens"] = c.PromptIds.Length, ["completion_tokens"] = c.Tokens.Count,
            ["cached_tokens"] = 0, ["weight_version"] = version.ToString(CultureInfo.InvariantCulture), ["e2e_latency"] = seconds,
        };
        if (logprob)
        {
            meta["output_token_logprobs"] = new JsonArray(c.Tokens.Select((t, i) => (JsonNode)new JsonArray(c.LogProbs[i], t, TokenText(t))).ToArray());
            if (topN > 0)
                meta["output_top_logprobs"] = new JsonArray(c.Top.Select(top => (JsonNode)new JsonArray((top ?? Array.Empty<(long, float)>())
                    .Select(x => (JsonNode)new JsonArray(x.Item2, x.Item1, TokenText(x.Item1))).ToArray())).ToArray());
        }
        return new JsonObject { ["text"] = c.Text(g.Tokenizer, p), ["output_ids"] = new JsonArray(c.Tokens.Select(t => (JsonNode)t).ToArray()), ["meta_info"] = meta };
    }

    /// <summary><c>text</c> (a string or list) or <c>input_ids</c> (a list of ids or of id lists); whether it was a batch.</summary>
    static (List<long[]> Prompts, bool Batched) Prompts(RequestFields f, Generation g)
    {
        var text = f.Node("text");
        var ids = f.Node("input_ids");
        if ((text is null) == (ids is null)) throw ApiError.Field("text", "give exactly one of text and input_ids.");
        List<long[]> prompts;
        bool batched;
        if (text is not null)
        {
            batched = text is JsonArray;
            prompts = (batched ? text.AsArray().Select((x, i) => x is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>()
                    : throw ApiError.Field($"text[{i}]", "must be a string.")).ToList()
                : new List<string> { text is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : throw ApiError.Field("text", "must be a string or a list of strings.") })
                .Select(g.Encode).ToList();
        }
        else
        {
            if (ids is not JsonArray { Count: > 0 } list) throw ApiError.Field("input_ids", "must be a non-empty list of token ids or of token-id lists.");
            batched = list.All(x => x is JsonArray);
            prompts = batched
                ? list.Select((x, i) => x!.AsArray().Select((y, j) => y is null ? throw ApiError.Field($"input_ids[{i}][{j}]", "must be an integer.")
                    : RequestFields.AsLong(y, $"input_ids[{i}][{j}]", long.MinValue, long.MaxValue)).ToArray()).ToList()
                : new() { list.Select((x, i) => x is null ? throw ApiError.Field($"input_ids[{i}]", "must be an integer.") : RequestFields.AsLong(x, $"input_ids[{i}]", long.MinValue, long.MaxValue)).ToArray() };
        }
        if (prompts.Count == 0) throw ApiError.Field(text is null ? "input_ids" : "text", "must not be empty.");
        string field = text is null ? "input_ids" : "text";
        for (int i = 0; i < prompts.Count; i++) g.CheckPrompt(prompts[i], batched ? $"{field}[{i}]" : field);
        return (prompts, batched);
    }

    /// <summary>Loads a full checkpoint in place of the served weights once the running batch has
    /// finished (requests keep arriving and wait); <c>{"success", "message", "num_paused_requests"}</c>.</summary>
    static async Task UpdateWeights(HttpContext context, Generation g)
    {
        var f = await RequestFields.Read(context.Request);
        string path = f.String("model_path") ?? throw ApiError.Field("model_path", "is required.");
        f.Neutral("load_format", "auto");
        f.Neutral("abort_all_requests", false);
        f.Ignore("weight_version");
        f.RejectUnknown();
        try
        {
            long version = await g.Worker.UpdateWeights(Path.GetFullPath(path));
            context.Response.Headers[ServingHost.WeightVersionHeader] = version.ToString(CultureInfo.InvariantCulture);
            await JsonResponse.Write(context, new JsonObject { ["success"] = true, ["message"] = "Succeeded to update model weights.", ["num_paused_requests"] = 0 });
        }
        catch (Exception e) when (e is ArgumentException or IOException or Models.ModelFormatException or InvalidDataException or UnauthorizedAccessException)
        {
            await JsonResponse.Write(context, new JsonObject { ["success"] = false, ["message"] = e.Message, ["num_paused_requests"] = 0 }, StatusCodes.Status400BadRequest);
        }
    }
}
