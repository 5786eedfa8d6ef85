using System.ClientModel;
using System.Net;
using System.Text.Json.Nodes;
using OpenAI;
using OpenAI.Chat;

namespace GspoSharp.Tests.Serving;

/// <summary>/v1/chat/completions through the official OpenAI .NET client, and SGLang's /generate.</summary>
[Collection("serve")]
public class ChatTests(ServerFixture fixture)
{
    readonly ServeProcess server = fixture.Server;

    ChatClient Client() => new("tiny", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(server.Url, "v1") });

    [Fact]
    public async Task The_chat_template_is_applied_as_gspo_generate_chat_applies_it()
    {
        const string question = "What is 3 + 4?";
        var expected = ServeTestKit.Generate(fixture.Directory.Path, fixture.Model, new[] { new JsonObject { ["prompt"] = question } },
            "--chat", "--temperature", "0", "--max-new-tokens", "12")[0];
        ChatCompletion completion = await Client().CompleteChatAsync(new ChatMessage[] { new UserChatMessage(question) },
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 12 });
        Assert.Equal((string?)expected["text"], completion.Content.Count == 0 ? "" : completion.Content[0].Text);
        Assert.Equal(ServeTestKit.Longs(expected["prompt_ids"]).Length, completion.Usage.InputTokenCount);
        Assert.Equal(ServeTestKit.Longs(expected["completion_ids"]).Length, completion.Usage.OutputTokenCount);

        // The same through raw HTTP with vLLM's return_token_ids: the rendered prompt's ids and the completion's.
        var (_, body, _) = await server.Post("v1/chat/completions", new JsonObject
        {
            ["model"] = "tiny", ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = question }),
            ["temperature"] = 0, ["max_tokens"] = 12, ["return_token_ids"] = true,
        });
        Assert.Equal("chat.completion", (string?)body!["object"]);
        Assert.Equal(ServeTestKit.Longs(expected["prompt_ids"]), ServeTestKit.Longs(body["prompt_token_ids"]));
        Assert.Equal(ServeTestKit.Longs(expected["completion_ids"]), ServeTestKit.Longs(body["choices"]![0]!["token_ids"]));
        Assert.Equal("assistant", (string?)body["choices"]![0]!["message"]!["role"]);
    }

    [Fact]
    public async Task A_streamed_chat_assembles_to_the_non_streamed_one()
    {
        var messages = new ChatMessage[] { new SystemChatMessage("You are a helpful model."), new UserChatMessage("Count the letters in tree.") };
#pragma warning disable OPENAI001 // Seed is marked experimental in the client
        var options = new ChatCompletionOptions { Temperature = 0.9f, Seed = 11, MaxOutputTokenCount = 20 };
#pragma warning restore OPENAI001
        ChatCompletion whole = await Client().CompleteChatAsync(messages, options);
        var text = new System.Text.StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Client().CompleteChatStreamingAsync(messages, options))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(whole.Content.Count == 0 ? "" : whole.Content[0].Text, text.ToString());
        Assert.Equal(whole.FinishReason, finish);
    }

    [Fact]
    public async Task Chat_logprobs_list_the_sampled_token_and_the_most_likely_ones()
    {
        ChatCompletion completion = await Client().CompleteChatAsync(new ChatMessage[] { new UserChatMessage("hello") },
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6, IncludeLogProbabilities = true, TopLogProbabilityCount = 3 });
        Assert.Equal(completion.Usage.OutputTokenCount, completion.ContentTokenLogProbabilities.Count);
        foreach (var token in completion.ContentTokenLogProbabilities)
        {
            Assert.Equal(3, token.TopLogProbabilities.Count);
            // Greedy: the sampled token is the most likely one.
            Assert.Equal(token.TopLogProbabilities[0].LogProbability, token.LogProbability);
            Assert.True(token.LogProbability <= 0);
        }
    }

    [Fact]
    public async Task Sglang_generate_returns_output_ids_and_logprobs_as_logprob_id_text()
    {
        var (_, completion, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = new JsonArray(5, 60, 7, 80), ["max_tokens"] = 6, ["temperature"] = 0, ["logprobs"] = 0, ["return_token_ids"] = true,
        });
        var (status, body, response) = await server.Post("generate", new JsonObject
        {
            ["input_ids"] = new JsonArray(5, 60, 7, 80), ["sampling_params"] = new JsonObject { ["max_new_tokens"] = 6, ["temperature"] = 0 },
            ["return_logprob"] = true, ["return_text_in_logprobs"] = true,
        });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("1", response.Headers.GetValues("X-Weight-Version").Single());
        var ids = ServeTestKit.Longs(completion!["choices"]![0]!["token_ids"]);
        Assert.Equal(ids, ServeTestKit.Longs(body!["output_ids"]));
        Assert.Equal((string?)completion["choices"]![0]!["text"], (string?)body["text"]);
        var logprobs = body["meta_info"]!["output_token_logprobs"]!.AsArray();
        var expected = completion["choices"]![0]!["logprobs"]!["token_logprobs"]!.AsArray();
        for (int i = 0; i < ids.Length; i++)
        {
            Assert.Equal(expected[i]!.GetValue<double>(), logprobs[i]![0]!.GetValue<double>());
            Assert.Equal(ids[i], logprobs[i]![1]!.GetValue<long>());
            Assert.NotNull(logprobs[i]![2]);
        }
        Assert.Equal(4, (int)body["meta_info"]!["prompt_tokens"]!);
        Assert.Equal(ids.Length, (int)body["meta_info"]!["completion_tokens"]!);
        Assert.Contains((string?)body["meta_info"]!["finish_reason"]!["type"], new[] { "stop", "length" });

        // A batch of input_ids answers with a list.
        var (_, batch, _) = await server.Post("generate", new JsonObject
        {
            ["input_ids"] = new JsonArray(new JsonArray(5, 60, 7, 80), new JsonArray(9, 9)), ["sampling_params"] = new JsonObject { ["max_new_tokens"] = 6, ["temperature"] = 0 },
        });
        Assert.Equal(ids, ServeTestKit.Longs(batch!.AsArray()[0]!["output_ids"]));
        Assert.Equal(2, batch.AsArray().Count);
    }

    [Fact]
    public async Task Models_lists_the_served_model_and_health_reports_the_weight_version()
    {
        var models = JsonNode.Parse(await server.Http.GetStringAsync("v1/models"))!;
        Assert.Equal("list", (string?)models["object"]);
        Assert.Equal("tiny", (string?)models["data"]![0]!["id"]);
        Assert.Equal(2048, (int)models["data"]![0]!["max_model_len"]!);
        var health = await server.Health();
        Assert.Equal(1, (long)health["weight_version"]!);
    }
}
