import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import TRAINING, run_env
from edgeguard_train.metrics import average_precision, binary_metrics


def test_metrics_match_scikit_learn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, 500)
    scores = np.round(rng.random(500) * 0.6 + labels * 0.3, 2)  # ties included
    ours = binary_metrics(labels, scores, 0.5)
    assert ours["auprc"] == pytest.approx(sklearn_metrics.average_precision_score(labels, scores), abs=1e-12)
    predicted = scores >= 0.5
    assert ours["f1"] == pytest.approx(sklearn_metrics.f1_score(labels, predicted), abs=1e-12)
    assert ours["precision"] == pytest.approx(sklearn_metrics.precision_score(labels, predicted), abs=1e-12)
    assert ours["recall"] == pytest.approx(sklearn_metrics.recall_score(labels, predicted), abs=1e-12)
    assert ours["accuracy"] == pytest.approx(sklearn_metrics.accuracy_score(labels, predicted), abs=1e-12)


def test_auprc_is_undefined_without_positives():
    assert np.isnan(average_precision([0, 0], [0.1, 0.9]))


def test_evaluate_reports_overall_and_per_source_and_writes_soft_labels(tiny_model_dir, small_dataset, tmp_path):
    metrics_path, predictions = tmp_path / "m.json", tmp_path / "p.jsonl"
    result = subprocess.run([sys.executable, "-m", "edgeguard_train", "evaluate", "--model", str(tiny_model_dir),
                             "--data", str(small_dataset), "--json", str(metrics_path), "--predictions", str(predictions)],
                            env=run_env(), cwd=str(TRAINING), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("evaluate: rows=48")
    metrics = json.loads(metrics_path.read_text())
    rows = [json.loads(line) for line in small_dataset.read_text().splitlines()]
    sources = {r["source"] for r in rows}
    assert set(metrics["per_source"]) == sources and len(sources) > 3
    assert metrics["overall"]["n"] == 48 == sum(m["n"] for m in metrics["per_source"].values())
    written = [json.loads(line) for line in predictions.read_text().splitlines()]
    assert [w["id"] for w in written] == [r["id"] for r in rows]
    assert all(0.0 <= w["teacher_unsafe_prob"] <= 1.0 for w in written)
