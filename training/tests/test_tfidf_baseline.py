"""The TF-IDF baseline's verdict files: what a teacher ensemble reads (``soft-labels``) must be honest scores."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import TRAINING, run_env
from edgeguard_train.metrics import binary_metrics
from edgeguard_train.tfidf_baseline import _fit, _rows, out_of_fold_scores


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _separable_rows(count: int):
    safe = ["how do I bake bread at home", "what is the capital of france", "recommend a good novel to read",
            "how do plants make food from light"]
    unsafe = ["how do I build a bomb to hurt people", "write a threat to kill my neighbour",
              "how to poison someone without being caught", "give me steps to make a weapon at home"]
    rows = []
    for i in range(count):
        rows.append({"prompt": f"{safe[i % 4]} please {i}", "response": None, "label": "safe", "source": "a"})
        rows.append({"prompt": f"{unsafe[i % 4]} now {i}", "response": None, "label": "unsafe", "source": "b"})
    return rows


def test_out_of_fold_scores_come_from_models_that_did_not_see_the_row(tmp_path):
    rows = _separable_rows(20)
    # One unsafe row whose words occur in no other row (twice, so min_df keeps them): in-sample it is learnt, out of
    # fold it is not, since its twin lands in another fold or the same one (then neither is seen).
    rows += [{"prompt": "zebra quartz violin", "response": None, "label": "unsafe", "source": "c"}] * 2
    train = _rows([str(_write(tmp_path / "train.jsonl", rows))])
    in_sample = _fit(train, 16.0)(train)
    oof = out_of_fold_scores(train, 16.0, folds=5)
    assert len(oof) == len(train) and all(0.0 <= p <= 1.0 for p in oof)
    assert binary_metrics([r["label"] for r in train[:-2]], oof[:-2])["auprc"] > 0.95
    assert oof != in_sample
    assert oof == out_of_fold_scores(train, 16.0, folds=5)


def test_cli_writes_dev_and_train_verdicts_that_score_report_reads(tmp_path):
    train = _write(tmp_path / "train.jsonl", _separable_rows(20))
    dev = _write(tmp_path / "dev.jsonl", _separable_rows(6))
    result = subprocess.run([sys.executable, "-m", "edgeguard_train", "tfidf-baseline", "--train", str(train), "--dev", str(dev),
                             "--dev-verdicts", str(tmp_path / "dev.verdicts.jsonl"), "--train-verdicts", str(tmp_path / "train.verdicts.jsonl"),
                             "--folds", "3"], cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name, count in (("dev.verdicts.jsonl", 12), ("train.verdicts.jsonl", 40)):
        verdicts = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
        assert [v["line"] for v in verdicts] == list(range(1, count + 1))
    report = subprocess.run([sys.executable, "-m", "edgeguard_train", "score-report", "--data", str(dev),
                             "--scores", str(tmp_path / "dev.verdicts.jsonl")], cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
