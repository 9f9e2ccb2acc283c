"""distill-detox: the plausibility mask on a hand example, equal models giving uniform sampling over the plausible set,
every sampled token inside the base model's plausible set, samples fixed by their seed, resume skipping written seeds,
the summary, and the runtime CLI adapter against a fake executable."""

import json
import math
import stat
import sys

import numpy as np
import pytest

from conftest import tiny_decoder_dir
from edgeguard_train.__main__ import main
from edgeguard_train.distill_detox import Decoding, RuntimeCliSampler, summarize
from edgeguard_train.generation import LockStep
from edgeguard_train.generation_metrics import distinct_n
from edgeguard_train.lm_data import DecoderTokenizer
from edgeguard_train.logits_processing import Combiner, LogitsChain, SamplingSettings, contrastive
from edgeguard_train.modeling_decoder import load_pretrained


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return tiny_decoder_dir(root / "base", 1), tiny_decoder_dir(root / "toxic", 2)


def _distill(base, toxic, output, *extra):
    assert main(["distill-detox", "--base", str(base), "--toxic", str(toxic), "--output", str(output),
                 "--max-new-tokens", "12", "--threads", "1", *extra]) == 0
    return [json.loads(line) for line in (output / "samples.jsonl").read_text().splitlines()]


def test_mask_excludes_tokens_below_log_alpha_plus_the_base_maximum_on_a_hand_row():
    # log 0.1 = -2.3026: with the best base logit 1.0 the cutoff is -1.3026.
    base = np.array([1.0, -1.30, -1.31, 0.5, -5.0], dtype=np.float32)
    toxic = np.array([3.0, -2.0, -9.0, 0.0, -9.0], dtype=np.float32)
    row = base.copy()
    contrastive(row, toxic, plausibility=0.1)
    assert row.tolist() == [-2.0, np.float32(-1.30) + np.float32(2.0), -math.inf, 0.5, -math.inf]
    # The toxic model's view of a masked token does not bring it back, however unlikely it finds it.
    assert row[4] == -math.inf and base[4] - toxic[4] > 0


def test_equal_models_score_every_plausible_token_zero_and_sample_uniformly_among_them():
    base = np.array([2.0, 1.5, -3.0, 0.0, 1.9, -0.5], dtype=np.float32)
    plausible = base >= math.log(0.1) + 2.0  # ids 0, 1, 3, 4 (0.0 - 2.0 = -2.0 > -2.30); 2 and 5 fall out
    assert plausible.tolist() == [True, True, False, True, True, False]
    counts = np.zeros(len(base), dtype=int)
    for seed in range(2000):
        chain = LogitsChain(len(base), SamplingSettings(top_k=50, seed=seed), Combiner("contrastive", plausibility=0.1))
        row = base.copy()
        token = chain.next(row, [base.copy()])
        assert row[plausible].tolist() == [0.0] * 4 and (row[~plausible] == -np.inf).all()
        counts[token] += 1
    assert counts[~plausible].sum() == 0
    # Uniform over 4 tokens: 500 each; the base model's own preference (token 0 six times token 3) is gone.
    assert all(420 <= c <= 580 for c in counts[plausible]), counts


@pytest.mark.parametrize("amateur", ["toxic", "base"])
def test_every_sampled_token_lies_in_the_base_models_plausible_set(models, tmp_path, amateur):
    base, toxic = models
    rows = _distill(base, toxic if amateur == "toxic" else base, tmp_path / "out", "--samples", "3")
    reference = load_pretrained(str(base))
    for row in rows:
        group = LockStep([reference], [0])
        for position, token in enumerate(row["tokens"]):
            logits = group.rows[0].astype(np.float64)
            assert logits[token] >= math.log(0.1) + logits.max(), (row["seed"], position)
            if position + 1 < len(row["tokens"]):
                group.step(token)
    tokenizer = DecoderTokenizer.load(str(base))
    for row in rows:
        assert row["text"] == tokenizer.bpe.decode(row["tokens"])
        assert row["finish_reason"] in ("stop", "length")
        assert (row["finish_reason"] == "stop") == (row["tokens"][-1] == tokenizer.eos_id)
        assert row["finish_reason"] == "stop" or len(row["tokens"]) == 12


