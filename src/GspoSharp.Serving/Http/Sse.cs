using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>Server-sent events as vLLM streams them: <c>data: JSON</c> blocks, then <c>data: [DONE]</c>.</summary>
internal static class Sse
{
    public static async Task Begin(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(context.RequestAborted);
    }

    public static async Task Data(HttpContext context, JsonNode chunk)
    {
        await context.Response.WriteAsync($"data: {chunk.ToJsonString()}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public static async Task Done(HttpContext context)
    {
        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}

/// <summary>A JSON response body.</summary>
internal static class JsonResponse
{
    public static Task Write(HttpContext context, JsonNode body, int status = StatusCodes.Status200OK)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }
}
