using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Rollout;

namespace GspoSharp.Tests.Rollout;

/// <summary>Scheduling, faults and weight sync of the HTTP backend, against fake servers that answer
/// with the documented response bodies (no timing in any assertion).</summary>
public class HttpRolloutBackendTests
{
    /// <summary>Servers by port; each answers what its function says for (path, request body).</summary>
    sealed class FakeServers : HttpMessageHandler
    {
        public ConcurrentQueue<(int Port, string Path, JsonObject Body)> Requests { get; } = new();
        public Func<int, string, JsonObject, HttpResponseMessage> Answer { get; set; } = (_, path, body) => Ok(path, body);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? new JsonObject() : JsonNode.Parse(await request.Content.ReadAsStringAsync(cancellationToken))!.AsObject();
            Requests.Enqueue((request.RequestUri!.Port, request.RequestUri.AbsolutePath, body));
            return Answer(request.RequestUri.Port, request.RequestUri.AbsolutePath, body);
        }

        /// <summary>A sample whose tokens encode the request: [prompt's first id, seed mod 1000, 2 (EOS)].</summary>
        public static HttpResponseMessage Ok(string path, JsonObject body)
        {
            if (path == "/v1/completions")
            {
                long first = body["prompt"]![0]!.GetValue<long>(), seed = body["seed"]!.GetValue<long>() % 1000;
                return Json($$$"""{"choices": [{"index": 0, "text": "", "finish_reason": "stop", "token_ids": [{{{first}}}, {{{seed}}}, 2], "logprobs": {"token_logprobs": [-0.5, -0.25, -0.125]}}]}""");
            }
            if (path == "/generate")
            {
                long first = body["input_ids"]![0]!.GetValue<long>(), seed = body["sampling_params"]!["sampling_seed"]!.GetValue<long>() % 1000;
                return Json($$$"""{"text": "", "output_ids": [{{{first}}}, {{{seed}}}], "meta_info": {"finish_reason": {"type": "length", "length": 2}, "weight_version": "3", "output_token_logprobs": [[-0.5, {{{first}}}, null], [-0.25, {{{seed}}}, null]]}}""");
            }
            if (path == "/update_weights_from_disk") return Json("""{"success": true, "message": "Succeeded to update model weights.", "num_paused_requests": 0}""");
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("Success") };
        }

        public static HttpResponseMessage Json(string text) => new(HttpStatusCode.OK) { Content = new StringContent(text, Encoding.UTF8, "application/json") };
    }

    static readonly long[][] Prompts = { new long[] { 10, 1 }, new long[] { 20, 1, 1 }, new long[] { 30 }, new long[] { 40, 1 } };
    static readonly SamplingOptions Options = new() { MaxNewTokens = 4, SamplesPerPrompt = 3, Seed = 77, EosTokenIds = new long[] { 2 } };

    static HttpRolloutSettings Settings(RolloutApi api = RolloutApi.Vllm, WeightSyncMode sync = WeightSyncMode.None, int servers = 2, int retries = 2) =>
        new(Enumerable.Range(0, servers).Select(i => new Uri($"http://127.0.0.1:{9001 + i}")).ToList(), api, sync, 30, retries);

    [Theory]
    [InlineData(RolloutApi.Vllm)]
    [InlineData(RolloutApi.Sglang)]
    public async Task Each_prompts_samples_go_to_one_server_with_their_own_seeds_and_prompts_spread_over_servers(RolloutApi api)
    {
        var fake = new FakeServers();
        using var backend = new HttpRolloutBackend(Settings(api), handler: fake);
        using var result = await backend.GenerateAsync(Prompts, Options);
        Assert.Equal(Prompts.Length * 3, result.Completions.Count);
        for (int i = 0; i < result.Completions.Count; i++)
        {
            var c = result.Completions[i];
            Assert.Equal((i / 3, i % 3), (c.PromptIndex, c.SampleIndex));
            Assert.Equal(Prompts[i / 3], c.PromptIds);
            Assert.Equal(Prompts[i / 3][0], c.CompletionIds[0]);
            Assert.Equal(RolloutProtocol.Seed(77, i / 3, i % 3) % 1000, c.CompletionIds[1]);
            Assert.Equal(api == RolloutApi.Vllm ? new[] { -0.5f, -0.25f, -0.125f } : new[] { -0.5f, -0.25f }, c.LogProbs);
            Assert.Equal(api == RolloutApi.Vllm ? FinishReason.Stop : FinishReason.Length, c.FinishReason);
        }
        var byPrompt = fake.Requests.GroupBy(r => (api == RolloutApi.Vllm ? r.Body["prompt"] : r.Body["input_ids"])![0]!.GetValue<long>()).ToList();
        Assert.All(byPrompt, g => Assert.Single(g.Select(r => r.Port).Distinct()));
        Assert.Equal(new[] { 9001, 9002 }, fake.Requests.Select(r => r.Port).Distinct().Order());
        Assert.Equal(0, result.Metrics["rollout/server_failures"]);
        if (api == RolloutApi.Sglang) Assert.Equal(3, result.Metrics["rollout/weight_version/0"]);
    }

    [Fact]
    public async Task A_failing_server_has_its_prompts_retried_on_the_other_counted_and_reported_once()
    {
        var fake = new FakeServers();
        fake.Answer = (port, path, body) => port == 9001 ? new HttpResponseMessage(HttpStatusCode.InternalServerError) { Content = new StringContent("boom") }
            : FakeServers.Ok(path, body);
        var warnings = new ConcurrentQueue<string>();
        using var backend = new HttpRolloutBackend(Settings(), handler: fake) { OnWarning = warnings.Enqueue };
        using var result = await backend.GenerateAsync(Prompts, Options);
        Assert.Equal(Prompts.Length * 3, result.Completions.Count);
        Assert.True(result.Metrics["rollout/server_failures"] >= 1);
        Assert.Equal(1, result.Metrics["rollout/servers_up"]);
        var warning = Assert.Single(warnings);
        Assert.Contains("http://127.0.0.1:9001/", warning);
        Assert.Contains("HTTP 500", warning);

        // Set aside: the next call does not ask it, and one that is back after a sync is used again.
        fake.Answer = (_, path, body) => FakeServers.Ok(path, body);
        while (fake.Requests.TryDequeue(out _)) { }
        using (await backend.GenerateAsync(Prompts, Options)) { }
        Assert.DoesNotContain(fake.Requests, r => r.Port == 9001);
        var sync = await backend.WeightsChangedAsync(1);
        Assert.Equal(2, sync["rollout/servers_up"]);
        Assert.Contains(fake.Requests, r => r.Port == 9001 && r.Path == "/health");
        Assert.Contains(warnings, w => w.Contains("is back"));
    }

    [Fact]
    public async Task When_every_server_fails_the_call_says_so()
    {
        var fake = new FakeServers { Answer = (_, _, _) => new HttpResponseMessage(HttpStatusCode.BadGateway) };
        using var backend = new HttpRolloutBackend(Settings(), handler: fake);
        var e = await Assert.ThrowsAsync<RolloutUnavailableException>(() => backend.GenerateAsync(Prompts, Options));
        Assert.Contains("no rollout server could sample", e.Message);
        Assert.Contains("HTTP 502", e.Message);
    }

    [Fact]
    public async Task A_refused_request_is_not_retried_and_carries_the_servers_answer()
    {
        var fake = new FakeServers { Answer = (_, _, _) => new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("""{"message": "The model `gspo-policy` does not exist."}""") } };
        using var backend = new HttpRolloutBackend(Settings(), handler: fake);
        var e = await Assert.ThrowsAsync<RolloutRequestException>(() => backend.GenerateAsync(Prompts, Options));
        Assert.Contains("HTTP 404", e.Message);
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_within_the_timeout_counts_as_failed()
    {
        var fake = new FakeServers();
        // The bound holds for the answering server too: 2 s, so that a pause of the test process (a collection, a busy
        // machine) cannot make it miss the bound as well.
        var settings = Settings() with { TimeoutSeconds = 2 };
        var silent = new SilentOn(9001, fake);
        using var backend = new HttpRolloutBackend(settings, handler: silent);
        using var result = await backend.GenerateAsync(Prompts, Options);
        Assert.Equal(Prompts.Length * 3, result.Completions.Count);
        Assert.Equal(1, result.Metrics["rollout/servers_up"]);
    }

    /// <summary>Never answers requests to one port (until cancelled); passes the others on.</summary>
    sealed class SilentOn(int port, HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.Port != port) return await base.SendAsync(request, cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }

    [Fact]
    public async Task Cancellation_stops_the_requests_in_flight()
    {
        var silent = new SilentOn(9001, new FakeServers());
        using var backend = new HttpRolloutBackend(Settings(servers: 1), handler: silent);
        using var cancel = new CancellationTokenSource();
        var call = backend.GenerateAsync(Prompts, Options, cancel.Token);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);
    }

    [Fact]
    public async Task Disk_sync_writes_once_and_asks_every_server_to_load_it_with_the_version()
    {
        var fake = new FakeServers();
        var written = new List<int>();
        using var dir = new TempDirectory();
        string Publish(int v)
        {
            written.Add(v);
            string path = Path.Combine(dir.Path, $"step-{v}");
            Directory.CreateDirectory(path);
            return path;
        }
        using var backend = new HttpRolloutBackend(Settings(RolloutApi.Sglang, WeightSyncMode.Disk), Publish, fake);
        var m = await backend.WeightsChangedAsync(4);
        Assert.Equal(new[] { 4 }, written);
        var syncs = fake.Requests.Where(r => r.Path == "/update_weights_from_disk").ToList();
        Assert.Equal(new[] { 9001, 9002 }, syncs.Select(r => r.Port).Order());
        Assert.All(syncs, r => Assert.True(JsonNode.DeepEquals(
            new JsonObject { ["model_path"] = Path.Combine(dir.Path, "step-4"), ["weight_version"] = "4" }, r.Body)));
        Assert.Equal(4, m["rollout/weight_version/1"]);
        Assert.True(m.ContainsKey("time/weight_sync"));
        await backend.WeightsChangedAsync(5);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "step-4")));   // only the newest version is kept
        Assert.True(Directory.Exists(Path.Combine(dir.Path, "step-5")));

        // A server that answers success: false did not take the weights.
        fake.Answer = (port, path, body) => port == 9002 && path == "/update_weights_from_disk"
            ? FakeServers.Json("""{"success": false, "message": "shape mismatch", "num_paused_requests": 0}""") : FakeServers.Ok(path, body);
        var after = await backend.WeightsChangedAsync(6);
        Assert.Equal(1, after["rollout/servers_up"]);
        fake.Answer = (_, path, _) => path == "/update_weights_from_disk" ? new HttpResponseMessage(HttpStatusCode.ServiceUnavailable) : FakeServers.Ok(path, new JsonObject());
        await Assert.ThrowsAsync<RolloutUnavailableException>(() => backend.WeightsChangedAsync(7));
    }

    [Fact]
    public async Task Lora_sync_loads_the_adapter_in_place_and_samples_from_it_by_name()
    {
        var fake = new FakeServers();
        using var backend = new HttpRolloutBackend(Settings(RolloutApi.Vllm, WeightSyncMode.Lora, servers: 1), v => $"/sync/step-{v}", fake);
        await backend.WeightsChangedAsync(2);
        var load = Assert.Single(fake.Requests, r => r.Path == "/v1/load_lora_adapter");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"lora_name": "gspo-policy", "lora_path": "/sync/step-2", "load_inplace": true}"""), load.Body));
        using (await backend.GenerateAsync(Prompts.Take(1).ToList(), Options)) { }
        Assert.All(fake.Requests.Where(r => r.Path == "/v1/completions"), r => Assert.Equal("gspo-policy", r.Body["model"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Over_real_loopback_http_a_refused_connection_fails_over_to_the_listening_server()
    {
        // One port with nothing listening (connection refused), one HttpListener answering as SGLang does.
        using var refusing = LoopbackPorts.Refusing(out int dead);
        var (listener, live) = LoopbackPorts.StartListener();
        using var owned = listener;
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                HttpListenerContext context;
                try { context = await listener.GetContextAsync(); } catch (HttpListenerException) { return; } catch (ObjectDisposedException) { return; }
                using var reader = new StreamReader(context.Request.InputStream);
                var body = JsonNode.Parse(await reader.ReadToEndAsync())!.AsObject();
                using var answer = FakeServers.Ok(context.Request.Url!.AbsolutePath, body);
                var bytes = await answer.Content.ReadAsByteArrayAsync();
                context.Response.ContentType = "application/json";
                await context.Response.OutputStream.WriteAsync(bytes);
                context.Response.Close();
            }
        });
        var settings = new HttpRolloutSettings(new[] { new Uri($"http://127.0.0.1:{dead}"), new Uri($"http://127.0.0.1:{live}") },
            RolloutApi.Sglang, WeightSyncMode.None, 30, 2);
        using var backend = new HttpRolloutBackend(settings);
        using var result = await backend.GenerateAsync(Prompts, Options);
        Assert.Equal(Prompts.Length * 3, result.Completions.Count);
        Assert.Equal(1, result.Metrics["rollout/servers_up"]);
        stop.Cancel();
        listener.Stop();
        await serving;
    }
}
