using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Adapters;
using GspoSharp.Tests.Models.Adapters;
using OpenAI;
using OpenAI.Chat;

namespace GspoSharp.Tests.Serving;

/// <summary>Each test starts its own server: queue limits, weight updates, adapters, keys, dtype, signals.</summary>
[Collection("serve")]
public class LifecycleTests(ServerFixture fixture)
{
    static JsonObject Greedy(string prompt, int tokens, string? model = null) => new()
    {
        ["model"] = model, ["prompt"] = prompt, ["max_tokens"] = tokens, ["temperature"] = 0, ["ignore_eos"] = true, ["return_token_ids"] = true,
    };

    static long[] Tokens(JsonNode? body) => ServeTestKit.Longs(body!["choices"]![0]!["token_ids"]);

    [Fact]
    public async Task A_full_queue_answers_429_and_a_waiting_request_whose_client_leaves_is_dropped()
    {
        using var dir = new TempDirectory();
        string model = fixture.Model;
        string hold = Path.Combine(dir.Path, "hold");
        File.WriteAllText(hold, "");
        using var server = ServeProcess.Start(model, new Dictionary<string, string> { ["GSPO_TEST_SERVE_HOLD"] = hold }, "--max-queue", "2", "--max-batch", "2");
        var first = server.Post("v1/completions", Greedy("one", 3));
        using var leaving = new CancellationTokenSource();
        var second = server.Http.PostAsync("v1/completions", new StringContent(Greedy("two", 3).ToJsonString(), Encoding.UTF8, "application/json"), leaving.Token);
        await server.Until(h => (int)h["waiting"]! == 2);

        var (status, body, _) = await server.Post("v1/completions", Greedy("three", 3));
        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        Assert.Equal(429, (int)body!["error"]!["code"]!);
        Assert.Contains("queue is full", (string?)body["error"]!["message"]);

        leaving.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);
        await server.Until(h => (int)h["waiting"]! == 1);   // the worker dropped it without running it
        File.Delete(hold);
        var (ok, done, _) = await first;
        Assert.Equal(HttpStatusCode.OK, ok);
        Assert.Equal(3, Tokens(done).Length);

