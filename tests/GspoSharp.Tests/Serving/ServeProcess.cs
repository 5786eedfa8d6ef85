using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace GspoSharp.Tests.Serving;

/// <summary>A real <c>gspo serve</c> child process on 127.0.0.1 and a free port (<c>--port 0</c>; the
/// address is read from its first line), with an HTTP client. Dispose kills it if it still runs.</summary>
public sealed class ServeProcess : IDisposable
{
    /// <summary>Bound on start-up and on any one request: a hang fails the test instead of blocking the suite.</summary>
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    readonly StringBuilder stderr = new();
    Task stderrRead = Task.CompletedTask;

    ServeProcess(Process process, Uri url)
    {
        Process = process;
        Url = url;
        Http = new HttpClient { BaseAddress = url, Timeout = Limit };
    }

    public Process Process { get; }
    public Uri Url { get; }
    public HttpClient Http { get; }
    /// <summary>What the server wrote to stderr; once it has exited, all of it (the stream is read to its end
    /// asynchronously, and the exit can be seen before the last text arrives).</summary>
    public string Stderr
    {
        get
        {
            if (Process.HasExited) stderrRead.Wait(Limit);
            lock (stderr) return stderr.ToString();
        }
    }

    public static ServeProcess Start(string model, IReadOnlyDictionary<string, string>? environment = null, params string[] options)
    {
        var process = GspoProcess.Start(Environment.CurrentDirectory, environment ?? new Dictionary<string, string>(),
            new[] { "serve", "--model", model, "--port", "0" }.Concat(options).ToArray());
        var errors = new StringBuilder();
        try
        {
            var line = process.StandardOutput.ReadLineAsync();
            var err = process.StandardError.ReadToEndAsync();
            if (!line.Wait(Limit) || line.Result is not { } text || !text.Contains("listening on http://"))
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                process.WaitForExit();
                throw new InvalidOperationException($"gspo serve did not start: {line.Result}\n{err.Result}");
            }
            var server = new ServeProcess(process, new Uri(text[text.IndexOf("http://", StringComparison.Ordinal)..].Split(',')[0].Trim() + "/"));
            server.stderrRead = err.ContinueWith(t => { lock (server.stderr) server.stderr.Append(t.Result); }, TaskScheduler.Default);
            _ = process.StandardOutput.ReadToEndAsync();
            return server;
        }
        catch
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            throw;
        }
    }

    public async Task<(HttpStatusCode Status, JsonNode? Body, HttpResponseMessage Response)> Post(string path, JsonNode body, string? apiKey = null)
    {
        using var message = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        if (apiKey is not null) message.Headers.Authorization = new("Bearer", apiKey);
        var response = await Http.SendAsync(message);
        string text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try { json = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
        return (response.StatusCode, json, response);
    }

    public async Task<JsonNode> Health() => JsonNode.Parse(await Http.GetStringAsync("health"))!;

    /// <summary>Polls /health until <paramref name="done"/> holds (a state the server must reach; bounded by <see cref="Limit"/>).</summary>
    public async Task Until(Func<JsonNode, bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done(await Health()))
        {
            if (clock.Elapsed > Limit) throw new TimeoutException("the server never reached the expected state.");
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        Http.Dispose();
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.WaitForExit();
        Process.Dispose();
    }
}
