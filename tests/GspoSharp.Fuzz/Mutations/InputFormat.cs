namespace GspoSharp.Fuzz.Mutations;

/// <summary>How structure-aware mutations see an input.</summary>
public enum InputFormat
{
    /// <summary>One JSON document.</summary>
    Json,
    /// <summary>JSON Lines: one JSON document per line.</summary>
    JsonLines,
    /// <summary>A YAML document.</summary>
    Yaml,
    /// <summary>A safetensors file: 8-byte header length, JSON header, data.</summary>
    Safetensors,
}
