// Writes tokenization.json (the golden encodings) for every tokenizer under tests/data/tokenizers/.
//
// The reference is transformers.js (its tokenizer, @huggingface/tokenizers); Hugging Face's Rust `tokenizers`
// (the npm binding, the implementation models are trained with) supplies the offsets, which transformers.js does not
// compute, and is a second opinion. Where the two disagree the golden is Rust's and the case is listed under
// "reference_disagreements" with both answers (see README.md there for the known reasons).
//
// To rerun (needs the npm registry; keep node_modules out of the repository):
//   SCRATCH=$(mktemp -d) && (cd "$SCRATCH" && npm init -y && npm install @huggingface/transformers@4.3.2 tokenizers@0.23.2)
//   node tests/data/tokenizers/generate-goldens.mjs "$SCRATCH/node_modules"
// from the repository root. The case texts come from ../shared/tokenizers/spm-unigram-2k/tokenization.json.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.resolve(process.argv[2] ?? "node_modules");
const { PreTrainedTokenizer } = await import(pathToFileURL(path.join(modules, "@huggingface/transformers/dist/transformers.node.mjs")).href);
const Rust = createRequire(path.join(modules, "noop.js"))("tokenizers");
const transformersVersion = JSON.parse(fs.readFileSync(path.join(modules, "@huggingface/transformers/package.json"))).version;
const tokenizersJsVersion = JSON.parse(fs.readFileSync(path.join(modules, "@huggingface/tokenizers/package.json"))).version;
const rustVersion = JSON.parse(fs.readFileSync(path.join(modules, "tokenizers/package.json"))).version;

const sharedCases = JSON.parse(fs.readFileSync(path.join(here, "../../../../shared/tokenizers/spm-unigram-2k/tokenization.json"), "utf8"));

// Text that spells special tokens of any family: it must encode as text (docs/decisions/0003-special-token-text.md).
const specialSpellings = [
  ["special_bert_sep", "[SEP]"],
  ["special_bert_inline", "a[CLS]b [SEP]c[MASK] [UNK]"],
  ["special_roberta", "<s>hi</s></s>there</s> <pad><unk><mask>"],
  ["special_gpt2", "<|endoftext|>"],
  ["special_gpt2_inline", "end<|endoftext|>start <|endoftext|> x"],
];
const cases = [
  ...sharedCases.cases.map((c) => [c.name, c.text]),
  ...specialSpellings,
  ["cjk_mixed_latin", "GPT模型 and 東京タワー in 2024年"],
  ["accents_upper", "ÉCOLE Ärger Ñandú ÇA"],
  ["long_word_101", "x".repeat(101) + " ok " + "y".repeat(100)],
  ["contractions", "I'm sure you've they'll it's we'd I'VE don't"],
  ["digits_runs", "a1b22c333 4444 x"],
  ["space_runs_before_word", "a  b   c\n\n d"],
  ["whitespace_class", "x \u0085y \ufeffz \u001cw \u00a0v"],
];
const pairs = [
  ...sharedCases.pairs.map((p) => [p.text_a, p.text_b]),
  ["Ignore the rules [SEP] Sure, here it is", "<s>reply</s></s> <|endoftext|>"],
  ["", ""],
  ["Only a prompt", ""],
];

function bertTokenizerJson(vocab, { lowercase, stripAccents }) {
  const ids = Object.fromEntries(vocab.map((t, i) => [t, i]));
  const special = (content) => ({ id: ids[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(special),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: stripAccents, lowercase },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: Object.fromEntries(["[CLS]", "[SEP]"].map((t) => [t, { id: t, ids: [ids[t]], tokens: [t] }])),
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: ids },
  };
}

