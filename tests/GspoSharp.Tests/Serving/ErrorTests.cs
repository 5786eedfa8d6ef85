using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace GspoSharp.Tests.Serving;

/// <summary>Refusals: a 400 naming the field, 404 for an unknown model, and a server that keeps serving.</summary>
[Collection("serve")]
public class ErrorTests(ServerFixture fixture)
{
    readonly ServeProcess server = fixture.Server;

    public static TheoryData<string, string, string> Refusals => new()
    {
        { "v1/completions", """{"prompt": "hi", "bogus": 1}""", "bogus" },
        { "v1/completions", """{"prompt": "hi", "temperature": "hot"}""", "temperature" },
        { "v1/completions", """{"prompt": "hi", "top_p": 1.5}""", "top_p" },
        { "v1/completions", """{"prompt": "hi", "n": 0}""", "n" },
        { "v1/completions", """{"prompt": "hi", "frequency_penalty": 0.5}""", "frequency_penalty" },
        { "v1/completions", """{"prompt": "hi", "echo": true}""", "echo" },
        { "v1/completions", """{"prompt": "hi", "logprobs": 21}""", "logprobs" },
        { "v1/completions", """{"prompt": [1, 2, 512]}""", "prompt" },
        { "v1/completions", """{"prompt": []}""", "prompt" },
        { "v1/completions", """{"max_tokens": 3}""", "prompt" },
        { "v1/completions", """{"prompt": "hi", "max_tokens": 5000}""", "max_tokens" },
        { "v1/completions", """{"prompt": "hi", "stream_options": {"include_usage": true}}""", "stream_options" },
        { "v1/completions", """{"prompt": "hi", "stop": ["ok", 3]}""", "stop[1]" },
        { "v1/chat/completions", """{"messages": [{"role": "user", "content": "hi", "extra": 1}]}""", "messages[0].extra" },
        { "v1/chat/completions", """{"messages": [{"role": "robot", "content": "hi"}]}""", "messages[0].role" },
        { "v1/chat/completions", """{"messages": [], "max_tokens": 3}""", "messages" },
        { "v1/chat/completions", """{"messages": [{"role": "user", "content": "hi"}], "top_logprobs": 2}""", "top_logprobs" },
        { "generate", """{"input_ids": [1, 2], "sampling_params": {"max_new_tokens": 2, "foo": 1}}""", "sampling_params.foo" },
        { "generate", """{"text": "a", "input_ids": [1]}""", "text" },
        { "v1/load_lora_adapter", """{"lora_name": "x"}""", "lora_path" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task Bad_fields_get_400_naming_the_field(string path, string body, string field)
    {
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
        Assert.Equal(400, (int)error["code"]!);
        Assert.Equal("BadRequestError", (string?)error["type"]);
        Assert.StartsWith(field, (string?)error["message"]);
        Assert.Equal(field, (string?)error["param"]);
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_is_400_and_the_server_keeps_serving()
    {
        var (status, body, _) = await server.Post("v1/completions", new JsonObject { ["prompt"] = ServeTestKit.Ids(Enumerable.Repeat(5L, 2048)) });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("maximum context length is 2048", (string?)body!["error"]!["message"]);

        using var broken = new StringContent("{\"prompt\": ", Encoding.UTF8, "application/json");
        using var response = await server.Http.PostAsync("v1/completions", broken);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid JSON", await response.Content.ReadAsStringAsync());

        var (ok, _, _) = await server.Post("v1/completions", new JsonObject { ["prompt"] = "hi", ["max_tokens"] = 2 });
        Assert.Equal(HttpStatusCode.OK, ok);
    }

    [Fact]
    public async Task An_unknown_model_is_404()
    {
        var (status, body, _) = await server.Post("v1/completions", new JsonObject { ["model"] = "gpt-9", ["prompt"] = "hi" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("The model `gpt-9` does not exist.", (string?)body!["error"]!["message"]);
    }

    [Fact]
    public async Task A_client_that_leaves_mid_stream_does_not_stop_the_server()
    {
        using (var message = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
               {
                   Content = new StringContent(new JsonObject { ["prompt"] = "hi", ["max_tokens"] = 2000, ["ignore_eos"] = true, ["stream"] = true }.ToJsonString(),
                       Encoding.UTF8, "application/json"),
               })
        using (var response = await server.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            Assert.StartsWith("data: ", await reader.ReadLineAsync());
        }   // the connection closes here, mid-stream
        await server.Until(h => (int)h["running"]! == 0);
        var (ok, _, _) = await server.Post("v1/completions", new JsonObject { ["prompt"] = "hi", ["max_tokens"] = 2 });
        Assert.Equal(HttpStatusCode.OK, ok);
    }
}
