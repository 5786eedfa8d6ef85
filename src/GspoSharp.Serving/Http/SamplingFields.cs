using System.Text.Json.Nodes;
using GspoSharp.Serving.Engine;

namespace GspoSharp.Serving.Http;

/// <summary>The sampling fields vLLM's completions and chat requests share, with vLLM's names and
/// defaults (temperature 1, top_p 1, top_k all: −1 or 0), and its extensions this server implements.</summary>
internal static class SamplingFields
{
    public static SequenceParams Read(RequestFields f, Generation g, int? logprobs)
    {
        double temperature = f.Double("temperature", 0, 100) ?? 1.0;
        double? topP = f.Double("top_p", double.Epsilon, 1);
        int? topK = f.Int("top_k", -1, int.MaxValue);
        long? seed = f.Long("seed", long.MinValue, long.MaxValue);
        var stop = f.Strings("stop");
        if (stop.Any(string.IsNullOrEmpty)) throw ApiError.Field("stop", "stop strings must not be empty.");
        var stopIds = f.Longs("stop_token_ids", 0, g.VocabSize - 1);
        bool ignoreEos = f.Bool("ignore_eos") ?? false;
        bool skipSpecial = f.Bool("skip_special_tokens") ?? true;
        // Accepted at the value that changes nothing; anything else is refused, not ignored.
        f.Neutral("frequency_penalty", 0);
        f.Neutral("presence_penalty", 0);
        f.Neutral("repetition_penalty", 1);
        f.Neutral("min_p", 0);
        f.Neutral("min_tokens", 0);
        f.Neutral("logit_bias", new JsonObject());
        f.Neutral("include_stop_str_in_output", false);
        f.Neutral("spaces_between_special_tokens", true);
        f.Neutral("prompt_logprobs", 0);
        f.Neutral("priority", 0);
        f.Ignore("user", "request_id");
        return new SequenceParams
        {
            Temperature = temperature, TopP = topP is 1 ? null : topP, TopK = topK is null or <= 0 ? null : topK,
            Seed = Generation.Seed(seed), Stop = stop, StopTokenIds = stopIds, IgnoreEos = ignoreEos, Logprobs = logprobs,
            SkipSpecialTokens = skipSpecial,
        };
    }

    /// <summary><c>stream_options</c>: <c>include_usage</c> (a last chunk with usage); <c>continuous_usage_stats</c> only false.</summary>
    public static bool IncludeUsage(RequestFields f, bool stream)
    {
        var options = f.Object("stream_options");
        if (options is null) return false;
        if (!stream) throw ApiError.Field("stream_options", "is only allowed with stream: true.");
        bool include = options.Bool("include_usage") ?? true;
        options.Neutral("continuous_usage_stats", false);
        options.RejectUnknown();
        return include;
    }

    public static JsonObject Usage(IReadOnlyList<long[]> prompts, IEnumerable<ChoiceState> choices)
    {
        int prompt = prompts.Sum(p => p.Length), completion = choices.Sum(c => c.Tokens.Count);
        return new JsonObject { ["prompt_tokens"] = prompt, ["total_tokens"] = prompt + completion, ["completion_tokens"] = completion, ["prompt_tokens_details"] = null };
    }

    public static JsonNode? StopReason(object? reason) => reason switch
    {
        null => null,
        long id => id,
        string s => s,
        _ => reason.ToString(),
    };
}