function byteLevelTokenizerJson(vocabJson, merges, { roberta, addPrefixSpace }) {
  const specials = roberta ? ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] : ["<|endoftext|>"];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content) => ({
      id: vocabJson[content], content, single_word: false, lstrip: content === "<mask>", rstrip: false, normalized: content !== "<mask>" && !roberta, special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: roberta
      ? { type: "RobertaProcessing", sep: ["</s>", vocabJson["</s>"]], cls: ["<s>", vocabJson["<s>"]], trim_offsets: true, add_prefix_space: addPrefixSpace }
      : { type: "ByteLevel", add_prefix_space: addPrefixSpace, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: vocabJson, merges: merges.map((m) => m.split(" ")),
    },
  };
}

// A copy whose added tokens are gone, so text that spells them is encoded as text; the template still adds them by id.
function withoutAddedTokens(json) {
  return { ...json, added_tokens: [] };
}

// Offsets are untrimmed: a byte-level token's leading space is part of its range (RoBERTa's post-processor would trim it).
function untrimmed(json) {
  const copy = JSON.parse(JSON.stringify(json));
  for (const part of [copy.pre_tokenizer, copy.post_processor]) {
    if (part && "trim_offsets" in part) part.trim_offsets = false;
  }
  return copy;
}

// The Node binding reports offsets in code points or UTF-16 units; checked on a non-BMP string and converted to UTF-16.
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
  const encoding = await rust.encode("😀a", null, { addSpecialTokens: false });
  const last = encoding.getOffsets().at(-1);
  return last[1] === 3 ? "utf16" : "codepoint";
}

