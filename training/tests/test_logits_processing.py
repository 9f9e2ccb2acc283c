import json
import math

import numpy as np
import pytest

from conftest import REPO_ROOT
from edgeguard_train import logits_golden
from edgeguard_train.logits_processing import (Combiner, LogitsChain, SamplingSettings, SplitMix64, contrastive,
                                               greedy, min_p, offset, repetition_penalty, sample, top_k, top_p,
                                               weighted_mix)

GOLDEN = REPO_ROOT / "tests" / "fixtures" / "logits-processing" / "golden.json"
NEG_INF = -np.inf


def f32(*values):
    return np.array(values, dtype=np.float32)


def test_splitmix64_gives_the_published_sequence_for_seed_1234567():
    g = SplitMix64(1234567)
    assert [g.next_uint64() for _ in range(3)] == [6457827717110365317, 3203168211198807973, 9817491932198370423]


def test_splitmix64_double_is_the_top_53_bits():
    g, h = SplitMix64(99), SplitMix64(99)
    assert g.next_double() == (h.next_uint64() >> 11) / 2.0**53


def test_golden_file_is_what_the_reference_writes(tmp_path):
    written = logits_golden.write(str(tmp_path))
    assert open(written, encoding="utf-8").read() == GOLDEN.read_text(encoding="utf-8")


def test_golden_cases_replay_with_the_reference():
    document = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert document["format"] == logits_golden.FORMAT
    assert len(document["cases"]) >= 20
    for case in document["cases"]:
        s = case["settings"]
        settings = SamplingSettings(s["repetition_penalty"], s["temperature"], s["top_k"], s["top_p"], s["min_p"],
                                    s["seed"])
        chain = LogitsChain(case["vocabulary_size"], settings, logits_golden.combiner_from_json(case["combiner"]))
        rows = [np.array(r, dtype=np.float64).astype(np.float32) for r in case["rows"]]
        tokens = []
        for _ in case["expected_tokens"]:
            tokens.append(chain.next(rows[0].copy(), [r.copy() for r in rows[1:]], case["history"] + tokens))
        assert tokens == case["expected_tokens"], case["name"]


def test_offset_with_alpha_zero_or_equal_partners_is_the_base_bit_for_bit():
    rng = np.random.default_rng(5)
    base = (rng.standard_normal(257) * 40).astype(np.float32)
    base[:4] = f32(-0.0, 0.0, 1e-45, -3e38)
    s_prime, s0 = (rng.standard_normal(257) * 40).astype(np.float32), (rng.standard_normal(257) * 40).astype(np.float32)
    row = base.copy()
    offset(row, s_prime, s0, 0.0)
    assert row.tobytes() == base.tobytes()
    row = base.copy()
    offset(row, s_prime, s_prime.copy(), 1.7)
    assert row.tobytes() == base.tobytes()


def test_offset_adds_alpha_times_the_difference():
    row = f32(1.0, 2.0, 3.0)
    offset(row, f32(0.5, 0.0, -1.0), f32(0.0, 1.0, 1.0), 2.0)
    assert row.tolist() == [2.0, 0.0, -1.0]


def test_contrastive_masks_implausible_tokens_and_subtracts_the_amateur():
    # log 0.1 + 2 = -0.3026: token 2 (-1) is implausible, token 1 (-0.3) just plausible.
    expert, amateur = f32(2.0, -0.3, -1.0, 1.0), f32(1.0, 0.5, -5.0, 3.0)
    contrastive(expert, amateur, 0.1)
    assert expert.tolist() == [1.0, pytest.approx(-0.8), NEG_INF, -2.0]
    expert = f32(2.0, -0.3, -1.0, 1.0)
    contrastive(expert, amateur, 0.1, beta=0.5)  # ℓe + β(ℓe − ℓa)
    assert expert.tolist() == [2.5, pytest.approx(-0.7), NEG_INF, 0.0]


def test_contrastive_with_the_amateur_equal_to_the_expert_is_uniform_over_the_plausible_set():
    rng = np.random.default_rng(8)
    expert = (rng.standard_normal(500) * 0.8).astype(np.float32)
    plausible = expert.astype(np.float64) >= math.log(0.1) + float(expert.max())
    row = expert.copy()
    contrastive(row, expert.copy(), 0.1)
    assert np.all(row[plausible] == 0.0) and np.all(row[~plausible] == NEG_INF)
    assert 1 < plausible.sum() < 500


def test_weighted_mix_accumulates_in_model_order():
    rows = [f32(1.0, -2.0), f32(4.0, 4.0), f32(0.0, 10.0)]
    weighted_mix(rows, (0.5, 0.25, -1.0))
    assert rows[0].tolist() == [1.5, -10.0]


