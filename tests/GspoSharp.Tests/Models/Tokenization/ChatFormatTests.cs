using System.Text.Json;
using System.Text.Json.Nodes;
using GspoSharp.Models;
using GspoSharp.Models.Tokenization;

namespace GspoSharp.Tests.Models.Tokenization;

/// <summary>
/// Chat rendering. Expected strings are derived by hand from the template texts of the real
/// tokenizer_config.json files, and also checked against @huggingface/jinja's rendering of them
/// (reference-ids.json).
/// </summary>
public class ChatFormatTests
{
    static ChatMessage M(string role, string content) => new(role, content);

    [Fact]
    public void Real_templates_select_their_family()
    {
        var qwen = RealTokenizers.Qwen3.ChatFormat!;
        Assert.Equal(ChatFamily.ChatML, qwen.Family);
        Assert.True(qwen.HasThinkBlocks);
        Assert.True(qwen.HasToolResponses);
        Assert.Null(qwen.DefaultSystemPrompt);
        Assert.Equal("<|im_end|>", qwen.EndOfTurnToken);

        var llama = RealTokenizers.Llama3.ChatFormat!;
        Assert.Equal(ChatFamily.Llama3, llama.Family);
        Assert.Equal("<|begin_of_text|>", llama.BeginOfText);
        // This template writes the assistant header with no add_generation_prompt test.
        Assert.True(llama.AlwaysAddsGenerationPrompt);
        Assert.Equal("<|eot_id|>", llama.EndOfTurnToken);
    }

    [Fact]
    public void Qwen3_generation_prompt_with_and_without_thinking()
    {
        var qwen = RealTokenizers.Qwen3;
        var user = new[] { M("user", "What is 2+2?") };
        // {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}, then '<|im_start|>assistant\n'.
        Assert.Equal("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
            qwen.ApplyChatTemplate(user, addGenerationPrompt: true));
        // enable_thinking is false: '<think>\n\n</think>\n\n' follows.
        Assert.Equal("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
            qwen.ApplyChatTemplate(user, addGenerationPrompt: true, enableThinking: false));
        Assert.Equal("<|im_start|>user\nWhat is 2+2?<|im_end|>\n", qwen.ApplyChatTemplate(user));
    }

