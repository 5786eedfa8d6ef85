using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace GspoSharp.Rollout;

/// <summary>
/// Samples on inference servers over HTTP (docs/rollout-servers.md). Each prompt's n samples go to
/// one server (its prefix cache serves them all); prompts are spread over the servers by least
/// outstanding work; every request is in flight at once. A server that errors, times out or
/// disconnects is set aside (reported once through <see cref="OnWarning"/>) and its prompts are
/// tried on the others; it is used again after it takes a weight sync (or, without sync, answers
/// <c>/health</c>). When no server is left, <see cref="RolloutUnavailableException"/>.
/// </summary>
public sealed class HttpRolloutBackend : IRolloutBackend
{
    readonly HttpRolloutSettings settings;
    readonly Func<int, string>? publish;
    readonly HttpClient http;
    readonly Server[] servers;
    readonly object gate = new();
    string? lastPublished;

    sealed class Server(Uri uri, int index)
    {
        public Uri Uri { get; } = uri;
        public int Index { get; } = index;
        public bool Healthy { get; set; } = true;
        public long Outstanding { get; set; }
        public long Assigned { get; set; }   // all work ever given: breaks ties between equally idle servers
        public string? WeightVersion { get; set; }
    }

    /// <summary>A backend on <paramref name="settings"/>' servers. <paramref name="publish"/> writes the current
    /// weights for version v (a checkpoint or an adapter directory, per weight_sync) and returns its path; it is
    /// called on the caller's thread (the one that owns the model). <paramref name="handler"/>: for tests.</summary>
    public HttpRolloutBackend(HttpRolloutSettings settings, Func<int, string>? publish = null, HttpMessageHandler? handler = null)
    {
        if (settings.Servers.Count == 0) throw new ArgumentException("rollout_servers: no servers given.");
        if (settings.WeightSync != WeightSyncMode.None && publish is null)
            throw new ArgumentException("weight_sync needs a way to write the weights.", nameof(publish));
        this.settings = settings;
        this.publish = publish;
        http = handler is null ? new HttpClient() : new HttpClient(handler);
        http.Timeout = Timeout.InfiniteTimeSpan;   // each request has its own, so a slow server fails alone
        servers = settings.Servers.Select((uri, i) => new Server(uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/"), i)).ToArray();
    }

    /// <summary>Told once when a server fails (address and reason) and when it is back.</summary>
    public Action<string>? OnWarning { get; init; }

    /// <inheritdoc />
    public string Description => $"{servers.Length} server(s) ({(settings.Api == RolloutApi.Vllm ? "vllm" : "sglang")} api)";

    string? Model => settings.WeightSync == WeightSyncMode.Lora ? HttpRolloutSettings.AdapterName : null;

    /// <inheritdoc />
    public async Task<RolloutResult> GenerateAsync(IReadOnlyList<long[]> prompts, SamplingOptions options, CancellationToken cancellation = default)
    {
        options.Validate();
        if (prompts.Count == 0) throw new ArgumentException("no prompts to generate for.");
        if (options.StopStrings.Count > 0) throw new ArgumentException("stop strings are not sent to rollout servers; use end-of-sequence token ids.");
        if (options.RecordRouting) throw new ArgumentException("rollout servers do not return MoE routing records.");
        var clock = Stopwatch.StartNew();
        var failures = new int[1];
        var groups = await Task.WhenAll(prompts.Select((prompt, i) => Group(prompt, options.FirstPromptIndex + i, options, failures, cancellation)));
        var completions = new List<Completion>();
        for (int i = 0; i < groups.Length; i++)
            for (int j = 0; j < groups[i].Length; j++)
            {
                var s = groups[i][j];
                completions.Add(new Completion(i, j, prompts[i], s.TokenIds, "", s.FinishReason, s.LogProbs));
            }
        var metrics = new Dictionary<string, double>
        {
            ["rollout/server_failures"] = failures[0],
            ["rollout/servers_up"] = servers.Count(s => s.Healthy),
        };
        foreach (var server in servers)
            if (server.WeightVersion is { } v && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var version))
                metrics[$"rollout/weight_version/{server.Index}"] = version;
        return new RolloutResult(completions, 0, clock.Elapsed.TotalSeconds) { Metrics = metrics };
    }

    /// <summary>The n samples of one prompt, all on one server; on its failure, on the next least busy one.</summary>
    async Task<ServerSample[]> Group(long[] prompt, int promptIndex, SamplingOptions options, int[] failures, CancellationToken cancellation)
    {
        long work = (long)options.SamplesPerPrompt * (prompt.Length + options.MaxNewTokens);
        var tried = new HashSet<Server>();
        string? lastReason = null;
        for (int attempt = 0; attempt <= settings.Retries; attempt++)
        {
            Server? server;
            lock (gate)
            {
                server = servers.Where(s => s.Healthy && !tried.Contains(s)).MinBy(s => (s.Outstanding, s.Assigned, s.Index));
                if (server is not null)
                {
                    server.Outstanding += work;
                    server.Assigned += work;
                }
            }
            if (server is null) break;
            tried.Add(server);
            try
            {
                using var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellation);   // the group's other requests, once one fails
                var samples = Enumerable.Range(0, options.SamplesPerPrompt)
                    .Select(j => Sample(server, prompt, RolloutProtocol.Seed(options.Seed, promptIndex, j), options, abandon.Token)).ToList();
                // The first failure decides: the group's other requests are abandoned at once, not left to run into the timeout.
                for (var pending = samples.ToList(); pending.Count > 0;)
                {
                    var done = await Task.WhenAny(pending);
                    pending.Remove(done);
                    if (done.IsCompletedSuccessfully) continue;
                    abandon.Cancel();
                    try
                    {
                        await Task.WhenAll(pending);
                    }
                    catch (Exception) when (pending.All(t => t.IsCompleted))
                    {
                        // their outcome no longer matters: they were abandoned
                    }
                    await done;   // rethrows its own exception: ServerFault, a refusal, or the caller's cancellation
                }
                return samples.Select(t => t.Result).ToArray();
            }
            catch (ServerFault fault)
            {
                Interlocked.Increment(ref failures[0]);
                lastReason = $"{server.Uri}: {fault.Message}";
                SetAside(server, fault.Message);
            }
            finally
            {
                lock (gate) server.Outstanding -= work;
            }
        }
        throw new RolloutUnavailableException(
            $"no rollout server could sample prompt {promptIndex} ({tried.Count} tried, {servers.Count(s => s.Healthy)} of {servers.Length} up); last failure: {lastReason ?? "none left"}.");
    }

