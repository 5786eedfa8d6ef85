using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace GspoSharp.Tests.Serving;

/// <summary>/v1/completions against <c>gspo generate</c> and <c>gspo score</c>, over real HTTP.</summary>
[Collection("serve")]
public class CompletionsTests(ServerFixture fixture)
{
    readonly ServeProcess server = fixture.Server;
    static readonly string[] Texts = { "What is 12 + 7?", "The answer is", "hello world model" };

    [Fact]
    public async Task Greedy_completions_equal_gspo_generate_at_temperature_zero()
    {
        var expected = ServeTestKit.Generate(fixture.Directory.Path, fixture.Model, Texts.Select(t => new JsonObject { ["prompt"] = t }),
            "--temperature", "0", "--max-new-tokens", "12");
        var (status, body, response) = await server.Post("v1/completions", new JsonObject
        {
            ["model"] = "tiny", ["prompt"] = new JsonArray(Texts.Select(t => (JsonNode)t).ToArray()), ["max_tokens"] = 12, ["temperature"] = 0,
            ["return_token_ids"] = true,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("1", response.Headers.GetValues("X-Weight-Version").Single());
        Assert.Equal("text_completion", (string?)body!["object"]);
        Assert.StartsWith("cmpl-", (string?)body["id"]);
        var choices = body["choices"]!.AsArray();
        Assert.Equal(3, choices.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(i, (int)choices[i]!["index"]!);
            Assert.Equal(ServeTestKit.Longs(expected[i]["prompt_ids"]), ServeTestKit.Longs(choices[i]!["prompt_token_ids"]));
            Assert.Equal(ServeTestKit.Longs(expected[i]["completion_ids"]), ServeTestKit.Longs(choices[i]!["token_ids"]));
            Assert.Equal((string?)expected[i]["text"], (string?)choices[i]!["text"]);
            Assert.Equal((string?)expected[i]["finish_reason"], (string?)choices[i]!["finish_reason"]);
        }
        int promptTokens = expected.Sum(e => ServeTestKit.Longs(e["prompt_ids"]).Length);
        int completionTokens = expected.Sum(e => ServeTestKit.Longs(e["completion_ids"]).Length);
        Assert.Equal(promptTokens, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(completionTokens, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal(promptTokens + completionTokens, (int)body["usage"]!["total_tokens"]!);
    }

    [Fact]
    public async Task Seeded_sampling_equals_gspo_generate_with_the_same_seed()
    {
        // Each sample draws from the stream of (seed, prompt index, sample index), as gspo generate's do.
        var expected = ServeTestKit.Generate(fixture.Directory.Path, fixture.Model, Texts.Take(2).Select(t => new JsonObject { ["prompt"] = t }),
            "--temperature", "0.8", "--top-k", "40", "--top-p", "0.9", "--max-new-tokens", "10", "-n", "2", "--seed", "17");
        var (status, body, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = new JsonArray(Texts.Take(2).Select(t => (JsonNode)t).ToArray()), ["n"] = 2, ["max_tokens"] = 10,
            ["temperature"] = 0.8, ["top_k"] = 40, ["top_p"] = 0.9, ["seed"] = 17, ["return_token_ids"] = true,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var choices = body!["choices"]!.AsArray();
        Assert.Equal(4, choices.Count);
        for (int i = 0; i < 4; i++)   // generate writes prompt 0's samples, then prompt 1's: vLLM's choice order
            Assert.Equal(ServeTestKit.Longs(expected[i]["completion_ids"]), ServeTestKit.Longs(choices[i]!["token_ids"]));
    }

    [Fact]
    public async Task Token_id_prompts_give_what_the_same_text_gives()
    {
        var (_, byText, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = Texts[0], ["max_tokens"] = 8, ["temperature"] = 0, ["return_token_ids"] = true,
        });
        var ids = ServeTestKit.Longs(byText!["choices"]![0]!["prompt_token_ids"]);
        var (_, byIds, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = ServeTestKit.Ids(ids), ["max_tokens"] = 8, ["temperature"] = 0, ["return_token_ids"] = true,
        });
        var (_, byLists, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = new JsonArray(ServeTestKit.Ids(ids), ServeTestKit.Ids(ids.Take(3))), ["max_tokens"] = 8, ["temperature"] = 0, ["return_token_ids"] = true,
        });
        var tokens = ServeTestKit.Longs(byText["choices"]![0]!["token_ids"]);
        Assert.Equal(tokens, ServeTestKit.Longs(byIds!["choices"]![0]!["token_ids"]));
        Assert.Equal(tokens, ServeTestKit.Longs(byLists!["choices"]![0]!["token_ids"]));
        Assert.Equal(ids.Take(3), ServeTestKit.Longs(byLists["choices"]![1]!["prompt_token_ids"]));
        Assert.Equal((string?)byText["choices"]![0]!["text"], (string?)byIds["choices"]![0]!["text"]);
    }

    [Fact]
    public async Task Logprobs_equal_gspo_score_of_the_same_tokens()
    {
        // At temperature 1 with no top-k / top-p the processed log-probs are log softmax of the logits: what score computes.
        var (status, body, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = new JsonArray(Texts[0], Texts[2]), ["max_tokens"] = 10, ["temperature"] = 1.0, ["seed"] = 5, ["logprobs"] = 2,
            ["return_token_ids"] = true,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        var choices = body!["choices"]!.AsArray();
        var sequences = choices.Select(c => ServeTestKit.Longs(c!["prompt_token_ids"]).Concat(ServeTestKit.Longs(c["token_ids"])).ToArray()).ToArray();
        var scores = ServeTestKit.Score(fixture.Directory.Path, fixture.Model, sequences);
        for (int i = 0; i < choices.Count; i++)
        {
            var logprobs = choices[i]!["logprobs"]!;
            var values = logprobs["token_logprobs"]!.AsArray().Select(v => v!.GetValue<double>()).ToArray();
            var tokens = ServeTestKit.Longs(choices[i]!["token_ids"]);
            Assert.Equal(tokens.Length, values.Length);
            var expected = scores[i][^tokens.Length..];
            for (int t = 0; t < values.Length; t++)
                Assert.True(Math.Abs(values[t] - expected[t]) < 1e-4, $"choice {i}, token {t}: {values[t]} vs {expected[t]}");
            // top_logprobs: the sampled token and the 2 most likely, each at most the most likely's value.
            var tops = logprobs["top_logprobs"]!.AsArray();
            Assert.Equal(tokens.Length, tops.Count);
            Assert.All(tops, top => Assert.InRange(top!.AsObject().Count, 2, 3));
            Assert.Equal(values.Length, logprobs["tokens"]!.AsArray().Count);
            Assert.Equal(0, (int)logprobs["text_offset"]![0]!);
        }
    }

    [Fact]
    public async Task Token_ids_as_tokens_name_each_token_token_id_n()
    {
        var (_, body, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = Texts[1], ["max_tokens"] = 5, ["temperature"] = 0, ["logprobs"] = 0, ["return_tokens_as_token_ids"] = true, ["return_token_ids"] = true,
        });
        var c = body!["choices"]![0]!;
        Assert.Equal(ServeTestKit.Longs(c["token_ids"]).Select(t => $"token_id:{t}"), c["logprobs"]!["tokens"]!.AsArray().Select(t => (string)t!));
    }

    [Fact]
    public async Task A_stream_assembles_to_the_non_streamed_result()
    {
        var request = new JsonObject
        {
            ["prompt"] = new JsonArray(Texts[0], Texts[1]), ["max_tokens"] = 16, ["temperature"] = 0.7, ["seed"] = 3, ["n"] = 2,
            ["stop"] = new JsonArray("e", "th"), ["return_token_ids"] = true, ["logprobs"] = 0,
        };
        var (_, whole, _) = await server.Post("v1/completions", request);
        var streamed = request.DeepClone().AsObject();
        streamed["stream"] = true;
        streamed["stream_options"] = new JsonObject { ["include_usage"] = true };
        var chunks = await Stream(server, "v1/completions", streamed);
        var choices = whole!["choices"]!.AsArray();
        for (int i = 0; i < choices.Count; i++)
        {
            var mine = chunks.Where(c => c["choices"]!.AsArray().Count > 0 && (int)c["choices"]![0]!["index"]! == i).Select(c => c["choices"]![0]!).ToList();
            Assert.Equal((string?)choices[i]!["text"], string.Concat(mine.Select(c => (string?)c["text"])));
            Assert.Equal(ServeTestKit.Longs(choices[i]!["token_ids"]), mine.SelectMany(c => ServeTestKit.Longs(c["token_ids"])));
            Assert.Equal(ServeTestKit.Longs(choices[i]!["prompt_token_ids"]), ServeTestKit.Longs(mine[0]["prompt_token_ids"]));
            Assert.Equal((string?)choices[i]!["finish_reason"], (string?)mine[^1]["finish_reason"]);
            Assert.Equal(choices[i]!["stop_reason"]?.ToJsonString(), mine[^1]["stop_reason"]?.ToJsonString());
            Assert.All(mine.SkipLast(1), c => Assert.Null(c["finish_reason"]));
            var values = choices[i]!["logprobs"]!["token_logprobs"]!.AsArray().Select(v => v!.GetValue<double>());
            Assert.Equal(values, mine.SelectMany(c => c["logprobs"]!["token_logprobs"]!.AsArray().Select(v => v!.GetValue<double>())));
        }
        Assert.Equal(whole["usage"]!.ToJsonString(), chunks[^1]["usage"]!.ToJsonString());
    }

    [Fact]
    public async Task Stop_strings_cut_the_text_and_name_the_stop_reason()
    {
        var (_, free, _) = await server.Post("v1/completions", new JsonObject { ["prompt"] = Texts[2], ["max_tokens"] = 24, ["temperature"] = 0, ["ignore_eos"] = true });
        string text = (string)free!["choices"]![0]!["text"]!;
        Assert.True(text.Length >= 4, text);
        string stop = text.Substring(2, 2);
        var (_, cut, _) = await server.Post("v1/completions", new JsonObject { ["prompt"] = Texts[2], ["max_tokens"] = 24, ["temperature"] = 0, ["stop"] = stop, ["ignore_eos"] = true });
        var c = cut!["choices"]![0]!;
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], (string?)c["text"]);
        Assert.Equal("stop", (string?)c["finish_reason"]);
        Assert.Equal(stop, (string?)c["stop_reason"]);
    }

