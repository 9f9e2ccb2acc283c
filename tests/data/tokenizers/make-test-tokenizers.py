"""Makes the two test tokenizers of tests/data/tokenizers/ that are not copied from elsewhere:

- bpe-roberta-small/: a byte-level BPE with RoBERTa's special tokens (<s> <pad> </s> <unk> <mask> at ids 0..4),
  1500 merges learned by edgeguard_train.byte_level_bpe.train from the first 2000 rows of ../shared/datasets/train.jsonl.
- bert-cased-small/: a cased WordPiece vocabulary derived from the uncased MiniLM one (bert-uncased-minilm/vocab.txt):
  the special tokens, every single character of the uncased vocabulary and its ## form, A-Z and a set of accented
  capitals and small letters (with ## forms), the 1500 most frequent case-kept words of the same 2000 rows, and the
  first 400 ## pieces of the uncased vocabulary.

Deterministic; run from the repository root:  cd training && /usr/bin/python3 ../tests/data/tokenizers/make-test-tokenizers.py
"""

import collections
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "training"))

from edgeguard_train import byte_level_bpe  # noqa: E402
from edgeguard_train.wordpiece import WordPieceSettings, WordPieceTokenizer  # noqa: E402

ROWS = 2000
DATASET = os.path.join(HERE, "..", "..", "..", "..", "shared", "datasets", "train.jsonl")


def texts():
    with open(DATASET, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i >= ROWS:
                break
            row = json.loads(line)
            yield row["prompt"]
            if row.get("response"):
                yield row["response"]


def make_bpe():
    tokens, merges = byte_level_bpe.train(texts(), 1500, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    byte_level_bpe.write_files(os.path.join(HERE, "bpe-roberta-small"), tokens, merges, roberta=True)
    print(f"bpe-roberta-small: {len(tokens)} tokens, {len(merges)} merges")


def make_cased_wordpiece():
    with open(os.path.join(HERE, "bert-uncased-minilm", "vocab.txt"), encoding="utf-8") as f:
        uncased = f.read().splitlines()
    present = set(uncased)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    seen = set(vocab)

    def add(token):
        if token not in seen:
            seen.add(token)
            vocab.append(token)

    letters = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + list("ÀÁÂÄÅÇÈÉÊËÍÎÏÑÓÔÖØÙÚÛÜàáâäåçèéêëíîïñóôöøùúûüßŁłźŻ")
    for token in [t for t in uncased if len(t) == 1] + letters:
        add(token)
        if "##" + token in present or token in letters:
            add("##" + token)
    # Case-kept words, split as BERT's basic tokenizer splits them (no lower-casing, no accent stripping).
    splitter = WordPieceTokenizer(vocab, WordPieceSettings(lower_case=False))
    counts = collections.Counter()
    for text in texts():
        for word in splitter._words(text):  # noqa: SLF001 - the basic tokenizer's words are what we count
            counts["".join(c for c, _, _ in word)] += 1
    for word, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:1500]:
        add(word)
    for token in [t for t in uncased if t.startswith("##") and len(t) > 3][:400]:
        add(token)
    directory = os.path.join(HERE, "bert-cased-small")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"do_lower_case": False, "strip_accents": None, "tokenize_chinese_chars": True, "unk_token": "[UNK]",
                   "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
                   "tokenizer_class": "BertTokenizer"}, f, indent=1)
        f.write("\n")
    ids = {t: i for i, t in enumerate(vocab)}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None,
                       "lowercase": False},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ["[CLS]", "[SEP]"]},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
    print(f"bert-cased-small: {len(vocab)} tokens")


if __name__ == "__main__":
    make_cased_wordpiece()
    make_bpe()