    async Task<ServerSample> Sample(Server server, long[] prompt, long seed, SamplingOptions options, CancellationToken cancellation)
    {
        var body = RolloutProtocol.Request(settings.Api, prompt, options, seed, Model);
        string text = await Post(server, RolloutProtocol.Path(settings.Api), body, cancellation);
        try
        {
            var sample = RolloutProtocol.Parse(settings.Api, text);
            if (sample.WeightVersion is not null) server.WeightVersion = sample.WeightVersion;
            return sample;
        }
        catch (InvalidDataException e)
        {
            throw new ServerFault($"unexpected response to {RolloutProtocol.Path(settings.Api)}: {e.Message}");
        }
    }

    /// <summary>POSTs JSON; returns the body of a 2xx answer. Connection errors, timeouts, 5xx, 408 and 429 are the
    /// server's faults (<see cref="ServerFault"/>); any other 4xx is a refused request (<see cref="RolloutRequestException"/>).</summary>
    async Task<string> Post(Server server, string path, JsonObject body, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        try
        {
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await http.PostAsync(new Uri(server.Uri, path), content, timeout.Token);
            string text = await response.Content.ReadAsStringAsync(timeout.Token);
            if (response.IsSuccessStatusCode) return text;
            var code = (int)response.StatusCode;
            string answer = text.Length > 300 ? text[..300] + "…" : text;
            if (code is >= 500 or 408 or 429) throw new ServerFault($"HTTP {code} from {path}: {answer}");
            throw new RolloutRequestException($"{server.Uri}{path} refused the request (HTTP {code}): {answer}");
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new ServerFault($"no answer from {path} within rollout_timeout {settings.TimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
        catch (HttpRequestException e)
        {
            throw new ServerFault($"{path}: {e.Message}");
        }
    }

    void SetAside(Server server, string reason)
    {
        bool report;
        lock (gate)
        {
            report = server.Healthy;
            server.Healthy = false;
        }
        if (report) OnWarning?.Invoke($"rollout server {server.Uri} failed ({reason}); its prompts go to the other servers until it takes a weight sync.");
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, double>> WeightsChangedAsync(int version, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        // Written here, before the first await: on the caller's thread, which owns the model.
        string? path = settings.WeightSync == WeightSyncMode.None ? null : publish!(version);
        double written = clock.Elapsed.TotalSeconds;
        var results = await Task.WhenAll(servers.Select(s => Sync(s, path, version, cancellation)));
        if (!results.Any(ok => ok))
            throw new RolloutUnavailableException($"no rollout server took the weights of step {version}; every one of {string.Join(", ", servers.Select(s => s.Uri))} failed.");
        if (path is not null)
        {
            if (lastPublished is not null && lastPublished != path && Directory.Exists(lastPublished)) Directory.Delete(lastPublished, recursive: true);
            lastPublished = path;
        }
        var metrics = new Dictionary<string, double>
        {
            ["time/weight_sync"] = clock.Elapsed.TotalSeconds,
            ["rollout/weight_write_seconds"] = written,
            ["rollout/servers_up"] = servers.Count(s => s.Healthy),
        };
        foreach (var server in servers.Where(s => s.Healthy))
            if (double.TryParse(server.WeightVersion, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) metrics[$"rollout/weight_version/{server.Index}"] = v;
        return metrics;
    }

    /// <summary>Loads the weights on one server (or, without sync, checks a set-aside one is back); false on its failure.</summary>
    async Task<bool> Sync(Server server, string? path, int version, CancellationToken cancellation)
    {
        bool wasDown = !server.Healthy;
        try
        {
            if (settings.WeightSync == WeightSyncMode.None)
            {
                if (wasDown) await Get(server, "health", cancellation);
            }
            else if (settings.WeightSync == WeightSyncMode.Disk)
            {
                string text = await Post(server, "update_weights_from_disk",
                    new JsonObject { ["model_path"] = path, ["weight_version"] = version.ToString(CultureInfo.InvariantCulture) }, cancellation);
                if (JsonNode.Parse(text) is JsonObject answer && answer["success"] is JsonValue ok && ok.TryGetValue(out bool success) && !success)
                    throw new ServerFault($"update_weights_from_disk: {answer["message"]}");
                server.WeightVersion = version.ToString(CultureInfo.InvariantCulture);
            }
            else
            {
                await Post(server, "v1/load_lora_adapter",
                    new JsonObject { ["lora_name"] = HttpRolloutSettings.AdapterName, ["lora_path"] = path, ["load_inplace"] = true }, cancellation);
                server.WeightVersion = version.ToString(CultureInfo.InvariantCulture);
            }
        }
        catch (ServerFault fault)
        {
            SetAside(server, fault.Message);
            return false;
        }
        catch (System.Text.Json.JsonException)
        {
            SetAside(server, "update_weights_from_disk answered with something other than JSON");
            return false;
        }
        lock (gate) server.Healthy = true;
        if (wasDown) OnWarning?.Invoke($"rollout server {server.Uri} is back (weights of step {version}).");
        return true;
    }

    async Task Get(Server server, string path, CancellationToken cancellation)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.TimeoutSeconds));
        try
        {
            using var response = await http.GetAsync(new Uri(server.Uri, path), timeout.Token);
            if (!response.IsSuccessStatusCode) throw new ServerFault($"HTTP {(int)response.StatusCode} from {path}");
        }
        catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
        {
            throw new ServerFault($"no answer from {path}");
        }
        catch (HttpRequestException e)
        {
            throw new ServerFault($"{path}: {e.Message}");
        }
    }

    /// <inheritdoc />
    public void Dispose() => http.Dispose();

    /// <summary>A failure of the server (not of the request): its work is retried elsewhere.</summary>
    sealed class ServerFault(string message) : Exception(message);
}
