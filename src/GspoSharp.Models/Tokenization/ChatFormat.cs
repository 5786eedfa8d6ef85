using System.Text;
using System.Text.RegularExpressions;

namespace GspoSharp.Models.Tokenization;

/// <summary>
/// Renders a conversation as a model's chat template would, for the templates GspoSharp
/// recognises: ChatML (plain, Qwen2/2.5 with a default system prompt, Qwen3 with think blocks)
/// and Llama-3. Jinja is not interpreted; the template text only selects the family and its
/// variant, whose rendering is written out here and tested against the real templates.
/// </summary>
public sealed partial class ChatFormat
{
    const string ImStart = "<|im_start|>", ImEnd = "<|im_end|>";
    const string HeaderStart = "<|start_header_id|>", HeaderEnd = "<|end_header_id|>", EndOfTurn = "<|eot_id|>";

    ChatFormat(ChatFamily family) => Family = family;

    /// <summary>The layout.</summary>
    public ChatFamily Family { get; }

    /// <summary>
    /// Qwen3: the last assistant turn after the last user query is written with a
    /// <c>&lt;think&gt;…&lt;/think&gt;</c> block (empty when the message has no reasoning), and
    /// <c>enableThinking: false</c> appends an empty think block to the generation prompt.
    /// </summary>
    public bool HasThinkBlocks { get; private init; }

    /// <summary>
    /// Qwen's templates: "tool" messages are wrapped in &lt;tool_response&gt; inside a user turn, and
    /// roles other than system, user, assistant and tool are not rendered (so they are refused).
    /// </summary>
    public bool HasToolResponses { get; private init; }

    /// <summary>The system message the template writes when the conversation has none (Qwen2, Qwen2.5), or null.</summary>
    public string? DefaultSystemPrompt { get; private init; }

    /// <summary>Llama-3: the text before the first message (the bos_token of tokenizer_config.json, or empty).</summary>
    public string BeginOfText { get; private init; } = "";

    /// <summary>
    /// The template writes the assistant header whether or not a generation prompt is asked for
    /// (the Llama-3 template shipped with some checkpoints has no add_generation_prompt test).
    /// </summary>
    public bool AlwaysAddsGenerationPrompt { get; private init; }

    /// <summary>The token that ends each turn: &lt;|im_end|&gt; or &lt;|eot_id|&gt;.</summary>
    public string EndOfTurnToken => Family == ChatFamily.ChatML ? ImEnd : EndOfTurn;

