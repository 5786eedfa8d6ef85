using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary>A request the server refuses: an HTTP status and a message naming the field at fault.</summary>
public sealed class ApiError(int status, string message, string? param = null) : Exception(message)
{
    /// <summary>HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>The request field at fault, if one is.</summary>
    public string? Param { get; } = param;

    /// <summary>A 400 naming <paramref name="field"/>.</summary>
    public static ApiError Field(string field, string problem) => new(StatusCodes.Status400BadRequest, $"{field}: {problem}", field);

    /// <summary>The error body of vLLM's OpenAI server: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
    public static JsonObject Body(int status, string message, string? param = null) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = status switch
            {
                400 => "BadRequestError",
                401 => "UnauthorizedError",
                404 => "NotFoundError",
                429 => "RateLimitError",
                501 => "NotImplementedError",
                503 => "ServiceUnavailableError",
                _ => "InternalServerError",
            },
            ["param"] = param,
            ["code"] = status,
        },
    };

    /// <summary>Writes the error as JSON with its status.</summary>
    public static Task Write(HttpContext context, int status, string message, string? param = null)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(Body(status, message, param).ToJsonString());
    }
}
