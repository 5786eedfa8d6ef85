using System.Text.Json.Nodes;
using GspoSharp.Serving.Engine;
using GspoSharp.Serving.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace GspoSharp.Serving;

/// <summary>
/// <c>gspo serve</c>: Kestrel with minimal-API endpoints in front of one <see cref="BatchWorker"/>.
/// Prints the bound address once listening; SIGINT / SIGTERM stop it gracefully (no new
/// connections, requests in flight finish within <see cref="ServerOptions.ShutdownGrace"/>, then
/// the rest are cancelled) with exit code 0.
/// </summary>
public static class ServingHost
{
    /// <summary>The response header carrying the weight version that sampled a response.</summary>
    public const string WeightVersionHeader = "X-Weight-Version";

    /// <summary>Serves until a signal; returns the exit code. The worker (and model) is disposed at the end.</summary>
    public static int Run(ServerOptions options, BatchWorker worker)
    {
        var app = Build(options, worker);
        try
        {
            app.Start();
        }
        catch (IOException e)
        {
            throw new IOException($"cannot listen on {options.Host}:{options.Port}: {e.Message}", e);
        }
        Console.WriteLine($"gspo serve: {options.ServedModelName} listening on {string.Join(", ", Addresses(app))}");
        Console.Out.Flush();
        app.WaitForShutdown();
        worker.Dispose();
        Console.Error.WriteLine("gspo serve: stopped.");
        return 0;
    }

    /// <summary>The addresses a started server listens on.</summary>
    public static IReadOnlyCollection<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();

    /// <summary>The web application (not started) in front of <paramref name="worker"/>.</summary>
    public static WebApplication Build(ServerOptions options, BatchWorker worker)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Warnings and errors (a request's unexpected failure among them) go to stderr; stdout carries
        // only the listening line, which scripts read.
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace);
        builder.WebHost.UseKestrel(k =>
        {
            k.AddServerHeader = false;
            if (System.Net.IPAddress.TryParse(options.Host, out var ip)) k.Listen(ip, options.Port);
            else if (options.Host == "localhost") k.ListenLocalhost(options.Port);
            else throw new ArgumentException($"--host {options.Host}: expected an IP address or localhost.");
        });
        var app = builder.Build();
        var generation = new Generation(worker, options);
        if (options.ApiKey is { } key) app.Use(async (context, next) =>
        {
            // As vLLM's --api-key: a Bearer token on every route (here all but /health).
            if (context.Request.Path != "/health" && context.Request.Headers.Authorization.ToString() != $"Bearer {key}")
            {
                await JsonResponse.Write(context, new JsonObject { ["error"] = "Unauthorized" }, StatusCodes.Status401Unauthorized);
                return;
            }
            await next(context);
        });
        AdminEndpoints.Map(app, generation);
        CompletionsEndpoint.Map(app, generation);
        ChatEndpoint.Map(app, generation);
        SglangEndpoints.Map(app, generation);
        return app;
    }

    /// <summary>Runs an endpoint body, turning refusals into their status and JSON error, a client that
    /// left into nothing, and anything else into a 500 that leaves the server running.</summary>
    internal static async Task Guard(HttpContext context, Func<Task> body)
    {
        try
        {
            await body();
        }
        catch (ApiError e)
        {
            if (!context.Response.HasStarted) await ApiError.Write(context, e.Status, e.Message, e.Param);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client went away; its sequences have left the batch
        }
        catch (OperationCanceledException e)
        {
            // the worker stopped (shutdown) before the request could finish
            if (!context.Response.HasStarted) await ApiError.Write(context, StatusCodes.Status503ServiceUnavailable, e.Message);
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException
                                      or Models.ModelFormatException or InvalidDataException)
        {
            if (!context.Response.HasStarted) await ApiError.Write(context, StatusCodes.Status400BadRequest, e.Message);
        }
        catch (Exception e)
        {
            // A fault of the server, not of the request: the client gets the message, the log the whole exception.
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("GspoSharp.Serving")
                .LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path.Value);
            if (!context.Response.HasStarted) await ApiError.Write(context, StatusCodes.Status500InternalServerError, e.Message);
        }
    }
}
