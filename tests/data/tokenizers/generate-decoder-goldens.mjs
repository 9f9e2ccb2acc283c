// Writes tokenization.json (golden encodings, decodings and chat renderings) for the decoder tokenizers under
// tests/data/tokenizers/: the small ones committed here (llama3-small, qwen2-small, smollm-small; see
// make-decoder-tokenizers.py) and, when `make decoder-tokenizer-data` has fetched them, the full Llama 3 and Qwen3 ones
// (llama3/, qwen3/), plus chat.json for spm-bpe-small (whose ids come from the SentencePiece library, see
// make-decoder-tokenizers.py).
//
// The reference is transformers.js (its tokenizer, @huggingface/tokenizers, and its chat templates, @huggingface/jinja);
// Hugging Face's Rust `tokenizers` (npm binding) supplies offsets and a second opinion. Where the two disagree the golden
// is Rust's and the case is listed under "reference_disagreements" with both answers.
//
// Plain ids (and single_ids, the same with the post-processor's BOS) are those of the tokenizer with its added tokens
// removed: text that spells a special token is text (docs/decisions/0003-special-token-text.md). ids_with_special are the
// tokenizer's own (added tokens read as their ids). decoded is without clean_up_tokenization_spaces.
//
// To rerun (needs the npm registry; keep node_modules out of the repository):
//   SCRATCH=$(mktemp -d) && (cd "$SCRATCH" && npm init -y && npm install @huggingface/transformers@4.3.2 tokenizers@0.23.2)
//   node tests/data/tokenizers/generate-decoder-goldens.mjs "$SCRATCH/node_modules"
// from the repository root (make decoder-tokenizer-goldens does this). Case texts: decoder-cases.json.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(process.argv[2] ?? "node_modules");
const { PreTrainedTokenizer } = await import(pathToFileURL(path.join(modules, "@huggingface/transformers/dist/transformers.node.mjs")).href);
const { Template } = await import(pathToFileURL(path.join(modules, "@huggingface/jinja/dist/index.js")).href);
const Rust = createRequire(path.join(modules, "noop.js"))("tokenizers");
const version = (name) => JSON.parse(fs.readFileSync(path.join(modules, name, "package.json"))).version;
const references = `transformers.js ${version("@huggingface/transformers")} (@huggingface/tokenizers ${version("@huggingface/tokenizers")}, @huggingface/jinja ${version("@huggingface/jinja")}); offsets and second opinion: tokenizers (Rust) ${version("tokenizers")}`;

const cases = JSON.parse(fs.readFileSync(path.join(here, "decoder-cases.json"), "utf8")).cases;

