using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Architecture;
using GspoSharp.Rollout;
using GspoSharp.Serving;
using GspoSharp.Serving.Engine;
using static TorchSharp.torch;

namespace GspoSharp.Bench;

/// <summary>
/// <c>gspo serve</c> under load, side by side in one run: the same 64 streamed completion requests
/// (32-token prompts, 64 new tokens each, no EOS) sent by 1, 8, 32 and 64 concurrent HTTP clients to
/// a server with continuous batching (--max-batch 64), the same requests served one at a time
/// (--max-batch 1), and the in-process rollout engine sampling all 64 as one batch. Server and engine
/// sample on the thread count the tool chooses (<see cref="IntraOpThreads.For"/>: one thread for
/// the tiny model); for such a model the server at 64 clients also runs on the process's count. Throughput is
/// generated tokens per second of wall time; latency is time to first token (TTFT) and to the last.
/// The server runs in this process (Kestrel on 127.0.0.1, a free port), the clients are HttpClients.
/// </summary>
internal static class ServeBench
{
    const int Requests = 64, PromptLength = 32, NewTokens = 64;

    public static void Run(bool quick)
    {
        foreach (var (name, size) in new[] { ("tiny", ModelSize.Tiny), ("50M-class", ModelSize.Bench50M) })
        {
            string dir = Path.Combine(Path.GetTempPath(), $"gspo-serve-bench-{Guid.NewGuid():N}");
            try
            {
                TinyModels.Create(dir, ModelType.Qwen3, size, seed: 1);
                var prompts = Prompts();
                long parameters;
                double engine;
                int? samplingThreads;
                using (var served = ServedModel.Load(dir, ScalarType.Float32))
                {
                    parameters = served.Model.Config.ParameterCount();
                    samplingThreads = IntraOpThreads.For(served.Model.Config, null);
                    engine = Engine(served.Model, prompts);
                }
                Console.WriteLine($"serve, {name} qwen3 ({parameters / 1e6:F1} M params): {Requests} requests × {NewTokens} new tokens, prompts of {PromptLength}");
                Console.WriteLine($"  in-process engine, one batch of {Requests}: {engine,8:F0} tokens/s");
                double? oneAtATime = null;
                foreach (int clients in quick ? new[] { 1, 64 } : new[] { 1, 8, 32, 64 })
                {
                    var continuous = Serve(dir, prompts, clients, maxBatch: Requests);
                    Console.WriteLine($"  continuous  clients={clients,2}: {continuous}");
                    if (clients == Requests)
                    {
                        var single = Serve(dir, prompts, clients, maxBatch: 1);
                        oneAtATime = single.TokensPerSecond;
                        Console.WriteLine($"  one-at-a-time clients={clients,2}: {single}");
                        Console.WriteLine($"  at {clients} clients: continuous / one-at-a-time {continuous.TokensPerSecond / oneAtATime:F1}×, " +
                                          $"engine / continuous {engine / continuous.TokensPerSecond:F2}×");
                        // The server's thread rule against the process's count, for a model the rule puts on one thread.
                        if (samplingThreads is { } one && get_num_threads() is var all && all > one)
                        {
                            var allThreads = Serve(dir, prompts, clients, maxBatch: Requests, threads: all);
                            Console.WriteLine($"  continuous  clients={clients,2}, {all} threads: {allThreads}");
                            Console.WriteLine($"  at {clients} clients: {one} thread (the default) / {all} threads {continuous.TokensPerSecond / allThreads.TokensPerSecond:F2}×");
                        }
                    }
                }
            }
            finally
            {
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            }
        }
    }

    static long[][] Prompts()
    {
        var random = new Random(7);
        return Enumerable.Range(0, Requests).Select(_ => Enumerable.Range(0, PromptLength).Select(_ => (long)random.Next(3, 500)).ToArray()).ToArray();
    }

