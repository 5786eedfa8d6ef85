using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models.Architecture;
using GspoSharp.Models.Json;

namespace GspoSharp.Models;

/// <summary>
/// The fields of a Hugging Face <c>generation_config.json</c> that sampling uses: end-of-sequence
/// and padding ids, and the model authors' recommended sampling settings.
/// </summary>
public sealed record GenerationConfig
{
    /// <summary><c>eos_token_id</c>: one id or several (e.g. Qwen's &lt;|im_end|&gt; and &lt;|endoftext|&gt;).</summary>
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    /// <summary><c>pad_token_id</c>.</summary>
    public int? PadTokenId { get; init; }
    /// <summary><c>bos_token_id</c>.</summary>
    public int? BosTokenId { get; init; }
    /// <summary><c>temperature</c>.</summary>
    public double? Temperature { get; init; }
    /// <summary><c>top_p</c>.</summary>
    public double? TopP { get; init; }
    /// <summary><c>top_k</c>.</summary>
    public int? TopK { get; init; }

    /// <summary>Reads <paramref name="path"/>; errors name the file and field.</summary>
    public static GenerationConfig Load(string path)
    {
        JsonObject json;
        try
        {
            json = StrictJson.Node(File.ReadAllBytes(path)) as JsonObject
                   ?? throw new ModelFormatException($"{path}: expected a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: invalid JSON at line {e.LineNumber + 1}: {e.Message}", e);
        }
        var f = new ConfigFields(json, path);
        return new GenerationConfig
        {
            EosTokenIds = f.Ints("eos_token_id") ?? Array.Empty<int>(),
            PadTokenId = f.Int("pad_token_id"),
            BosTokenId = f.Int("bos_token_id"),
            Temperature = f.Double("temperature"),
            TopP = f.Double("top_p"),
            TopK = f.Int("top_k"),
        };
    }
}