        // 2 prompts × n = 3 with room for 2 sequences: the request runs in parts, and still samples what gspo generate does.
        var prompts = new[] { "What is 2 + 2?", "red blue" };
        var expected = ServeTestKit.Generate(dir.Path, model, prompts.Select(p => new JsonObject { ["prompt"] = p }),
            "-n", "3", "--seed", "9", "--temperature", "1", "--max-new-tokens", "6");
        var (_, parts, _) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = new JsonArray(prompts.Select(p => (JsonNode)p).ToArray()), ["n"] = 3, ["seed"] = 9, ["max_tokens"] = 6, ["return_token_ids"] = true,
        });
        var choices = parts!["choices"]!.AsArray();
        Assert.Equal(expected.Select(e => ServeTestKit.Longs(e["completion_ids"])), choices.Select(ch => ServeTestKit.Longs(ch!["token_ids"])));
    }

    [Fact]
    public async Task A_weight_update_changes_the_next_samples_and_the_request_in_flight_finishes_on_the_old_weights()
    {
        using var dir = new TempDirectory();
        string before = fixture.Model;
        string after = ServeTestKit.TinyModel(Path.Combine(dir.Path, "after"), seed: 2);
        var prompts = new[] { new JsonObject { ["prompt"] = "What is 1 + 1?" } };
        var old = ServeTestKit.Generate(dir.Path, before, prompts, "--temperature", "0", "--max-new-tokens", "300");
        var sampledBefore = ServeTestKit.Generate(dir.Path, before, prompts, "--temperature", "1", "--seed", "7", "--max-new-tokens", "8");
        var sampledAfter = ServeTestKit.Generate(dir.Path, after, prompts, "--temperature", "1", "--seed", "7", "--max-new-tokens", "8");
        using var server = ServeProcess.Start(before);

        // A long stream is running when the update arrives: the update waits for it.
        var stream = new JsonObject { ["prompt"] = "What is 1 + 1?", ["max_tokens"] = 300, ["temperature"] = 0, ["stream"] = true, ["return_token_ids"] = true };
        using var message = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(stream.ToJsonString(), Encoding.UTF8, "application/json") };
        using var response = await server.Http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("1", response.Headers.GetValues("X-Weight-Version").Single());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var firstLine = await reader.ReadLineAsync();
        var update = server.Post("update_weights_from_disk", new JsonObject { ["model_path"] = after });
        var streamed = new List<long>(ServeTestKit.Longs(JsonNode.Parse(firstLine!["data: ".Length..])!["choices"]![0]!["token_ids"]));
        while (await reader.ReadLineAsync() is { } line)
            if (line.StartsWith("data: {", StringComparison.Ordinal)) streamed.AddRange(ServeTestKit.Longs(JsonNode.Parse(line[6..])!["choices"]![0]!["token_ids"]));
        Assert.Equal(ServeTestKit.Longs(old[0]["completion_ids"]), streamed);   // all old weights, never a mix

        var (status, body, headers) = await update;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True((bool)body!["success"]!);
        Assert.Equal("2", headers.Headers.GetValues("X-Weight-Version").Single());
        Assert.Equal(2, (long)(await server.Health())["weight_version"]!);

        var (_, next, nextResponse) = await server.Post("v1/completions", new JsonObject
        {
            ["prompt"] = "What is 1 + 1?", ["max_tokens"] = 8, ["temperature"] = 1, ["seed"] = 7, ["return_token_ids"] = true,
        });
        Assert.Equal("2", nextResponse.Headers.GetValues("X-Weight-Version").Single());
        Assert.Equal(ServeTestKit.Longs(sampledAfter[0]["completion_ids"]), Tokens(next));
        Assert.NotEqual(ServeTestKit.Longs(sampledBefore[0]["completion_ids"]), Tokens(next));

        var (bad, failure, _) = await server.Post("update_weights_from_disk", new JsonObject { ["model_path"] = Path.Combine(dir.Path, "missing") });
        Assert.Equal(HttpStatusCode.BadRequest, bad);
        Assert.False((bool)failure!["success"]!);
        Assert.Contains("missing", (string?)failure["message"]);
        Assert.Equal(2, (long)(await server.Health())["weight_version"]!);

        GspoProcess.Signal(server.Process, "TERM");
        Assert.True(server.Process.WaitForExit(ServeProcess.Limit), "the server did not stop on SIGTERM");
        Assert.Equal(0, server.Process.ExitCode);
        Assert.Contains("stopped", server.Stderr);
    }

    [Fact]
    public async Task Lora_adapters_load_and_unload_and_the_model_field_selects_them()
    {
        using var dir = new TempDirectory();
        string model = fixture.Model;
        string adapter = Path.Combine(dir.Path, "adapter");
        using (var lm = ModelDirectory.Load(model))
        {
            var settings = new LoraSettings(4, 16, 0.0, new[] { "q_proj", "v_proj", "up_proj" }, false);
            Lora.Attach(lm, settings, seed: 3);
            LoraTests.Randomize(lm, 0.5);
            PeftAdapter.Save(lm, settings, adapter, model);
        }
        var prompts = new[] { new JsonObject { ["prompt"] = "hello world" } };
        var plain = ServeTestKit.Generate(dir.Path, model, prompts, "--temperature", "0", "--max-new-tokens", "10");
        var adapted = ServeTestKit.Generate(dir.Path, model, prompts, "--adapter", adapter, "--temperature", "0", "--max-new-tokens", "10");
        Assert.NotEqual(ServeTestKit.Longs(plain[0]["completion_ids"]), ServeTestKit.Longs(adapted[0]["completion_ids"]));
        using var server = ServeProcess.Start(model, null, "--served-model-name", "base", "--adapter", $"startup={adapter}");

        var (missing, _, _) = await server.Post("v1/completions", Greedy("hello world", 10, "math"));
        Assert.Equal(HttpStatusCode.NotFound, missing);
        var load = new JsonObject { ["lora_name"] = "math", ["lora_path"] = adapter };
        using (var response = await server.Http.PostAsync("v1/load_lora_adapter", new StringContent(load.ToJsonString(), Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Success: LoRA adapter 'math' added successfully.", await response.Content.ReadAsStringAsync());
        }
        var (again, error, _) = await server.Post("v1/load_lora_adapter", load);
        Assert.Equal(HttpStatusCode.BadRequest, again);
        Assert.Contains("already been loaded", (string?)error!["error"]!["message"]);

        // Base and adapter requests at once: the batch runs one adapter at a time, each gets its own.
        string[] names = { "base", "math", "startup" };   // startup: loaded by --adapter at start
        var requests = Enumerable.Range(0, 6).Select(i => server.Post("v1/completions", new JsonObject
        {
            ["model"] = names[i % 3], ["prompt"] = "hello world", ["max_tokens"] = 10, ["temperature"] = 0, ["return_token_ids"] = true,
        })).ToArray();
        var results = await Task.WhenAll(requests);
        for (int i = 0; i < 6; i++)
            Assert.Equal(ServeTestKit.Longs((i % 3 == 0 ? plain : adapted)[0]["completion_ids"]), Tokens(results[i].Body));
        var models = JsonNode.Parse(await server.Http.GetStringAsync("v1/models"))!["data"]!.AsArray();
        Assert.Equal(names, models.Select(m => (string)m!["id"]!));
        Assert.Equal("base", (string?)models[1]!["parent"]);

        using (var response = await server.Http.PostAsync("v1/unload_lora_adapter", new StringContent("{\"lora_name\": \"math\"}", Encoding.UTF8, "application/json")))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (gone, _, _) = await server.Post("v1/completions", Greedy("hello world", 10, "math"));
        Assert.Equal(HttpStatusCode.NotFound, gone);
        var (unloadAgain, _, _) = await server.Post("v1/unload_lora_adapter", new JsonObject { ["lora_name"] = "math" });
        Assert.Equal(HttpStatusCode.NotFound, unloadAgain);
    }

    [Fact]
    public async Task An_api_key_is_required_on_every_route_but_health()
    {
        using var dir = new TempDirectory();
        string model = fixture.Model;
        using var server = ServeProcess.Start(model, null, "--api-key", "sesame", "--served-model-name", "tiny");
        var (denied, body, _) = await server.Post("v1/completions", Greedy("hi", 2));
        Assert.Equal(HttpStatusCode.Unauthorized, denied);
        Assert.Equal("Unauthorized", (string?)body!["error"]);
        var (wrong, _, _) = await server.Post("generate", new JsonObject { ["text"] = "hi" }, apiKey: "open");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong);
        Assert.Equal(1, (long)(await server.Health())["weight_version"]!);
        var (ok, _, _) = await server.Post("v1/completions", Greedy("hi", 2), apiKey: "sesame");
        Assert.Equal(HttpStatusCode.OK, ok);
        var client = new ChatClient("tiny", new ApiKeyCredential("sesame"), new OpenAIClientOptions { Endpoint = new Uri(server.Url, "v1") });
        ChatCompletion chat = await client.CompleteChatAsync(new ChatMessage[] { new UserChatMessage("hi") }, new ChatCompletionOptions { MaxOutputTokenCount = 3 });
        Assert.True(chat.Usage.OutputTokenCount is >= 1 and <= 3);

        GspoProcess.Signal(server.Process, "INT");
        Assert.True(server.Process.WaitForExit(ServeProcess.Limit), "the server did not stop on SIGINT");
        Assert.Equal(0, server.Process.ExitCode);
    }

    [Fact]
    public async Task Bfloat16_serves_what_the_rollout_engine_samples_from_the_bfloat16_model()
    {
        using var dir = new TempDirectory();
        string model = fixture.Model;
        using var server = ServeProcess.Start(model, null, "--dtype", "bfloat16");
        var (status, body, _) = await server.Post("v1/completions", new JsonObject { ["prompt"] = "The answer is", ["max_tokens"] = 8, ["temperature"] = 0, ["return_token_ids"] = true });
        Assert.Equal(HttpStatusCode.OK, status);

        using var lm = ModelDirectory.Load(model, ScalarType.BFloat16);
        var prompt = ServeTestKit.Longs(body!["choices"]![0]!["prompt_token_ids"]);
        var eos = ModelDirectory.LoadGenerationConfig(model)!.EosTokenIds.Select(i => (long)i).ToArray();
        using var result = new GspoSharp.Rollout.RolloutEngine(lm).Generate(new[] { prompt },
            new GspoSharp.Rollout.SamplingOptions { Temperature = 0, MaxNewTokens = 8, EosTokenIds = eos });
        Assert.Equal(result.Completions[0].CompletionIds, Tokens(body));
    }

    [Fact]
    public void Bad_options_fail_with_one_error_line()
    {
        using var dir = new TempDirectory();
        var result = GspoProcess.Run("serve", "--model", Path.Combine(dir.Path, "none"), "--port", "0");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Stderr);
        Assert.Contains(Path.Combine(dir.Path, "none"), result.Stderr);
        var dtype = GspoProcess.Run("serve", "--model", fixture.Model, "--port", "0", "--dtype", "float16");
        Assert.Equal(1, dtype.ExitCode);
        Assert.Equal("error: --dtype float16: expected float32 or bfloat16.", dtype.Stderr.Trim());
        var threads = GspoProcess.Run("serve", "--model", fixture.Model, "--port", "0", "--threads", "0");
        Assert.Equal(1, threads.ExitCode);
        Assert.Equal("error: --threads 0: expected at least 1.", threads.Stderr.Trim());
    }

    [Fact]
    public async Task A_model_under_a_million_parameters_is_served_on_one_thread_unless_told()
    {
        Assert.True(GspoSharp.Models.Architecture.ModelConfig.Load(Path.Combine(fixture.Model, "config.json")).ParameterCount() < IntraOpThreads.SingleThreadParameters);
        // Two threads for the process (test children get one by default), so the rule has something to change.
        var twoThreads = new Dictionary<string, string> { ["OMP_NUM_THREADS"] = "2" };
        using (var auto = ServeProcess.Start(fixture.Model, twoThreads))
            Assert.Equal(1, (int)(await auto.Health())["threads"]!);
        using (var told = ServeProcess.Start(fixture.Model, twoThreads, "--threads", "3"))
            Assert.Equal(3, (int)(await told.Health())["threads"]!);
        // The thread count changes no sample of this model.
        var greedy = Greedy("The answer is", 8);
        using var one = ServeProcess.Start(fixture.Model, null, "--threads", "1");
        using var two = ServeProcess.Start(fixture.Model, null, "--threads", "2");
        var (a, b) = ((await one.Post("v1/completions", greedy)).Body, (await two.Post("v1/completions", greedy)).Body);
        Assert.Equal(Tokens(a), Tokens(b));
    }
}
