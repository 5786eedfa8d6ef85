// Writes tests/GspoSharp.Tests/Models/Tokenization/reference-ids.json, which the GspoSharp tokenizer
// tests compare against:
//   - the ids that @huggingface/tokenizers (a JavaScript implementation of Hugging Face tokenizers,
//     independent of GspoSharp and of Microsoft.ML.Tokenizers) gives for a varied corpus with the real
//     Qwen3 and Llama-3 tokenizers, encoded without special tokens added, and its decoding of them;
//   - conversations rendered by @huggingface/jinja with the real chat templates.
// The tokenizers are the files the test build fetches into .cache/tokenizers/ (build once first).
// Usage: cd tools/tokenizer-reference && npm install && npm run generate
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const cache = path.join(repo, ".cache", "tokenizers");
const output = path.join(repo, "tests", "GspoSharp.Tests", "Models", "Tokenization", "reference-ids.json");

// Each entry exercises something the pre-tokenizer regex, the normalizer, the added tokens or the
// byte-level BPE treats specially. Keep the list stable: tests refer to entries by their text.
const corpus = [
  "",
  "a",
  " ",
  "\n",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "12345 67890 3.14159 1,000,000 2024-05-01 007",
  "Mixed 123abc456 def7890 x1y22z333",
  "  leading and   multiple   spaces  ",
  "trailing spaces before a newline   \nnext line",
  "line one\nline two\n\n\nthree\r\nwindows\rold mac",
  "\ttabs\tand\t\tmore tabs\t",
  "    indented code\n\tx = 1\n        deeper\n",
  "I'm sure they're fine, we'll see; he'd've known. DON'T SHOUT, It'S OK, you'Ll",
  "def f(x):\n    return x**2  # square\n",
  "{\"a\": [1, 2, 3], \"b\": null, \"c\": \"d\\\"e\"}",
  "URL https://example.com/path?q=1&r=2#frag <b>bold</b>",
  "!!!??? ... --- ___ ~~~ ((())) [[]] {{}}",
  "中文分词测试：你好，世界！",
  "日本語のテキストとカタカナ、ひらがな。",
  "한국어 텍스트입니다.",
  "Русский текст, Ελληνικά, עברית, العربية, हिन्दी",
  "Café naïve résumé façade Ångström ÿ",
  "composed é vs decomposed e\u0301, a\u0308 n\u0303 o\u0302\u0323",
  "compatibility: ǆ ﬁ ① ² Ⅻ ｆｕｌｌ",
  "Emoji: 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷 keycap 1️⃣",
  "Math letters 𝒜𝒷𝒸 𝔘𝔫𝔦 and digits 𝟙𝟚𝟛; symbols ∑∫√∞ ≠ ≤ ≥",
  "CJK extension B 𠀀𠀁𠀂 and 𪚥",
  "spaces: x\u00a0y\u2003z\u3000w\u2028v",
  "controls: \u0000\u0001\u001f\u007f\u0085\u00ad\ufeff end",
  "Pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
  "whole words Llama-3 keeps although its merges would split them: jeho dikkat tekrar milyon merkez nhanh",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
  "abc<|im_end|>def <|endoftext|> ghi<|im_start|>",
  "<think>\nreasoning here\n</think>\n\nThe answer is 42.",
  "<tool_call>\n{\"name\": \"f\"}\n</tool_call>",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "text<|eot_id|>more<|end_of_text|> and <|reserved_special_token_5|>",
  "<|im_end <|im_end|| <|eot_id |> partial specials",
  "e\u0301<|im_end|>\u0301 combining mark after a special token",
];

// Conversations to render with each real template. The tests derive the same text by hand.
const conversations = {
  qwen3: [
    { name: "user+prompt", messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: true },
    { name: "user+prompt, no thinking", messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: true, enable_thinking: false },
    { name: "user+prompt, thinking", messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: true, enable_thinking: true },
    {
      name: "system, two turns",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "Add 2 and 3." },
      ],
      add_generation_prompt: true,
    },
    {
      name: "final assistant turn",
      messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }],
      add_generation_prompt: false,
    },
    {
      name: "reasoning in history",
      messages: [
        { role: "user", content: "Q1" },
        { role: "assistant", content: "<think>\nfirst thoughts\n</think>\n\nA1" },
        { role: "user", content: "Q2" },
        { role: "assistant", content: "<think>\n\nsecond thoughts\n\n</think>\n\n\nA2" },
      ],
      add_generation_prompt: false,
    },
    {
      name: "tool responses",
      messages: [
        { role: "user", content: "Weather?" },
        { role: "assistant", content: "Calling tools." },
        { role: "tool", content: "sunny" },
        { role: "tool", content: "25C" },
        { role: "assistant", content: "It is sunny, 25C." },
      ],
      add_generation_prompt: true,
    },
    {
      name: "system not first",
      messages: [{ role: "user", content: "a" }, { role: "system", content: "b" }, { role: "user", content: "c" }],
      add_generation_prompt: true,
      enable_thinking: false,
    },
  ],
  llama3: [
    { name: "user", messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: true },
    { name: "user, no prompt asked", messages: [{ role: "user", content: "What is 2+2?" }], add_generation_prompt: false },
    {
      name: "system, trimmed contents",
      messages: [
        { role: "system", content: "  You are terse.\n" },
        { role: "user", content: "\n\tHi  " },
        { role: "assistant", content: "Hello." },
      ],
      add_generation_prompt: true,
    },
  ],
};

function load(name) {
  const dir = path.join(cache, name);
  const files = ["tokenizer.json", "tokenizer_config.json"];
  for (const file of files) {
    if (!existsSync(path.join(dir, file))) {
      throw new Error(`${path.join(dir, file)} is missing: build the tests once (dotnet build tests/GspoSharp.Tests) to fetch it.`);
    }
  }
  const [json, config] = files.map((file) => readFileSync(path.join(dir, file)));
  const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
  return {
    tokenizer: new Tokenizer(JSON.parse(json), JSON.parse(config)),
    config: JSON.parse(config),
    sha256: { "tokenizer.json": sha256(json), "tokenizer_config.json": sha256(config) },
  };
}

const result = { generator: "tools/tokenizer-reference/generate.mjs", corpus, tokenizers: {} };
for (const name of ["qwen3", "llama3"]) {
  const { tokenizer, config, sha256 } = load(name);
  const ids = corpus.map((text) => tokenizer.encode(text, { add_special_tokens: false }).ids);
  const decoded = ids.map((x) =>
    x.length === 0 ? "" : tokenizer.decode(x, { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
  const template = new Template(config.chat_template);
  const chats = conversations[name].map(({ name: chat, messages, ...flags }) => ({
    name: chat,
    messages,
    ...flags,
    text: template.render({ messages, bos_token: config.bos_token ?? "", eos_token: config.eos_token ?? "", ...flags }),
  }));
  result.tokenizers[name] = { sha256, ids, decoded, chats };
}

// Pretty-printed, but each array of ids on one line, so that a change shows as a readable diff.
const text = JSON.stringify(result, (key, value) =>
  Array.isArray(value) && value.every((v) => typeof v === "number") ? `@@${JSON.stringify(value)}@@` : value, 2)
  .replace(/"@@(\[[^"]*\])@@"/g, "$1");
writeFileSync(output, text + "\n");
console.log(`wrote ${path.relative(repo, output)}: ${corpus.length} texts × ${Object.keys(result.tokenizers).length} tokenizers`);