    [Fact]
    public async Task A_stop_token_id_ends_the_sample_at_its_first_occurrence()
    {
        var (_, free, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = Texts[1], ["max_tokens"] = 12, ["temperature"] = 0.9, ["seed"] = 21, ["ignore_eos"] = true, ["return_token_ids"] = true,
        });
        var tokens = ServeTestKit.Longs(free!["choices"]![0]!["token_ids"]);
        long stop = tokens[4];
        int first = Array.IndexOf(tokens, stop);
        var (_, cut, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = Texts[1], ["max_tokens"] = 12, ["temperature"] = 0.9, ["seed"] = 21, ["ignore_eos"] = true, ["return_token_ids"] = true,
            ["stop_token_ids"] = new JsonArray(stop),
        });
        var c = cut!["choices"]![0]!;
        Assert.Equal(tokens.Take(first + 1), ServeTestKit.Longs(c["token_ids"]));
        Assert.Equal("stop", (string?)c["finish_reason"]);
        Assert.Equal(stop, (long)c["stop_reason"]!);
    }

    [Fact]
    public async Task Sixty_four_concurrent_clients_get_what_each_gets_alone()
    {
        // Different prompts, lengths, temperatures, top-k / top-p and n, so that sequences join and leave the batch at different steps.
        JsonObject Request(int i) => new()
        {
            ["prompt"] = $"{Texts[i % 3]} {i} {new string('x', i % 7)}", ["max_tokens"] = 4 + i % 9, ["seed"] = 1000 + i,
            ["temperature"] = i % 4 == 0 ? 0 : 0.5 + 0.1 * (i % 5), ["top_k"] = i % 3 == 0 ? 20 : -1, ["top_p"] = i % 5 == 0 ? 0.8 : 1.0,
            ["n"] = 1 + i % 2, ["return_token_ids"] = true,
        };
        var alone = new List<long[][]>();
        for (int i = 0; i < 64; i++) alone.Add(Tokens((await server.Post("v1/completions", Request(i))).Body!));
        var together = await Task.WhenAll(Enumerable.Range(0, 64).Select(async i => Tokens((await server.Post("v1/completions", Request(i))).Body!)));
        // The guarantee is the same random draws (docs/serve.md): batches of other shapes can round the logits
        // differently in the last bits, and a draw within that rounding of a CDF boundary flips (~1e-6 per token,
        // ~770 tokens here). Mixed-up streams (seeds shared or swapped between requests or rows) change nearly every
        // sampled request, so at most one of the 64 may differ.
        var differing = Enumerable.Range(0, 64).Where(i => !alone[i].Zip(together[i]).All(p => p.First.SequenceEqual(p.Second))
                                                           || alone[i].Length != together[i].Length).ToList();
        Assert.True(differing.Count <= 1, $"requests {string.Join(", ", differing)} got other tokens among 63 others than alone");
        Assert.Equal(0, (int)(await server.Health())["running"]!);

        static long[][] Tokens(JsonNode body) => body["choices"]!.AsArray().Select(c => ServeTestKit.Longs(c!["token_ids"])).ToArray();
    }

    /// <summary>Reads an SSE response: the JSON of every data line, up to [DONE] (which must come).</summary>
    internal static async Task<List<JsonNode>> Stream(ServeProcess server, string path, JsonNode body)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        using var response = await server.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var chunks = new List<JsonNode>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0) continue;
            Assert.StartsWith("data: ", line);
            if (line == "data: [DONE]") return chunks;
            chunks.Add(JsonNode.Parse(line["data: ".Length..])!);
        }
        throw new InvalidDataException("the stream ended without data: [DONE].");
    }
}
