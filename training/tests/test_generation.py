import json
import shutil

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT
from edgeguard_train import generation_golden
from edgeguard_train.generation import LockStep, generate
from edgeguard_train.logits_processing import Combiner, LogitsChain, SamplingSettings
from edgeguard_train.modeling_decoder import load_pretrained

FIXTURES = REPO_ROOT / "tests" / "fixtures"
GOLDEN = FIXTURES / "generation" / "golden.json"


def model(relative):
    return load_pretrained(str(FIXTURES / relative), dtype=torch.float64)


def test_golden_and_models_are_what_the_reference_writes(tmp_path):
    shutil.copytree(FIXTURES / "decoders" / "llama-gqa-tied", tmp_path / "decoders" / "llama-gqa-tied")
    written = generation_golden.write(str(tmp_path))
    assert open(written, encoding="utf-8").read() == GOLDEN.read_text(encoding="utf-8")
    for directory in (FIXTURES / "generation").iterdir():
        if directory.is_dir():
            for file in directory.iterdir():
                assert (tmp_path / "generation" / directory.name / file.name).read_bytes() == file.read_bytes(), file


def test_golden_cases_replay_with_generate():
    document = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert document["format"] == generation_golden.FORMAT
    models = {}
    for case in document["cases"]:
        members = [models.setdefault(name, model(name)) for name in case["models"]]
        tokens, reason = generate(members, case["prompt"], generation_golden.settings_from_json(case["settings"]),
                                  generation_golden.combiner_from_json(case["combiner"]), case["max_new_tokens"],
                                  case["stop_token_ids"])
        assert (tokens, reason) == (case["expected_tokens"], case["finish_reason"]), case["name"]


def test_offset_with_alpha_zero_or_equal_partners_gives_the_base_tokens():
    b, s_prime, s0 = model(generation_golden.BASE), model("generation/offset-unlearned"), model("generation/offset-original")
    settings = SamplingSettings(temperature=0.9, top_k=30, seed=99)
    alone, _ = generate([b], [10, 20, 30], settings, max_new_tokens=20)
    zero, _ = generate([b, s_prime, s0], [10, 20, 30], settings, Combiner("offset", alpha=0.0), max_new_tokens=20)
    same, _ = generate([b, s0, s0], [10, 20, 30], settings, Combiner("offset", alpha=1.0), max_new_tokens=20)
    moved, _ = generate([b, s_prime, s0], [10, 20, 30], settings, Combiner("offset", alpha=1.0), max_new_tokens=20)
    assert zero == alone and same == alone
    assert moved != alone


def test_contrastive_with_the_amateur_equal_to_the_expert_is_uniform_over_the_plausible_set():
    b = model(generation_golden.BASE)
    group = LockStep([b, b], [5, 6, 7])
    expert = group.rows[0].copy()
    row = expert.copy()
    LogitsChain(len(row), SamplingSettings(seed=1), Combiner("contrastive", plausibility=0.1)).process(row, [group.rows[1].copy()])
    plausible = expert.astype(np.float64) >= np.log(0.1) + float(expert.max())
    assert plausible.sum() >= 1
    assert (row[plausible] == 0).all() and (row[~plausible] == -np.inf).all()


def test_a_group_with_different_vocabularies_or_a_prompt_beyond_the_context_is_refused():
    b = model(generation_golden.BASE)
    with pytest.raises(ValueError, match="vocabularies differ"):
        generate([b, model("decoders/qwen2-tied-one-kv-head")], [1, 2], SamplingSettings())
    with pytest.raises(ValueError, match="more than the context of 64"):
        generate([b], list(range(3, 68)), SamplingSettings())


def test_generation_stops_at_a_stop_token_and_at_a_full_context():
    b = model(generation_golden.BASE)
    tokens, reason = generate([b], list(range(3, 63)), SamplingSettings(seed=3), max_new_tokens=10)
    assert (len(tokens), reason) == (5, "length")
    first, _ = generate([b], [9, 8, 7], SamplingSettings(seed=4), max_new_tokens=6)
    stopped, reason = generate([b], [9, 8, 7], SamplingSettings(seed=4), max_new_tokens=6, stop_token_ids=[first[0]])
    assert (stopped, reason) == ([first[0]], "stop")
