using System.Text.Json.Nodes;
using GspoSharp.Rollout;

namespace GspoSharp.Tests.Rollout;

/// <summary>Request bodies and response parsing against bodies written from the documented protocols:
/// vLLM's CompletionRequest / CompletionResponse (return_token_ids, logprobs) and SGLang's
/// GenerateReqInput / generate output (output_ids, meta_info.output_token_logprobs).</summary>
public class RolloutProtocolTests
{
    static readonly SamplingOptions Options = new()
    {
        Temperature = 0.7, TopP = 0.9, TopK = 20, MaxNewTokens = 5, EosTokenIds = new long[] { 2, 7 }, Seed = 99,
    };

    [Fact]
    public void The_vllm_request_sends_token_ids_one_sample_its_seed_and_asks_for_ids_and_sampled_log_probs()
    {
        var body = RolloutProtocol.Request(RolloutApi.Vllm, new long[] { 11, 12, 13 }, Options, 12345, "gspo-policy");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"prompt": [11, 12, 13], "max_tokens": 5, "temperature": 0.7, "n": 1, "seed": 12345, "logprobs": 0,
             "return_token_ids": true, "model": "gspo-policy", "top_p": 0.9, "top_k": 20, "stop_token_ids": [2, 7]}
            """), body), body.ToJsonString());
        Assert.Equal("v1/completions", RolloutProtocol.Path(RolloutApi.Vllm));
        // Unset options stay out: the server's defaults (off) apply; no model: the base weights.
        var plain = RolloutProtocol.Request(RolloutApi.Vllm, new long[] { 1 }, new SamplingOptions { MaxNewTokens = 3 }, 0, null);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"prompt": [1], "max_tokens": 3, "temperature": 1.0, "n": 1, "seed": 0, "logprobs": 0, "return_token_ids": true}
            """), plain), plain.ToJsonString());
    }

    [Fact]
    public void The_sglang_request_sends_input_ids_sampling_params_with_the_seed_and_return_logprob()
    {
        var body = RolloutProtocol.Request(RolloutApi.Sglang, new long[] { 11, 12, 13 }, Options, 12345, null);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""
            {"input_ids": [11, 12, 13],
             "sampling_params": {"max_new_tokens": 5, "temperature": 0.7, "sampling_seed": 12345, "top_p": 0.9, "top_k": 20, "stop_token_ids": [2, 7]},
             "return_logprob": true}
            """), body), body.ToJsonString());
        Assert.Equal("generate", RolloutProtocol.Path(RolloutApi.Sglang));
        Assert.Equal("gspo-policy", RolloutProtocol.Request(RolloutApi.Sglang, new long[] { 1 }, Options, 1, "gspo-policy")["lora_path"]!.GetValue<string>());
    }

    [Fact]
    public void A_vllm_completion_response_gives_the_token_ids_their_log_probs_and_the_finish_reason()
    {
        // CompletionResponse with return_token_ids and logprobs: 0 (CompletionLogProbs: text_offset, token_logprobs, tokens, top_logprobs).
        const string body = """
            {"id": "cmpl-1", "object": "text_completion", "created": 1, "model": "base",
             "choices": [{"index": 0, "text": " 4</s>", "finish_reason": "stop", "stop_reason": 2,
                          "logprobs": {"text_offset": [0, 2], "token_logprobs": [-0.25, -1.5], "tokens": [" 4", "</s>"],
                                       "top_logprobs": [{" 4": -0.25}, {"</s>": -1.5}]},
                          "prompt_token_ids": [11, 12, 13], "token_ids": [19, 2]}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
            """;
        var sample = RolloutProtocol.Parse(RolloutApi.Vllm, body);
        Assert.Equal(new long[] { 19, 2 }, sample.TokenIds);
        Assert.Equal(new[] { -0.25f, -1.5f }, sample.LogProbs);
        Assert.Equal(FinishReason.Stop, sample.FinishReason);
        Assert.Null(sample.WeightVersion);
        Assert.Equal(FinishReason.Length, RolloutProtocol.Parse(RolloutApi.Vllm, body.Replace("\"stop\"", "\"length\"")).FinishReason);
    }

    [Fact]
    public void An_sglang_generate_response_gives_output_ids_their_log_probs_finish_and_weight_version()
    {
        const string body = """
            {"text": " 4", "output_ids": [19, 2],
             "meta_info": {"id": "r1", "finish_reason": {"type": "stop", "matched": 2}, "prompt_tokens": 3, "completion_tokens": 2,
                           "cached_tokens": 0, "weight_version": "7", "e2e_latency": 0.1,
                           "output_token_logprobs": [[-0.25, 19, null], [-1.5, 2, null]]}}
            """;
        var sample = RolloutProtocol.Parse(RolloutApi.Sglang, body);
        Assert.Equal(new long[] { 19, 2 }, sample.TokenIds);
        Assert.Equal(new[] { -0.25f, -1.5f }, sample.LogProbs);
        Assert.Equal(FinishReason.Stop, sample.FinishReason);
        Assert.Equal("7", sample.WeightVersion);
        var cut = RolloutProtocol.Parse(RolloutApi.Sglang, body.Replace("""{"type": "stop", "matched": 2}""", """{"type": "length", "length": 2}"""));
        Assert.Equal(FinishReason.Length, cut.FinishReason);
    }

    [Theory]
    [InlineData(RolloutApi.Vllm, """{"choices": [{"finish_reason": "stop", "logprobs": {"token_logprobs": [-1]}}]}""", "return_token_ids")]
    [InlineData(RolloutApi.Vllm, """{"choices": [{"finish_reason": "stop", "token_ids": [4]}]}""", "choices[0].logprobs.token_logprobs")]
    [InlineData(RolloutApi.Vllm, """{"choices": [{"finish_reason": "stop", "token_ids": [4, 5], "logprobs": {"token_logprobs": [-1]}}]}""", "2 token ids but 1 log-probs")]
    [InlineData(RolloutApi.Vllm, """{"choices": [{"finish_reason": "abort", "token_ids": [4], "logprobs": {"token_logprobs": [-1]}}]}""", "'abort'")]
    [InlineData(RolloutApi.Vllm, "<html>", "not JSON")]
    [InlineData(RolloutApi.Sglang, """{"output_ids": [4], "meta_info": {"finish_reason": {"type": "stop"}}}""", "output_token_logprobs is missing")]
    [InlineData(RolloutApi.Sglang, """{"output_ids": [4], "meta_info": {"finish_reason": {"type": "stop"}, "output_token_logprobs": [[-1, 5, null]]}}""", "is for token 5")]
    [InlineData(RolloutApi.Sglang, """{"output_ids": [4], "meta_info": {"finish_reason": {"type": "stop"}, "output_token_logprobs": [[0.5, 4, null]]}}""", "above 0")]
    public void Malformed_responses_are_refused_naming_the_field(RolloutApi api, string body, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => RolloutProtocol.Parse(api, body));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Seeds_are_a_function_of_step_seed_prompt_and_sample_and_fit_31_bits()
    {
        var seeds = new HashSet<long>();
        for (long step = 0; step < 4; step++)
            for (int prompt = 0; prompt < 8; prompt++)
                for (int sample = 0; sample < 8; sample++)
                {
                    long seed = RolloutProtocol.Seed(step, prompt, sample);
                    Assert.InRange(seed, 0, int.MaxValue);
                    Assert.Equal(seed, RolloutProtocol.Seed(step, prompt, sample));
                    seeds.Add(seed);
                }
        Assert.Equal(4 * 8 * 8, seeds.Count);
    }
}
