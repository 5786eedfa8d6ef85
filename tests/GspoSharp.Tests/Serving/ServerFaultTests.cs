using System.Text.Json.Nodes;
using GspoSharp.Serving;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GspoSharp.Tests.Serving;

/// <summary>A fault of the server (not of the request): 500 with vLLM's error shape, and the whole exception in the log.</summary>
public class ServerFaultTests
{
    sealed record Entry(LogLevel Level, string Category, string Message, Exception? Exception);

    /// <summary>Keeps every log entry.</summary>
    sealed class Recorder : ILoggerProvider
    {
        public List<Entry> Entries { get; } = new();
        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);
        public void Dispose() { }

        sealed class Logger(Recorder recorder, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
            public bool IsEnabled(LogLevel logLevel) => true;
            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                recorder.Entries.Add(new Entry(logLevel, category, formatter(state, exception), exception));
        }
    }

    [Fact]
    public async Task An_unexpected_exception_answers_500_and_is_logged_whole()
    {
        var recorder = new Recorder();
        var services = new ServiceCollection().AddLogging(b => b.AddProvider(recorder)).BuildServiceProvider();
        var context = new DefaultHttpContext { RequestServices = services };
        context.Request.Method = "POST";
        context.Request.Path = "/generate";
        var body = new MemoryStream();
        context.Response.Body = body;
        var fault = new InvalidOperationException("the worker broke");

        await ServingHost.Guard(context, () => throw fault);

        Assert.Equal(500, context.Response.StatusCode);
        var error = JsonNode.Parse(body.ToArray())!["error"]!;
        Assert.Equal("the worker broke", error["message"]!.GetValue<string>());
        var entry = Assert.Single(recorder.Entries);
        Assert.Equal(LogLevel.Error, entry.Level);
        Assert.Equal("GspoSharp.Serving", entry.Category);
        Assert.Equal("POST /generate failed", entry.Message);
        Assert.Same(fault, entry.Exception);
    }

    [Fact]
    public async Task A_refused_request_is_not_logged_as_a_fault()
    {
        var recorder = new Recorder();
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging(b => b.AddProvider(recorder)).BuildServiceProvider() };
        context.Response.Body = new MemoryStream();

        await ServingHost.Guard(context, () => throw new ArgumentException("bad"));

        Assert.Equal(400, context.Response.StatusCode);
        Assert.Empty(recorder.Entries);
    }
}
