"""The pure-Python WordPiece and byte-level BPE against the goldens the C# runtime is tested with
(tests/data/tokenizers/*/tokenization.json: transformers.js, with Hugging Face's Rust tokenizers as second opinion)."""

import json

import pytest

from conftest import REPO_ROOT
from edgeguard_train.byte_level_bpe import ByteLevelBpeTokenizer, pre_tokenize
from edgeguard_train.wordpiece import WordPieceTokenizer

DATA = REPO_ROOT / "tests" / "data" / "tokenizers"
_CACHE = {}


def _load(name, loader):
    key = (name, loader)
    if key not in _CACHE:
        d = DATA / name
        if loader == "vocab.txt":
            _CACHE[key] = WordPieceTokenizer.from_files(str(d / "vocab.txt"), str(d / "tokenizer_config.json"))
        elif loader == "files":
            _CACHE[key] = ByteLevelBpeTokenizer.from_files(str(d / "vocab.json"), str(d / "merges.txt"))
        else:
            _CACHE[key] = ByteLevelBpeTokenizer.from_tokenizer_json(str(d / "tokenizer.json"))
    return _CACHE[key]


def _golden(name):
    with open(DATA / name / "tokenization.json", encoding="utf-8") as f:
        return json.load(f)


TOKENIZERS = [("bert-uncased-minilm", "vocab.txt"), ("bert-cased-small", "vocab.txt"), ("bpe-roberta-small", "files"),
              ("bpe-roberta-small", "tokenizer.json"), ("gpt2", "files")]


@pytest.mark.parametrize("name,loader", TOKENIZERS)
def test_cases_equal_the_goldens(name, loader):
    tokenizer = _load(name, loader)
    for case in _golden(name)["cases"]:
        encoded = tokenizer.encode_with_offsets(case["text"])
        assert [i for i, _, _ in encoded] == case["ids"], case["name"]
        assert [[s, e] for _, s, e in encoded] == case["offsets"], case["name"]
        assert tokenizer.decode(case["ids"]) == case["decoded"], case["name"]
        ids, types = tokenizer.encode_pair(case["text"], None, 10**6)
        assert (ids, types) == (case["single_ids"], case["single_token_type_ids"]), case["name"]


@pytest.mark.parametrize("name,loader", TOKENIZERS)
def test_pairs_equal_the_goldens(name, loader):
    tokenizer = _load(name, loader)
    for pair in _golden(name)["pairs"]:
        assert tokenizer.encode(pair["text_a"]) == pair["ids_a"]
        assert tokenizer.encode(pair["text_b"]) == pair["ids_b"]
        assert tokenizer.encode_pair(pair["text_a"], pair["text_b"], 10**6) == (pair["pair_ids"], pair["pair_token_type_ids"])


@pytest.mark.parametrize("name,loader", TOKENIZERS)
def test_text_spelling_special_tokens_is_text(name, loader):
    tokenizer = _load(name, loader)
    special_ids = set(_golden(name)["tokenizer"]["special_ids"].values())
    for spelling in ("[SEP]", "[CLS]", "[MASK]", "<s>", "</s>", "<mask>", "<|endoftext|>"):
        assert not special_ids & set(tokenizer.encode(f"a {spelling}{spelling} b")), spelling


def test_pre_tokenizer_leaves_the_last_space_of_a_run_to_the_word():
    text = "a  b\n\n c  "
    assert [text[s:e] for s, e in pre_tokenize(text)] == ["a", " ", " b", "\n\n", " c", "  "]


def test_pair_truncation_is_longest_first_with_the_template():
    roberta = _load("bpe-roberta-small", "files")
    ids, types = roberta.encode_pair("one two three four five six", "seven", 8)
    prefix, middle, suffix, _ = roberta.template
    assert len(ids) == 8 and ids[0] == prefix[0] and ids[-1] == suffix[0] and types == [0] * 8
    bert = _load("bert-uncased-minilm", "vocab.txt")
    one, two, four = (bert.encode(w)[0] for w in ("one", "two", "four"))
    # 3 + 3 tokens into a budget of 3: equal lengths, so the response loses the odd token.
    assert bert.encode_pair("one two three", "four five six", 6) == ([bert.cls_id, one, two, bert.sep_id, four, bert.sep_id],
                                                                     [0, 0, 0, 0, 1, 1])
