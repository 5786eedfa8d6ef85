using System.Text.Json;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// What a model directory's tokenizer_config.json (and chat_template.jinja, where newer
/// checkpoints keep the template) say beyond tokenizer.json: the names of the end-of-sequence,
/// padding and beginning-of-sequence tokens, and the chat template.
/// </summary>
/// <param name="EosToken">"eos_token", or null.</param>
/// <param name="PadToken">"pad_token", or null.</param>
/// <param name="BosToken">"bos_token", or null.</param>
/// <param name="ChatTemplate">The Jinja chat template text, or null.</param>
/// <param name="ChatTemplateSource">The file (and field) the template came from, for messages.</param>
internal sealed record TokenizerConfig(string? EosToken, string? PadToken, string? BosToken, string? ChatTemplate, string ChatTemplateSource)
{
    public const string FileName = "tokenizer_config.json";
    public const string TemplateFileName = "chat_template.jinja";

    /// <summary>Reads the files of <paramref name="directory"/>; both are optional.</summary>
    public static TokenizerConfig Read(string directory)
    {
        string path = Path.Combine(directory, FileName);
        string? eos = null, pad = null, bos = null, template = null;
        string source = $"{path}: chat_template";
        if (File.Exists(path))
        {
            using var document = JsonFile.Parse(path);
            var file = new JsonFile(path);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw file.Error("(root)", "expected a JSON object.");
            eos = TokenName(file, root, "eos_token");
            pad = TokenName(file, root, "pad_token");
            bos = TokenName(file, root, "bos_token");
            template = Template(file, root);
        }
        string jinja = Path.Combine(directory, TemplateFileName);
        if (File.Exists(jinja))
        {
            // transformers prefers the separate file when both exist.
            template = File.ReadAllText(jinja);
            source = jinja;
        }
        return new TokenizerConfig(eos, pad, bos, template, source);
    }

    /// <summary>A special-token field: a string, null, or an AddedToken object with a "content".</summary>
    static string? TokenName(JsonFile file, JsonElement root, string field)
    {
        if (!root.TryGetProperty(field, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object => file.String(value, "content", field) ?? throw file.Error($"{field}.content", "is missing."),
            _ => throw file.Error(field, $"expected a string, null or an object with a \"content\", found {value.ValueKind}."),
        };
    }

    /// <summary>"chat_template": one template, or a list of named ones of which "default" is used.</summary>
    static string? Template(JsonFile file, JsonElement root)
    {
        if (!root.TryGetProperty("chat_template", out var value)) return null;
        switch (value.ValueKind)
        {
            case JsonValueKind.Null:
                return null;
            case JsonValueKind.String:
                return value.GetString();
            case JsonValueKind.Array:
                foreach (var named in value.EnumerateArray())
                    if (named.ValueKind == JsonValueKind.Object && file.String(named, "name", "chat_template[]") == "default")
                        return file.String(named, "template", "chat_template[]");
                return null;
            default:
                throw file.Error("chat_template", $"expected a string or a list of named templates, found {value.ValueKind}.");
        }
    }
}
