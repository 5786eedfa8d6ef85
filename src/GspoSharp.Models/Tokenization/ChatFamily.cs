namespace GspoSharp.Models.Tokenization;

/// <summary>The chat layouts GspoSharp renders.</summary>
public enum ChatFamily
{
    /// <summary>
    /// ChatML, as Qwen2, Qwen2.5 and Qwen3 use it: <c>&lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n</c>.
    /// </summary>
    ChatML,

    /// <summary>
    /// Llama-3: <c>&lt;|begin_of_text|&gt;&lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;</c>.
    /// </summary>
    Llama3,
}