def test_repetition_penalty_divides_positive_multiplies_negative_once_per_token():
    row = f32(2.0, -2.0, 0.0, 3.0)
    repetition_penalty(row, [0, 1, 1, 2, 0], 2.0)
    assert row.tolist() == [1.0, -4.0, 0.0, 3.0]


def test_top_k_keeps_ties_with_the_kth():
    row = f32(1.0, 3.0, 2.0, 2.0, 0.5)
    top_k(row, 2)
    assert row.tolist() == [NEG_INF, 3.0, 2.0, 2.0, NEG_INF]


def test_top_p_follows_the_hugging_face_rule():
    # probabilities 0.5, 0.3, 0.2 (logits are their logs): with p = 0.7 the tail 0.2 ≤ 0.3 goes, 0.5 stays.
    row = np.log(np.array([0.5, 0.3, 0.2])).astype(np.float32)
    top_p(row, 0.7)
    assert row[2] == NEG_INF and np.isfinite(row[:2]).all()
    row = np.log(np.array([0.5, 0.3, 0.2])).astype(np.float32)
    top_p(row, 0.01)
    assert np.isfinite(row).tolist() == [True, False, False]


def test_top_p_masks_a_tail_of_exactly_one_minus_p():
    row = np.zeros(8, dtype=np.float32)  # shares of 1/8, exact: the last two ranks carry exactly 0.25
    top_p(row, 0.75)
    assert np.isfinite(row).tolist() == [True] * 6 + [False] * 2


def test_min_p_drops_tokens_below_the_scaled_best():
    row = np.log(np.array([0.6, 0.3, 0.05, 0.05])).astype(np.float32)
    min_p(row, 0.1)  # keeps p ≥ 0.06
    assert np.isfinite(row).tolist() == [True, True, False, False]
    row = f32(2.0, 1.0, 2.0)
    min_p(row, 1.0)  # strictly below the bound goes: the tied best tokens stay
    assert np.isfinite(row).tolist() == [True, False, True]


def test_greedy_picks_the_lowest_id_among_ties():
    assert greedy(f32(1.0, 5.0, 5.0, -1.0)) == 1


def test_sample_inverts_the_cdf_in_token_order():
    row = np.log(np.array([0.25, 0.25, 0.5])).astype(np.float32)
    assert [sample(row, u) for u in (0.0, 0.2499, 0.26, 0.51, 0.999)] == [0, 0, 1, 2, 2]
    assert sample(f32(NEG_INF, 0.0, NEG_INF), 0.99) == 1
    assert [sample(np.zeros(4, dtype=np.float32), u) for u in (0.0, 0.25)] == [0, 1]


def test_seeded_chains_repeat_and_seeds_differ():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal(64).astype(np.float32)

    def run(seed):
        chain = LogitsChain(64, SamplingSettings(seed=seed, top_p=0.95))
        return [chain.next(logits.copy()) for _ in range(20)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_temperature_zero_is_greedy_and_ignores_filters():
    chain = LogitsChain(4, SamplingSettings(temperature=0.0, top_k=1, top_p=0.1, min_p=0.9, seed=1))
    assert chain.next(f32(0.0, 2.0, 2.0, 1.0)) == 1


@pytest.mark.parametrize("settings, message", [
    (dict(temperature=-1.0), "temperature"), (dict(temperature=math.inf), "temperature"),
    (dict(top_k=0), "top-k"), (dict(top_p=0.0), "top-p"), (dict(top_p=1.5), "top-p"),
    (dict(min_p=-0.1), "min-p"), (dict(repetition_penalty=0.0), "repetition penalty"),
])
def test_settings_out_of_range_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        LogitsChain(8, SamplingSettings(**settings))


def test_bad_rows_are_refused_before_anything_changes():
    chain = LogitsChain(3, SamplingSettings(), Combiner("offset"))
    base = f32(1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="share one vocabulary"):
        chain.next(base, [f32(1.0, 2.0), f32(1.0, 2.0)])
    with pytest.raises(ValueError, match="must be finite"):
        chain.next(base, [f32(1.0, np.nan, 0.0), f32(0.0, 0.0, 0.0)])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        chain.next(base, [f32(0, 0, 0), f32(0, 0, 0)], [3])
    assert base.tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="empty"):
        greedy(f32())
    with pytest.raises(ValueError, match="at least one token"):
        LogitsChain(0, SamplingSettings())


def test_overflow_is_reported_not_sampled():
    chain = LogitsChain(2, SamplingSettings(temperature=1e-38))
    with pytest.raises(ValueError, match="overflowed"):
        chain.next(f32(100.0, 1.0))