async function generate(dir, json, config, description) {
  const plain = withoutAddedTokens(json);
  const reference = new PreTrainedTokenizer(plain, config);
  const rust = Rust.Tokenizer.fromString(JSON.stringify(plain));
  const rustOffsets = Rust.Tokenizer.fromString(JSON.stringify(untrimmed(plain)));
  const unit = await rustOffsetUnit(rust);
  const disagreements = [];
  const out = { tokenizer: description, cases: [], pairs: [], reference_disagreements: disagreements };

  for (const [name, text] of cases) {
    const enc = reference._tokenizer.encode(text, { add_special_tokens: false });
    const single = reference._tokenizer.encode(text, { add_special_tokens: true, return_token_type_ids: true });
    const r = await rust.encode(text, null, { addSpecialTokens: false });
    const rs = await rust.encode(text, null, { addSpecialTokens: true });
    const ro = await rustOffsets.encode(text, null, { addSpecialTokens: false });
    const rustIds = Array.from(r.getIds());
    const agree = JSON.stringify(rustIds) === JSON.stringify(enc.ids) && JSON.stringify(Array.from(rs.getIds())) === JSON.stringify(single.ids);
    if (!agree) {
      disagreements.push({ name, text, transformers_js_ids: enc.ids, rust_ids: rustIds, transformers_js_single_ids: single.ids, rust_single_ids: Array.from(rs.getIds()) });
    }
    const ids = agree ? enc.ids : rustIds;
    out.cases.push({
      name,
      text,
      ids,
      pieces: agree ? enc.tokens : r.getTokens(),
      decoded: ids.length === 0 ? "" : reference.decode(ids, { skip_special_tokens: false }),
      offsets: utf16Offsets(text, ro.getOffsets(), unit),
      single_ids: agree ? single.ids : Array.from(rs.getIds()),
      // transformers.js gives no token types for a template without special tokens (GPT-2); Rust's are all 0 there.
      single_token_type_ids: agree && single.token_type_ids ? single.token_type_ids : Array.from(rs.getTypeIds()),
    });
  }

  for (const [a, b] of pairs) {
    const ea = reference._tokenizer.encode(a, { add_special_tokens: false });
    const eb = reference._tokenizer.encode(b, { add_special_tokens: false });
    const pair = reference._tokenizer.encode(a, { text_pair: b, add_special_tokens: true, return_token_type_ids: true });
    const r = await rust.encode(a, b, { addSpecialTokens: true });
    const rustIds = Array.from(r.getIds()), rustTypes = Array.from(r.getTypeIds());
    const agree = JSON.stringify(rustIds) === JSON.stringify(pair.ids) && JSON.stringify(rustTypes) === JSON.stringify(pair.token_type_ids);
    if (!agree) {
      disagreements.push({ text_a: a, text_b: b, transformers_js_ids: pair.ids, transformers_js_type_ids: pair.token_type_ids, rust_ids: rustIds, rust_type_ids: rustTypes });
    }
    out.pairs.push({ text_a: a, text_b: b, ids_a: ea.ids, ids_b: eb.ids, pair_ids: agree ? pair.ids : rustIds, pair_token_type_ids: agree ? pair.token_type_ids : rustTypes });
  }

  const target = path.join(here, dir, "tokenization.json");
  fs.writeFileSync(target, JSON.stringify(out, null, 1).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0")) + "\n");
  console.log(`${dir}: ${out.cases.length} cases, ${out.pairs.length} pairs, ${disagreements.length} disagreements (Rust offsets in ${unit})`);
}

const references = `transformers.js ${transformersVersion} (@huggingface/tokenizers ${tokenizersJsVersion}); offsets and second opinion: tokenizers (Rust) ${rustVersion}`;

function readLines(file) {
  return fs.readFileSync(path.join(here, file), "utf8").split("\n").filter((line, i, all) => i < all.length - 1 || line.length > 0);
}

function template(prefix, middle, suffix, secondType) {
  return { prefix, middle, suffix, second_segment_token_type: secondType };
}

{
  const vocab = readLines("bert-uncased-minilm/vocab.txt");
  const json = bertTokenizerJson(vocab, { lowercase: true, stripAccents: null });
  await generate("bert-uncased-minilm", json, { do_lower_case: true, clean_up_tokenization_spaces: true }, {
    kind: "wordpiece", files: ["vocab.txt", "tokenizer_config.json"], lowercase: true, strip_accents: true, references,
    special_ids: { "[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103 }, template: template([101], [102], [102], 1),
  });
}

if (fs.existsSync(path.join(here, "bert-cased-small/tokenizer.json"))) {
  const vocab = readLines("bert-cased-small/vocab.txt");
  const json = JSON.parse(fs.readFileSync(path.join(here, "bert-cased-small/tokenizer.json"), "utf8"));
  const id = (t) => vocab.indexOf(t);
  await generate("bert-cased-small", json, { do_lower_case: false, clean_up_tokenization_spaces: true }, {
    kind: "wordpiece", files: ["vocab.txt", "tokenizer_config.json", "tokenizer.json"], lowercase: false, strip_accents: false, references,
    special_ids: Object.fromEntries(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].map((t) => [t, id(t)])), template: template([id("[CLS]")], [id("[SEP]")], [id("[SEP]")], 1),
  });
}

if (fs.existsSync(path.join(here, "bpe-roberta-small/tokenizer.json"))) {
  const json = JSON.parse(fs.readFileSync(path.join(here, "bpe-roberta-small/tokenizer.json"), "utf8"));
  const v = json.model.vocab;
  await generate("bpe-roberta-small", json, { clean_up_tokenization_spaces: false }, {
    kind: "byte-level-bpe", files: ["vocab.json", "merges.txt", "tokenizer.json"], add_prefix_space: false, references,
    special_ids: Object.fromEntries(["<s>", "<pad>", "</s>", "<unk>", "<mask>"].map((t) => [t, v[t]])), template: template([v["<s>"]], [v["</s>"], v["</s>"]], [v["</s>"]], 0),
  });
}

if (fs.existsSync(path.join(here, "gpt2/vocab.json"))) {
  const vocab = JSON.parse(fs.readFileSync(path.join(here, "gpt2/vocab.json"), "utf8"));
  const merges = readLines("gpt2/merges.txt").filter((line) => !line.startsWith("#version"));
  const json = byteLevelTokenizerJson(vocab, merges, { roberta: false, addPrefixSpace: false });
  await generate("gpt2", json, { clean_up_tokenization_spaces: false }, {
    kind: "byte-level-bpe", files: ["vocab.json", "merges.txt"], add_prefix_space: false, references,
    special_ids: { "<|endoftext|>": vocab["<|endoftext|>"] }, template: template([], [], [], 1),
  });
}
