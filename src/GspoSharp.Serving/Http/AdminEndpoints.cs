using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace GspoSharp.Serving.Http;

/// <summary><c>GET /health</c>, <c>GET /v1/models</c>, and vLLM's LoRA endpoints
/// <c>POST /v1/load_lora_adapter</c> and <c>POST /v1/unload_lora_adapter</c>.</summary>
internal static class AdminEndpoints
{
    public static void Map(WebApplication app, Generation g)
    {
        app.MapGet("/health", (HttpContext context) =>
        {
            string version = g.Worker.WeightVersion.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers[ServingHost.WeightVersionHeader] = version;
            return JsonResponse.Write(context, new JsonObject
            {
                ["status"] = "ok", ["weight_version"] = g.Worker.WeightVersion, ["waiting"] = g.Worker.Waiting, ["running"] = g.Worker.Running, ["threads"] = g.Worker.Threads,
            });
        });

        app.MapGet("/v1/models", (HttpContext context) => ServingHost.Guard(context, () =>
        {
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            JsonObject Card(string id, string root, string? parent) => new()
            {
                ["id"] = id, ["object"] = "model", ["created"] = created, ["owned_by"] = "gspo", ["root"] = root, ["parent"] = parent,
                ["max_model_len"] = g.Context, ["permission"] = new JsonArray(),
            };
            var cards = new List<JsonNode> { Card(g.Options.ServedModelName, g.Options.Model, null) };
            foreach (var (name, path) in g.Worker.Adapters()) cards.Add(Card(name, path, g.Options.ServedModelName));
            return JsonResponse.Write(context, new JsonObject { ["object"] = "list", ["data"] = new JsonArray(cards.ToArray()) });
        }));

        app.MapPost("/v1/load_lora_adapter", (HttpContext context) => ServingHost.Guard(context, async () =>
        {
            var f = await RequestFields.Read(context.Request);
            string name = f.String("lora_name") ?? throw ApiError.Field("lora_name", "is required.");
            string path = f.String("lora_path") ?? throw ApiError.Field("lora_path", "is required.");
            bool inPlace = f.Bool("load_inplace") ?? false;
            f.RejectUnknown();
            if (name == g.Options.ServedModelName) throw ApiError.Field("lora_name", $"'{name}' is the base model's name.");
            if (g.Worker.HasAdapter(name) && !inPlace)
                throw ApiError.Field("lora_name", $"The lora adapter '{name}' has already been loaded. If you want to load the adapter in place, set 'load_inplace' to True.");
            await g.Worker.LoadAdapter(name, Path.GetFullPath(path));
            await Text(context, $"Success: LoRA adapter '{name}' added successfully.");
        }));

        app.MapPost("/v1/unload_lora_adapter", (HttpContext context) => ServingHost.Guard(context, async () =>
        {
            var f = await RequestFields.Read(context.Request);
            string name = f.String("lora_name") ?? throw ApiError.Field("lora_name", "is required.");
            f.Ignore("lora_int_id");
            f.RejectUnknown();
            if (!await g.Worker.UnloadAdapter(name))
                throw new ApiError(StatusCodes.Status404NotFound, $"The lora adapter '{name}' cannot be found.", "lora_name");
            await Text(context, $"Success: LoRA adapter '{name}' removed successfully.");
        }));
    }

    static Task Text(HttpContext context, string text)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text);
    }
}