const conversations = [
  ["user_only", [{ role: "user", content: "Hi there" }]],
  ["system_user", [{ role: "system", content: "You are terse." }, { role: "user", content: "What is 2+2?" }]],
  ["multi_turn", [{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi! How can I help?" }, { role: "user", content: "Tell me a joke." }]],
  ["padded_content", [{ role: "user", content: "  padded text \n" }]],
  ["unicode_content", [{ role: "user", content: "Gr\u00fc\u00dfe \u{1F44B} \u4e2d\u6587 caf\u00e9" }]],
];

// Llama 3.1's system header (the Llama 3.1/3.2 instruct templates without their tool branches).
const llama31Template = "{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}{%- else %}{%- set system_message = \"\" %}{%- endif %}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}{{- \"Today Date: \" + date_string + \"\\n\\n\" }}{{- system_message }}{{- \"<|eot_id|>\" }}{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}";
// Llama 2 chat's template, as meta-llama/Llama-2-7b-chat-hf ships it.
const llama2Template = "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

function withoutAddedTokens(json) {
  return { ...json, added_tokens: [] };
}

function untrimmed(json) {
  const copy = JSON.parse(JSON.stringify(json));
  const parts = [copy.pre_tokenizer, copy.post_processor, ...(copy.pre_tokenizer?.pretokenizers ?? []), ...(copy.post_processor?.processors ?? [])];
  for (const part of parts) {
    if (part && "trim_offsets" in part) part.trim_offsets = false;
  }
  return copy;
}

function utf16Offsets(text, offsets, unit) {
  if (unit === "utf16") return offsets;
  const starts = [];
  let at = 0;
  for (const ch of text) {
    starts.push(at);
    at += ch.length;
  }
  starts.push(at);
  return offsets.map(([s, e]) => [starts[s], starts[e]]);
}

async function rustOffsetUnit(rust) {
  const encoding = await rust.encode("\u{1F600}a", null, { addSpecialTokens: false });
  return encoding.getOffsets().at(-1)[1] === 3 ? "utf16" : "codepoint";
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function chatCases(tokenizer, templates) {
  const out = [];
  for (const [templateName, template] of templates) {
    for (const [name, messages] of conversations) {
      for (const addGenerationPrompt of [false, true]) {
        const options = { add_generation_prompt: addGenerationPrompt, ...(template ? { chat_template: template } : {}) };
        const text = tokenizer.apply_chat_template(messages, { ...options, tokenize: false });
        const ids = Array.from(tokenizer.apply_chat_template(messages, { ...options, tokenize: true, return_tensor: false, return_dict: false }));
        out.push({ name: `${templateName}/${name}`, template: template ?? tokenizer.chat_template, messages, add_generation_prompt: addGenerationPrompt, text, ids });
      }
    }
  }
  return out;
}

async function generate(dir, templates) {
  const json = JSON.parse(fs.readFileSync(path.join(here, dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(here, dir, "tokenizer_config.json"), "utf8"));
  const plain = withoutAddedTokens(json);
  const reference = new PreTrainedTokenizer(plain, config);
  const full = new PreTrainedTokenizer(json, config);
  const rust = Rust.Tokenizer.fromString(JSON.stringify(plain));
  const rustFull = Rust.Tokenizer.fromString(JSON.stringify(json));
  const rustOffsets = Rust.Tokenizer.fromString(JSON.stringify(untrimmed(plain)));
  const unit = await rustOffsetUnit(rust);
  const disagreements = [];
  const id = (content) => json.added_tokens.find((t) => t.content === content)?.id ?? json.model.vocab[content] ?? null;
  const out = {
    tokenizer: {
      kind: "hf-tokenizer-json", references,
      bos_id: config.bos_token ? id(config.bos_token) : null,
      eos_id: config.eos_token ? id(config.eos_token) : null,
      special_ids: Object.fromEntries(json.added_tokens.filter((t) => t.special).map((t) => [t.content, t.id])),
      added_ids: Object.fromEntries(json.added_tokens.filter((t) => !t.special).map((t) => [t.content, t.id])),
    },
    cases: [],
    chat: [],
    reference_disagreements: disagreements,
  };

  for (const [name, text] of cases) {
    const enc = reference._tokenizer.encode(text, { add_special_tokens: false });
    // transformers.js resolves the template's BOS through the vocabulary, which the plain copy's added tokens left; Rust reads its id.
    const single = await rust.encode(text, null, { addSpecialTokens: true });
    const withSpecial = full._tokenizer.encode(text, { add_special_tokens: false });
    const r = await rust.encode(text, null, { addSpecialTokens: false });
    const rs = await rustFull.encode(text, null, { addSpecialTokens: false });
    const ro = await rustOffsets.encode(text, null, { addSpecialTokens: false });
    const rustIds = Array.from(r.getIds()), rustSpecial = Array.from(rs.getIds());
    const agree = same(rustIds, enc.ids) && same(rustSpecial, withSpecial.ids);
    if (!agree) {
      disagreements.push({ name, text, transformers_js_ids: enc.ids, rust_ids: rustIds, transformers_js_ids_with_special: withSpecial.ids, rust_ids_with_special: rustSpecial });
    }
    const ids = agree ? enc.ids : rustIds;
    out.cases.push({
      name,
      text,
      ids,
      // Raw text: the runtime's Decode never applies transformers' clean_up_tokenization_spaces.
      decoded: ids.length === 0 ? "" : full.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
      offsets: utf16Offsets(text, ro.getOffsets(), unit),
      nfc_changed: json.normalizer?.type === "NFC" && text.normalize("NFC") !== text,
      ids_with_special: agree ? withSpecial.ids : rustSpecial,
      // What generation prints: special tokens skipped, other added tokens (Qwen's <think>) as their text.
      decoded_with_special: ids.length === 0 ? "" : full.decode(agree ? withSpecial.ids : rustSpecial, { skip_special_tokens: true, clean_up_tokenization_spaces: false }),
      single_ids: Array.from(single.getIds()),
    });
  }

  out.chat = chatCases(full, templates);
  fs.writeFileSync(path.join(here, dir, "tokenization.json"), JSON.stringify(out, null, 1).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + "\n");
  console.log(`${dir}: ${out.cases.length} cases, ${out.chat.length} chat cases, ${disagreements.length} disagreements (Rust offsets in ${unit})`);
}

// spm-bpe-small: the rendered text of its templates (ids come from the SentencePiece library, not from here).
function spmChat() {
  const config = JSON.parse(fs.readFileSync(path.join(here, "spm-bpe-small", "tokenizer_config.json"), "utf8"));
  const out = [];
  for (const [templateName, template] of [["zephyr", config.chat_template], ["llama2", llama2Template]]) {
    for (const [name, messages] of conversations) {
      for (const addGenerationPrompt of [false, true]) {
        const text = new Template(template).render({ messages, add_generation_prompt: addGenerationPrompt, bos_token: config.bos_token, eos_token: config.eos_token });
        out.push({ name: `${templateName}/${name}`, template, messages, add_generation_prompt: addGenerationPrompt, text });
      }
    }
  }
  fs.writeFileSync(path.join(here, "spm-bpe-small", "chat.json"), JSON.stringify({ references, chat: out }, null, 1).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + "\n");
  console.log(`spm-bpe-small: ${out.length} chat renderings`);
}

await generate("llama3-small", [["llama3", null], ["llama3.1", llama31Template]]);
await generate("qwen2-small", [["chatml", null]]);
await generate("smollm-small", [["chatml", null]]);
for (const dir of ["llama3", "qwen3"]) {
  if (fs.existsSync(path.join(here, dir, "tokenizer.json"))) {
    await generate(dir, [[dir === "llama3" ? "llama3" : "chatml", null]]);
  }
}
spmChat();