def test_samples_are_fixed_by_their_seed_and_a_rerun_skips_the_seeds_written(models, tmp_path, capsys):
    base, toxic = models
    full = _distill(base, toxic, tmp_path / "full", "--samples", "5", "--seed", "7")
    assert [r["seed"] for r in full] == [7, 8, 9, 10, 11]
    assert len({tuple(r["tokens"]) for r in full}) == 5

    part = tmp_path / "part"
    first = _distill(base, toxic, part, "--samples", "2", "--seed", "7")
    (part / "samples.jsonl").write_text((part / "samples.jsonl").read_text() + '{"seed": 9, "te')  # a killed writer
    capsys.readouterr()
    resumed = _distill(base, toxic, part, "--samples", "5", "--seed", "7")
    assert "written=3 skipped=2" in capsys.readouterr().out
    assert resumed == full and resumed[:2] == first
    alone = _distill(base, toxic, tmp_path / "alone", "--samples", "1", "--seed", "10")
    assert alone == [full[3]]

    summary = json.loads((part / "summary.json").read_text())
    assert summary["count"] == 5
    assert summary["mean_tokens"] == pytest.approx(sum(len(r["tokens"]) for r in full) / 5)
    assert summary["distinct_2"] == pytest.approx(distinct_n([r["text"] for r in full], 2))
    assert summary["settings"]["beta"] == "inf" and summary["settings"]["top_k"] == 50

    # The toxic model changes what is sampled: the base against itself gives other tokens for the same seeds.
    same = _distill(base, base, tmp_path / "same", "--samples", "5", "--seed", "7")
    assert [r["tokens"] for r in same] != [r["tokens"] for r in full]


def test_a_rerun_with_other_settings_is_refused_unless_overwritten(models, tmp_path):
    base, toxic = models
    _distill(base, toxic, tmp_path / "out", "--samples", "1")
    with pytest.raises(SystemExit, match="top_k: 50 -> 40"):
        _distill(base, toxic, tmp_path / "out", "--samples", "1", "--top-k", "40")
    rows = _distill(base, toxic, tmp_path / "out", "--samples", "1", "--top-k", "40", "--overwrite")
    assert len(rows) == 1


def test_bad_models_are_refused_with_a_message(models, tmp_path):
    base, _ = models
    wide = tiny_decoder_dir(tmp_path / "wide", 3, vocab_size=520)
    with pytest.raises(SystemExit, match="must share one vocabulary"):
        _distill(base, wide, tmp_path / "a", "--samples", "1")
    with pytest.raises(SystemExit, match="no config.json"):
        _distill(base, tmp_path / "missing", tmp_path / "b", "--samples", "1")
    with pytest.raises(SystemExit, match="--plausibility 1.5"):
        _distill(base, base, tmp_path / "c", "--plausibility", "1.5")


def test_summary_is_the_hand_computation():
    rows = [{"text": "a b c a b", "tokens": [1, 2, 3, 4], "finish_reason": "stop"},
            {"text": "a b", "tokens": [5, 6], "finish_reason": "length"}]
    # Bigrams: (a b) (b c) (c a) (a b) + (a b): 3 distinct of 5.
    assert summarize(rows) == {"count": 2, "mean_tokens": 3.0, "distinct_2": 0.6,
                               "finish_reasons": {"length": 1, "stop": 1}}


FAKE_CLI = """#!{python}
import json, sys
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps(args) + "\\n")
seed = int(args[args.index("--seed") + 1])
if seed == 13:
    sys.stderr.write("edgeguard: the model is broken\\n")
    sys.exit(3)
print(json.dumps({{"text": "sample %d" % seed, "tokens": [seed, seed + 1, 0], "finish_reason": "stop", "prompt_tokens": 1}}))
"""


def _fake_cli(tmp_path):
    log = tmp_path / "calls.jsonl"
    path = tmp_path / "edgeguard"
    path.write_text(FAKE_CLI.format(python=sys.executable, log=str(log)))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path, log


def test_runtime_cli_adapter_runs_one_generate_per_seed_and_records_its_json(tmp_path):
    cli, log = _fake_cli(tmp_path)
    base, toxic = tmp_path / "base.gguf", tmp_path / "toxic.gguf"
    base.write_bytes(b"")
    toxic.write_bytes(b"")
    output = tmp_path / "out"
    rows = _distill(base, toxic, output, "--samples", "2", "--seed", "5", "--runtime-cli", str(cli))
    assert rows == [{"seed": 5, "text": "sample 5", "tokens": [5, 6, 0], "finish_reason": "stop"},
                    {"seed": 6, "text": "sample 6", "tokens": [6, 7, 0], "finish_reason": "stop"}]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0] == ["generate", "", "--model", str(base), "--contrast-amateur", str(toxic), "--plausibility", "0.1",
                        "--top-k", "50", "--temperature", "1.0", "--max-tokens", "12", "--seed", "5", "--threads", "1", "--json"]
    assert json.loads((output / "settings.json").read_text())["engine"] == "runtime-cli"

    with pytest.raises(SystemExit, match=r"failed on seed 13 \(exit 3\): edgeguard: the model is broken"):
        _distill(base, toxic, output, "--samples", "10", "--seed", "5", "--runtime-cli", str(cli))
    assert [r["seed"] for r in map(json.loads, (output / "samples.jsonl").read_text().splitlines())] == list(range(5, 13))
    with pytest.raises(SystemExit, match="beta = inf"):
        RuntimeCliSampler(str(cli), str(base), str(toxic), Decoding(0.1, 1.0, 50, 1.0, 12), 1)
    with pytest.raises(SystemExit, match="not an executable"):
        RuntimeCliSampler(str(base), str(base), str(toxic), Decoding(0.1, math.inf, 50, 1.0, 12), 1)
