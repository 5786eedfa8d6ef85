using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GspoSharp.Rollout;

/// <summary>One sample as a server returned it.</summary>
/// <param name="TokenIds">The sampled token ids (an end-of-sequence or stop token id included, as the servers keep it).</param>
/// <param name="LogProbs">The server's log-prob of each sampled token.</param>
/// <param name="FinishReason">stop or length.</param>
/// <param name="WeightVersion">The weight version the server reports having sampled with, when its protocol reports one.</param>
public sealed record ServerSample(long[] TokenIds, float[] LogProbs, FinishReason FinishReason, string? WeightVersion);

/// <summary>
/// Request bodies and response parsing of the two sampling protocols, one sample (n = 1, its own
/// seed) per request, token ids in and out, never re-tokenised text:
/// <list type="bullet">
/// <item>vLLM's OpenAI server, <c>POST /v1/completions</c> (<c>CompletionRequest</c>): <c>prompt</c> as a
/// list of token ids, <c>max_tokens</c>, <c>temperature</c>, <c>top_p</c>, <c>top_k</c>, <c>seed</c>,
/// <c>stop_token_ids</c>, <c>logprobs: 0</c> (the sampled token's log-prob only) and
/// <c>return_token_ids: true</c>; the answer's <c>choices[0].token_ids</c>,
/// <c>choices[0].logprobs.token_logprobs</c> and <c>choices[0].finish_reason</c>.</item>
/// <item>SGLang's native <c>POST /generate</c> (<c>GenerateReqInput</c>): <c>input_ids</c>,
/// <c>sampling_params</c> {<c>max_new_tokens</c>, <c>temperature</c>, <c>top_p</c>, <c>top_k</c>,
/// <c>stop_token_ids</c>, <c>sampling_seed</c>} and <c>return_logprob: true</c>; the answer's
/// <c>output_ids</c>, <c>meta_info.output_token_logprobs</c> ([log-prob, token id, text] per token),
/// <c>meta_info.finish_reason.type</c> and <c>meta_info.weight_version</c>.</item>
/// </list>
/// Unset options are left out, so that each server applies its own default (which for top-p and
/// top-k is "off", as here).
/// </summary>
public static class RolloutProtocol
{
    /// <summary>The request path of <paramref name="api"/>'s sampling endpoint.</summary>
    public static string Path(RolloutApi api) => api == RolloutApi.Vllm ? "v1/completions" : "generate";

    /// <summary>The seed of sample <paramref name="sample"/> of prompt <paramref name="prompt"/> (its index in the
    /// step's batch), from the step's seed: SplitMix64 of the three, in [0, 2^31) so every server takes it.</summary>
    public static long Seed(long stepSeed, int prompt, int sample)
    {
        ulong z = Mix(Mix(Mix((ulong)stepSeed) ^ (ulong)(uint)prompt) ^ ((ulong)(uint)sample << 32));
        return (long)(z >> 33);
    }

    /// <summary>The JSON body asking <paramref name="api"/> for one sample of <paramref name="prompt"/> under
    /// <paramref name="options"/> with <paramref name="seed"/>; <paramref name="model"/> is vLLM's <c>model</c>
    /// (the adapter's name, to sample from it) or SGLang's <c>lora_path</c>, null for the base weights.</summary>
    public static JsonObject Request(RolloutApi api, long[] prompt, SamplingOptions options, long seed, string? model)
    {
        var ids = new JsonArray(prompt.Select(id => (JsonNode)id).ToArray());
        var stop = new JsonArray(options.EosTokenIds.Select(id => (JsonNode)id).ToArray());
        if (api == RolloutApi.Vllm)
        {
            var body = new JsonObject
            {
                ["prompt"] = ids, ["max_tokens"] = options.MaxNewTokens, ["temperature"] = options.Temperature, ["n"] = 1, ["seed"] = seed,
                ["logprobs"] = 0, ["return_token_ids"] = true,
            };
            if (model is not null) body["model"] = model;
            if (options.TopP is { } p && p < 1) body["top_p"] = p;
            if (options.TopK is { } k && k > 0) body["top_k"] = k;
            if (stop.Count > 0) body["stop_token_ids"] = stop;
            return body;
        }
        var sampling = new JsonObject { ["max_new_tokens"] = options.MaxNewTokens, ["temperature"] = options.Temperature, ["sampling_seed"] = seed };
        if (options.TopP is { } tp && tp < 1) sampling["top_p"] = tp;
        if (options.TopK is { } tk && tk > 0) sampling["top_k"] = tk;
        if (stop.Count > 0) sampling["stop_token_ids"] = stop;
        var generate = new JsonObject { ["input_ids"] = ids, ["sampling_params"] = sampling, ["return_logprob"] = true };
        if (model is not null) generate["lora_path"] = model;
        return generate;
    }

