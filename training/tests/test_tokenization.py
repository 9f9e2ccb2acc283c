import json
import random

import pytest

from conftest import tokenizer_dir
from edgeguard_train.tokenization import (CLS_ID, SEP_ID, DebertaTokenizer, build_pair, train_unigram,
                                          truncate_longest_first)

TOKENIZERS = ["spm-unigram-2k", "spm-unigram-8k"]


def _golden(name):
    with open(tokenizer_dir(name) / "tokenization.json", encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("name", TOKENIZERS)
def test_single_encodings_equal_the_goldens(name):
    tokenizer = DebertaTokenizer(str(tokenizer_dir(name) / "spm.model"))
    golden = _golden(name)
    for case in golden["cases"]:
        assert tokenizer.encode(case["text"]) == case["ids"], case["text"][:40]
        assert tokenizer.encode_pair(case["text"], None, 10**6) == case["deberta_single_ids"]
    assert tokenizer.mask_id == golden["model"]["special_ids"]["[MASK]"]


@pytest.mark.parametrize("name", TOKENIZERS)
def test_pair_encodings_equal_the_goldens(name):
    tokenizer = DebertaTokenizer(str(tokenizer_dir(name) / "spm.model"))
    for pair in _golden(name)["pairs"]:
        assert tokenizer.encode_pair(pair["text_a"], pair["text_b"], 10**6) == pair["deberta_pair_ids"]


def test_text_spelling_sep_is_not_a_segment_boundary():
    tokenizer = DebertaTokenizer(str(tokenizer_dir("spm-unigram-2k") / "spm.model"))
    ids = tokenizer.encode_pair("a [SEP] b [CLS]", None, 10**6)
    assert ids[0] == CLS_ID and ids[-1] == SEP_ID
    assert CLS_ID not in ids[1:-1] and SEP_ID not in ids[1:-1]


def _one_at_a_time(prompt, response, budget):
    while prompt + response > budget:
        if prompt > response:
            prompt -= 1
        else:
            response -= 1
    return prompt, response


def test_longest_first_truncation_equals_the_one_token_loop():
    rng = random.Random(5)
    for _ in range(5000):
        p, r, budget = rng.randint(0, 60), rng.randint(0, 60), rng.randint(0, 130)
        assert truncate_longest_first(p, r, budget) == _one_at_a_time(p, r, budget)


def test_pair_truncation_cuts_the_response_on_a_tie():
    assert build_pair([10, 11, 12], [20, 21, 22], 6) == [CLS_ID, 10, 11, SEP_ID, 20, SEP_ID]
    assert build_pair([10, 11, 12], [20, 21, 22], 7) == [CLS_ID, 10, 11, SEP_ID, 20, 21, SEP_ID]
    assert build_pair([10, 11, 12], [20, 21, 22], 8) == [CLS_ID, 10, 11, 12, SEP_ID, 20, 21, SEP_ID]
    assert build_pair([10, 11, 12, 13, 14], [20], 6) == [CLS_ID, 10, 11, SEP_ID, 20, SEP_ID]
    assert build_pair([10, 11], [], 10) == [CLS_ID, 10, 11, SEP_ID, SEP_ID]  # empty response keeps its [SEP]
    with pytest.raises(ValueError):
        build_pair([10], [20], 2)


def test_trained_vocabulary_has_the_deberta_v3_layout(tmp_path):
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghijklmnop") for _ in range(rng.randint(2, 7))) for _ in range(300)]
    texts = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(400)] + ["naïve café 東京 🙂"]
    path = train_unigram(texts, str(tmp_path / "spm.model"), 300)
    assert str(tmp_path).encode() not in (tmp_path / "spm.model").read_bytes()  # no machine path inside
    tokenizer = DebertaTokenizer(path)  # checks [PAD]/[CLS]/[SEP] control, [UNK] unknown, byte pieces 4..259
    assert tokenizer.piece_count == 300 and tokenizer.mask_id == 300
    ids = tokenizer.encode("東京 unseen ☃")
    assert 3 not in ids and any(4 <= i < 260 for i in ids)  # byte fallback, no [UNK]
    assert tokenizer.sp.decode(ids) == "東京 unseen ☃"