    [Fact]
    public void Qwen3_history_system_and_think_blocks()
    {
        var qwen = RealTokenizers.Qwen3;
        // messages[0] is the system turn; the last assistant turn after the last user query gets
        // '<think>\n' + reasoning.strip('\n') + '\n</think>\n\n' + content.lstrip('\n'), even empty.
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n" +
            "<|im_start|>assistant\n<think>\n\n</think>\n\nHello!<|im_end|>\n",
            qwen.ApplyChatTemplate([M("system", "Be brief."), M("user", "Hi"), M("assistant", "Hello!")]));
        // Reasoning before the last user query is dropped; after it, it is kept and trimmed of newlines.
        Assert.Equal(
            "<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n" +
            "<|im_start|>assistant\n<think>\nwhy\n</think>\n\nA2<|im_end|>\n",
            qwen.ApplyChatTemplate([M("user", "Q1"), M("assistant", "<think>\nhmm\n</think>\n\nA1"), M("user", "Q2"),
                M("assistant", "<think>\n\nwhy\n\n</think>\n\n\nA2")]));
    }

    [Fact]
    public void Qwen3_tool_messages_share_one_user_turn()
    {
        Assert.Equal(
            "<|im_start|>user\nq<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n" +
            "<|im_start|>assistant\n",
            RealTokenizers.Qwen3.ApplyChatTemplate([M("user", "q"), M("tool", "r1"), M("tool", "r2")], addGenerationPrompt: true));
    }

    [Fact]
    public void Qwen3_refuses_roles_its_template_would_drop_and_empty_conversations()
    {
        var qwen = RealTokenizers.Qwen3;
        var e = Assert.Throws<ArgumentException>(() => qwen.ApplyChatTemplate([M("developer", "x")]));
        Assert.Contains("role 'developer'", e.Message);
        Assert.Throws<ArgumentException>(() => qwen.ApplyChatTemplate([]));
    }

    [Fact]
    public void Llama3_trims_contents_and_always_adds_the_assistant_header()
    {
        var llama = RealTokenizers.Llama3;
        // bos_token + '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + content | trim + '<|eot_id|>', then the assistant header.
        Assert.Equal(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            llama.ApplyChatTemplate([M("system", " Be brief.\n"), M("user", "\tHi  ")]));
    }

    public static TheoryData<string, int> ReferenceChats()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in new[] { "qwen3", "llama3" })
            for (int i = 0; i < RealTokenizers.Of(name).GetProperty("chats").GetArrayLength(); i++) data.Add(name, i);
        return data;
    }

    [Theory]
    [MemberData(nameof(ReferenceChats))]
    public void Renderings_equal_the_jinja_reference(string name, int index)
    {
        var chat = RealTokenizers.Of(name).GetProperty("chats")[index];
        var messages = chat.GetProperty("messages").EnumerateArray()
            .Select(m => M(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
        bool Flag(string field, bool otherwise) => chat.TryGetProperty(field, out var v) ? v.GetBoolean() : otherwise;
        string rendered = RealTokenizers.Get(name).ApplyChatTemplate(messages,
            addGenerationPrompt: Flag("add_generation_prompt", false), enableThinking: Flag("enable_thinking", true));
        Assert.Equal(chat.GetProperty("text").GetString(), rendered);
    }

    static HfTokenizer WithConfig(TempDirectory dir, JsonObject? config, bool chatTokens = true)
    {
        var json = HandBuilt.Json();
        if (chatTokens)
            foreach (var (id, content) in new[] { (310, "<|im_start|>"), (311, "<|im_end|>") })
                json["added_tokens"]!.AsArray().Add(new JsonObject
                {
                    ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false,
                    ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
                });
        return HandBuilt.Load(dir, json, config);
    }

    [Fact]
    public void A_default_system_prompt_literal_is_used_when_there_is_no_system_message()
    {
        // The shape of Qwen2.5's template: a whole default system turn in one string literal.
        const string template =
            "{%- if messages[0]['role'] == 'system' %}{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}" +
            "{%- else %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}" +
            "{%- for message in messages %}...{%- endfor %}";
        using var dir = new TempDirectory();
        var tokenizer = WithConfig(dir, new JsonObject { ["chat_template"] = template });
        Assert.Equal("You are a helpful assistant.", tokenizer.ChatFormat!.DefaultSystemPrompt);
        Assert.Equal("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
            tokenizer.ApplyChatTemplate([M("user", "hi")], addGenerationPrompt: true));
        Assert.Equal("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n",
            tokenizer.ApplyChatTemplate([M("system", "S"), M("user", "hi")]));
    }

    [Fact]
    public void Without_a_template_the_special_tokens_decide()
    {
        using var dir = new TempDirectory();
        var chatml = WithConfig(dir, config: null);
        Assert.Equal(ChatFamily.ChatML, chatml.ChatFormat!.Family);
        Assert.Equal("<|im_start|>tool\nx<|im_end|>\n", chatml.ApplyChatTemplate([M("tool", "x")]));

        using var plainDir = new TempDirectory();
        var plain = WithConfig(plainDir, config: null, chatTokens: false);
        Assert.Null(plain.ChatFormat);
        var e = Assert.Throws<ModelFormatException>(() => plain.ApplyChatTemplate([M("user", "x")]));
        Assert.Contains("chat_template", e.Message);
        Assert.Contains("neither ChatML nor Llama-3 special tokens", e.Message);
    }

    [Fact]
    public void Unsupported_templates_are_refused_when_used()
    {
        using var dir = new TempDirectory();
        var tokenizer = WithConfig(dir, new JsonObject
        {
            ["chat_template"] = "{{ '<|start_header_id|>system<|end_header_id|>\\n\\nCutting Knowledge Date: December 2023' }}",
        });
        Assert.Null(tokenizer.ChatFormat);
        var e = Assert.Throws<ModelFormatException>(() => tokenizer.ApplyChatTemplate([M("user", "x")]));
        Assert.Contains("tokenizer_config.json: chat_template: the Llama-3.1 template", e.Message);
    }

    [Fact]
    public void Named_templates_and_a_chat_template_file()
    {
        using var dir = new TempDirectory();
        var named = WithConfig(dir, new JsonObject
        {
            ["chat_template"] = new JsonArray(
                new JsonObject { ["name"] = "tool_use", ["template"] = "{{ '<|start_header_id|>' }}" },
                new JsonObject { ["name"] = "default", ["template"] = "{{ '<|im_start|>' }}" }),
        });
        Assert.Equal(ChatFamily.ChatML, named.ChatFormat!.Family);

        // chat_template.jinja wins over tokenizer_config.json, as in transformers.
        File.WriteAllText(Path.Combine(dir.Path, "chat_template.jinja"),
            "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}" +
            "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}");
        var file = HfTokenizer.Load(dir.Path);
        Assert.Equal(ChatFamily.Llama3, file.ChatFormat!.Family);
        Assert.False(file.ChatFormat.AlwaysAddsGenerationPrompt);
        Assert.Equal("<|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>", file.ApplyChatTemplate([M("user", "x")]));
    }

    [Fact]
    public void Rendered_prompts_encode_their_special_tokens_as_single_ids()
    {
        var qwen = RealTokenizers.Qwen3;
        var ids = qwen.Encode(qwen.ApplyChatTemplate([M("user", "Hi")], addGenerationPrompt: true));
        Assert.Equal(151644, ids[0]);   // <|im_start|>
        Assert.Equal(2, ids.Count(id => id == 151644));
        Assert.Single(ids, id => id == 151645);   // <|im_end|>
        Assert.Equal(JsonSerializer.Serialize(new[] { 151644, 77091, 198 }), JsonSerializer.Serialize(ids[^3..]));   // <|im_start|>assistant\n
    }
}