    /// <summary>Reads the sample out of a response body.</summary>
    /// <exception cref="InvalidDataException">The body is not what the protocol documents; the message names the field.</exception>
    public static ServerSample Parse(RolloutApi api, string body)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"the response is not JSON ({e.Message}).");
        }
        return api == RolloutApi.Vllm ? ParseVllm(root) : ParseSglang(root);
    }

    static ServerSample ParseVllm(JsonNode? root)
    {
        if (root?["choices"] is not JsonArray { Count: 1 } choices || choices[0] is not JsonObject choice)
            throw new InvalidDataException("expected choices: [one choice].");
        var ids = Longs(choice["token_ids"], "choices[0].token_ids (does the server support return_token_ids?)");
        var logProbs = Floats(choice["logprobs"]?["token_logprobs"], "choices[0].logprobs.token_logprobs");
        return Sample(ids, logProbs, Finish(choice["finish_reason"], "choices[0].finish_reason"), null, "choices[0]");
    }

    static ServerSample ParseSglang(JsonNode? root)
    {
        if (root is JsonArray { Count: 1 } single) root = single[0];
        if (root is not JsonObject result || result["meta_info"] is not JsonObject meta)
            throw new InvalidDataException("expected an object with output_ids and meta_info.");
        var ids = Longs(result["output_ids"], "output_ids");
        if (meta["output_token_logprobs"] is not JsonArray entries)
            throw new InvalidDataException("meta_info.output_token_logprobs is missing (return_logprob).");
        var logProbs = new float[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i] is not JsonArray { Count: >= 2 } entry || Number(entry[0]) is not { } lp || Number(entry[1]) is not { } id)
                throw new InvalidDataException($"meta_info.output_token_logprobs[{i}] must be [log-prob, token id, …].");
            if (i < ids.Length && (long)id != ids[i])
                throw new InvalidDataException($"meta_info.output_token_logprobs[{i}] is for token {id} but output_ids[{i}] is {ids[i]}.");
            logProbs[i] = (float)lp;
        }
        string? version = meta["weight_version"] switch
        {
            JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
            _ => null,
        };
        return Sample(ids, logProbs, Finish(meta["finish_reason"]?["type"], "meta_info.finish_reason.type"), version, "the output");
    }

    static ServerSample Sample(long[] ids, float[] logProbs, FinishReason finish, string? version, string where)
    {
        if (ids.Length != logProbs.Length)
            throw new InvalidDataException($"{where} has {ids.Length} token ids but {logProbs.Length} log-probs.");
        if (logProbs.Any(lp => float.IsNaN(lp) || lp > 0))
            throw new InvalidDataException($"{where} has a log-prob that is NaN or above 0.");
        return new ServerSample(ids, logProbs, finish, version);
    }

    static FinishReason Finish(JsonNode? node, string field) => node is JsonValue v && v.GetValueKind() == JsonValueKind.String
        ? v.GetValue<string>() switch
        {
            "stop" => FinishReason.Stop,
            "length" => FinishReason.Length,
            var other => throw new InvalidDataException($"{field} is '{other}'; expected stop or length."),
        }
        : throw new InvalidDataException($"{field} is missing.");

    static long[] Longs(JsonNode? node, string field) =>
        node is JsonArray a ? a.Select((x, i) => Number(x) is { } d && d == Math.Floor(d) ? (long)d
                : throw new InvalidDataException($"{field}[{i}] must be an integer.")).ToArray()
            : throw new InvalidDataException($"{field} is missing.");

    static float[] Floats(JsonNode? node, string field) =>
        node is JsonArray a ? a.Select((x, i) => Number(x) is { } d ? (float)d
                : throw new InvalidDataException($"{field}[{i}] must be a number.")).ToArray()
            : throw new InvalidDataException($"{field} is missing (logprobs).");

    static double? Number(JsonNode? node) =>
        node is JsonValue v && v.GetValueKind() == JsonValueKind.Number ? double.Parse(v.ToJsonString(), CultureInfo.InvariantCulture) : null;

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