    /// <summary>
    /// The conversation as text, ready to be encoded (special tokens are written as text and
    /// recognised by <see cref="HfTokenizer.Encode"/>).
    /// </summary>
    /// <param name="messages">The conversation, at least one message.</param>
    /// <param name="addGenerationPrompt">Append the header of an assistant turn for the model to complete.</param>
    /// <param name="enableThinking">
    /// Qwen3's enable_thinking. The default, true, renders exactly what the template renders when
    /// the variable is not passed (as transformers and TRL do by default); false appends an
    /// empty think block to the generation prompt, as Qwen3's non-thinking mode does. Other
    /// templates ignore it.
    /// </param>
    /// <exception cref="ArgumentException">No messages, or a role the template would drop.</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = false, bool enableThinking = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Count == 0) throw new ArgumentException("a conversation needs at least one message.", nameof(messages));
        return Family == ChatFamily.ChatML
            ? RenderChatML(messages, addGenerationPrompt, enableThinking)
            : RenderLlama3(messages, addGenerationPrompt);
    }

    string RenderChatML(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, bool enableThinking)
    {
        var text = new StringBuilder();
        if (HasToolResponses)
            foreach (var m in messages)
                if (m.Role is not ("system" or "user" or "assistant" or "tool"))
                    throw new ArgumentException($"role '{m.Role}' is not rendered by this chat template (system, user, assistant, tool).", nameof(messages));
        int first = 0;
        if (messages[0].Role == "system")
        {
            Turn(text, "system", messages[0].Content);
            first = 1;
        }
        else if (DefaultSystemPrompt is not null)
            Turn(text, "system", DefaultSystemPrompt);

        int lastQuery = LastUserQuery(messages);
        for (int i = first; i < messages.Count; i++)
        {
            var (role, content) = (messages[i].Role, messages[i].Content);
            if (role == "assistant" && HasThinkBlocks)
                text.Append(QwenAssistantTurn(content, writeThinkBlock: i > lastQuery, isLast: i == messages.Count - 1));
            else if (role == "tool" && HasToolResponses)
            {
                // Consecutive tool messages share one user turn.
                if (i == 0 || messages[i - 1].Role != "tool") text.Append(ImStart).Append("user");
                text.Append("\n<tool_response>\n").Append(content).Append("\n</tool_response>");
                if (i == messages.Count - 1 || messages[i + 1].Role != "tool") text.Append(ImEnd).Append('\n');
            }
            else Turn(text, role, content);
        }
        if (addGenerationPrompt)
        {
            text.Append(ImStart).Append("assistant\n");
            if (HasThinkBlocks && !enableThinking) text.Append("<think>\n\n</think>\n\n");
        }
        return text.ToString();
    }

    static void Turn(StringBuilder text, string role, string content) =>
        text.Append(ImStart).Append(role).Append('\n').Append(content).Append(ImEnd).Append('\n');

    /// <summary>
    /// Qwen3's last query: the index of the last user message that is not a wrapped tool
    /// response, or the last index when there is none.
    /// </summary>
    static int LastUserQuery(IReadOnlyList<ChatMessage> messages)
    {
        for (int i = messages.Count - 1; i >= 0; i--)
            if (messages[i].Role == "user" &&
                !(messages[i].Content.StartsWith("<tool_response>", StringComparison.Ordinal) &&
                  messages[i].Content.EndsWith("</tool_response>", StringComparison.Ordinal)))
                return i;
        return messages.Count - 1;
    }

    /// <summary>
    /// An assistant turn of Qwen3's template: reasoning written inline as
    /// "&lt;think&gt;…&lt;/think&gt;answer" is taken apart, and after the last user query the final
    /// turn (or any turn with reasoning) is written with its think block.
    /// </summary>
    static string QwenAssistantTurn(string content, bool writeThinkBlock, bool isLast)
    {
        string reasoning = "";
        int close = content.IndexOf("</think>", StringComparison.Ordinal);
        if (close >= 0)
        {
            // Python: content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n')
            string before = content[..close].TrimEnd('\n');
            int open = before.LastIndexOf("<think>", StringComparison.Ordinal);
            reasoning = (open >= 0 ? before[(open + "<think>".Length)..] : before).TrimStart('\n');
            // Python: content.split('</think>')[-1].lstrip('\n')
            content = content[(content.LastIndexOf("</think>", StringComparison.Ordinal) + "</think>".Length)..].TrimStart('\n');
        }
        var turn = new StringBuilder(ImStart).Append("assistant\n");
        if (writeThinkBlock && (isLast || reasoning.Length > 0))
            turn.Append("<think>\n").Append(reasoning.Trim('\n')).Append("\n</think>\n\n").Append(content.TrimStart('\n'));
        else
            turn.Append(content);
        return turn.Append(ImEnd).Append('\n').ToString();
    }

    string RenderLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var text = new StringBuilder(BeginOfText);
        foreach (var m in messages)
            text.Append(HeaderStart).Append(m.Role).Append(HeaderEnd).Append("\n\n").Append(PythonStrip(m.Content)).Append(EndOfTurn);
        if (addGenerationPrompt || AlwaysAddsGenerationPrompt)
            text.Append(HeaderStart).Append("assistant").Append(HeaderEnd).Append("\n\n");
        return text.ToString();
    }

    /// <summary>Jinja's trim filter, Python's str.strip(): .NET's white space plus U+001C–U+001F.</summary>
    static string PythonStrip(string text)
    {
        static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';
        int start = 0, end = text.Length;
        while (start < end && IsSpace(text[start])) start++;
        while (end > start && IsSpace(text[end - 1])) end--;
        return text[start..end];
    }

    /// <summary>
    /// The format a chat template (or, without one, the special tokens) selects, or null with
    /// the reason when GspoSharp does not recognise it.
    /// </summary>
    internal static ChatFormat? Detect(string? template, string? bosToken, Func<string, bool> hasToken, out string? reason)
    {
        reason = null;
        if (template is null)
        {
            if (hasToken(ImStart) && hasToken(ImEnd)) return new ChatFormat(ChatFamily.ChatML);
            if (hasToken(HeaderStart) && hasToken(EndOfTurn)) return new ChatFormat(ChatFamily.Llama3) { BeginOfText = bosToken ?? "" };
            reason = "there is no chat template, and the vocabulary has neither ChatML nor Llama-3 special tokens.";
            return null;
        }
        if (template.Contains(ImStart, StringComparison.Ordinal))
            return new ChatFormat(ChatFamily.ChatML)
            {
                HasThinkBlocks = template.Contains("</think>", StringComparison.Ordinal),
                HasToolResponses = template.Contains("<tool_response>", StringComparison.Ordinal),
                DefaultSystemPrompt = DefaultSystemLiteral().Match(template) is { Success: true } m ? UnescapeJinja(m.Groups["text"].Value) : null,
            };
        if (template.Contains(HeaderStart, StringComparison.Ordinal))
        {
            if (template.Contains("Cutting Knowledge Date", StringComparison.Ordinal))
            {
                reason = "the Llama-3.1 template (tools, dated system prompt) is not implemented; only the Llama-3 one is.";
                return null;
            }
            return new ChatFormat(ChatFamily.Llama3)
            {
                BeginOfText = bosToken ?? "",
                AlwaysAddsGenerationPrompt = !template.Contains("add_generation_prompt", StringComparison.Ordinal),
            };
        }
        reason = "the template is neither ChatML (<|im_start|>) nor Llama-3 (<|start_header_id|>).";
        return null;
    }

    /// <summary>A whole system turn written as one Jinja string literal, as Qwen2/2.5's default system prompt is.</summary>
    [GeneratedRegex("""(?<q>['"])<\|im_start\|>system\\n(?<text>(?:(?!\k<q>)[^\\]|\\.)*)<\|im_end\|>\\n\k<q>""")]
    private static partial Regex DefaultSystemLiteral();

    static string UnescapeJinja(string literal) =>
        Regex.Replace(literal, @"\\(.)", m => m.Groups[1].Value switch { "n" => "\n", "t" => "\t", var c => c });
}
