"""Binary classification metrics for the unsafe class: F1, precision, recall, AUPRC, accuracy.

Plain numpy, so evaluation needs no scikit-learn; AUPRC is average precision (the step-wise
area scikit-learn's ``average_precision_score`` computes), the number the runtime's ``eval`` reports.
"""

from __future__ import annotations

from typing import Dict, Sequence

import numpy as np


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Sum over thresholds of (recall step) x precision; NaN when there is no positive."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    # Thresholds at distinct scores: the last index of each run of equal scores.
    distinct = np.where(np.diff(s))[0]
    last = np.r_[distinct, y.size - 1]
    tp = np.cumsum(y)[last]
    fp = (last + 1) - tp
    precision = tp / (tp + fp)
    recall = tp / positives
    recall_steps = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_steps * precision))


def binary_metrics(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> Dict[str, float]:
    """Metrics of ``scores`` (P(unsafe)) flagged at ``threshold`` against ``labels`` (1 = unsafe)."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    predicted = s >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    tn = int(np.sum(~predicted & (y == 0)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": int(y.size),
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "auprc": average_precision(y, s),
        "accuracy": (tp + tn) / y.size if y.size else float("nan"),
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }


def f1_optimal_threshold(labels: Sequence[int], scores: Sequence[float]) -> float:
    """The threshold (one of the scores) at which flagging ``score >= threshold`` gives the highest F1; on a tie the
    highest such threshold (fewest flags). 0.5 when there is no positive."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    positives = int(y.sum())
    if positives == 0:
        return 0.5
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.where(np.diff(s))[0], y.size - 1]  # flagging down to each distinct score
    tp = np.cumsum(y)[last]
    flagged = last + 1
    f1 = 2 * tp / (flagged + positives)
    best = int(np.argmax(f1))  # first maximum = highest threshold
    return float(s[last[best]])