    /// <summary>The in-process engine's throughput, on the thread count training samples with (<see cref="IntraOpThreads.For"/>).</summary>
    static double Engine(CausalLm model, long[][] prompts)
    {
        using var threads = IntraOpThreads.UseFor(model.Config, null);
        new RolloutEngine(model).Generate(prompts.Take(4).ToList(), new SamplingOptions { MaxNewTokens = 8, Seed = 1 }).Dispose();   // warm-up
        var clock = Stopwatch.StartNew();
        using var result = new RolloutEngine(model).Generate(prompts, new SamplingOptions { MaxNewTokens = NewTokens, Seed = 1 });
        return result.GeneratedTokens / clock.Elapsed.TotalSeconds;
    }

    internal readonly record struct Figures(double TokensPerSecond, double TtftP50, double TtftP99, double LatencyP50, double LatencyP99)
    {
        public override string ToString() =>
            $"{TokensPerSecond,8:F0} tokens/s | TTFT p50 {TtftP50 * 1000,7:F0} ms p99 {TtftP99 * 1000,7:F0} ms | request p50 {LatencyP50 * 1000,7:F0} ms p99 {LatencyP99 * 1000,7:F0} ms";
    }

    /// <summary>Starts a server, sends the requests from <paramref name="clients"/> concurrent clients, stops it.</summary>
    static Figures Serve(string dir, long[][] prompts, int clients, int maxBatch, int? threads = null)
    {
        var options = new ServerOptions { Model = dir, ServedModelName = "bench", Port = 0, MaxBatch = maxBatch, MaxQueue = Requests, Threads = threads, ShutdownGrace = TimeSpan.FromSeconds(5) };
        var worker = new BatchWorker(ServedModel.Load(dir, ScalarType.Float32), ScalarType.Float32, maxBatch, Requests, threads: options.Threads);
        var app = ServingHost.Build(options, worker);
        app.StartAsync().GetAwaiter().GetResult();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri(ServingHost.Addresses(app).First() + "/"), Timeout = TimeSpan.FromMinutes(30) };
            Send(http, prompts.Take(2).ToArray(), 2, tokens: 4).GetAwaiter().GetResult();   // warm-up: JIT, first allocations
            var clock = Stopwatch.StartNew();
            var (ttft, latency) = Send(http, prompts, clients, NewTokens).GetAwaiter().GetResult();
            double seconds = clock.Elapsed.TotalSeconds;
            return new Figures(Requests * NewTokens / seconds, Percentile(ttft, 0.5), Percentile(ttft, 0.99), Percentile(latency, 0.5), Percentile(latency, 0.99));
        }
        finally
        {
            app.StopAsync().GetAwaiter().GetResult();
            worker.Dispose();
        }
    }

    static async Task<(List<double> Ttft, List<double> Latency)> Send(HttpClient http, long[][] prompts, int clients, int tokens)
    {
        var ttft = new List<double>();
        var latency = new List<double>();
        int next = -1;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            for (int i = Interlocked.Increment(ref next); i < prompts.Length; i = Interlocked.Increment(ref next))
            {
                var body = new JsonObject
                {
                    ["prompt"] = new JsonArray(prompts[i].Select(t => (JsonNode)t).ToArray()), ["max_tokens"] = tokens, ["ignore_eos"] = true,
                    ["seed"] = i, ["stream"] = true,
                };
                var clock = Stopwatch.StartNew();
                using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                response.EnsureSuccessStatusCode();
                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
                double? first = null;
                while (await reader.ReadLineAsync() is { } line)
                {
                    if (line.StartsWith("data: {", StringComparison.Ordinal)) first ??= clock.Elapsed.TotalSeconds;
                    if (line == "data: [DONE]") break;
                }
                lock (ttft)
                {
                    ttft.Add(first ?? double.NaN);
                    latency.Add(clock.Elapsed.TotalSeconds);
                }
            }
        })));
        return (ttft, latency);
    }

    static double Percentile(List<double> values, double q)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    }
}
