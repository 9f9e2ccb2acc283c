"""TF-IDF + logistic regression baseline on the same rows as a guard: dev per source and leave-one-source-out.

The bar a guard must clear: word 1-2-gram TF-IDF of the prompt and of the response (two vocabularies, so a word in a
response counts apart from the same word in a prompt), then class-balanced logistic regression. ``C`` is chosen on
dev by AUPRC from a small grid. Texts are sanitised as for the guards. ``--loso S`` also trains without source S and
scores S's dev rows, with ``C`` chosen on the dev rows of the other sources, as the guards' leave-one-source-out runs
are measured. Needs scikit-learn (Debian's python3-sklearn).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from typing import Any, Dict, List, Sequence

from .jsonl import read_jsonl
from .metrics import binary_metrics, f1_optimal_threshold
from .progress import summary
from .sanitize import sanitize

C_GRID = (0.25, 1.0, 4.0, 16.0, 64.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, nargs="+", help="training JSONL files")
    parser.add_argument("--dev", required=True, help="dev JSONL (choice of C, metrics per source)")
    parser.add_argument("--loso", action="append", default=[], metavar="SOURCE",
                        help="also train without this source and score its dev rows; repeatable")
    parser.add_argument("--json", help="write the results to this JSON file")
    parser.add_argument("--dev-verdicts", help="write the dev scores (C chosen on dev) as `edgeguard classify --json` verdict lines")
    parser.add_argument("--train-verdicts", help="write out-of-fold scores of the training rows (in the order of --train) as verdict "
                                                 "lines: each fold scored by a model fitted on the others, so a teacher ensemble can use them")
    parser.add_argument("--folds", type=int, default=5, help="folds for --train-verdicts (default 5)")


def _rows(paths: Sequence[str]) -> List[Dict[str, Any]]:
    rows = []
    for path in paths:
        for row in read_jsonl(path):
            rows.append({"prompt": sanitize(row["prompt"]), "response": sanitize(row["response"]) if row.get("response") is not None else "",
                         "label": 1 if row["label"] == "unsafe" else 0, "source": row.get("source") or "unknown"})
    return rows


def _fit(train: List[Dict[str, Any]], c: float):
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    # A field no training row has text in (prompt-only data has no responses) gets no vocabulary of its own.
    fields = [f for f in ("prompt", "response") if any(r[f] for r in train)]
    vectorizers = {f: TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200000) for f in fields}
    x = hstack([vectorizers[f].fit_transform([r[f] for r in train]) for f in fields]).tocsr()
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000).fit(x, [r["label"] for r in train])

    def score(rows: List[Dict[str, Any]]) -> List[float]:
        features = hstack([vectorizers[f].transform([r[f] for r in rows]) for f in fields]).tocsr()
        return model.predict_proba(features)[:, 1].tolist()

    return score


def _best_c(train, dev) -> "tuple[float, Any]":
    best = None
    for c in C_GRID:
        score = _fit(train, c)
        auprc = binary_metrics([r["label"] for r in dev], score(dev))["auprc"]
        if best is None or auprc > best[0]:
            best = (auprc, c, score)
    return best[1], best[2]


def per_source(rows, scores, threshold) -> Dict[str, Any]:
    by_source = defaultdict(list)
    for r, s in zip(rows, scores):
        by_source[r["source"]].append((r["label"], s))
    return {"overall": binary_metrics([r["label"] for r in rows], scores, threshold),
            "per_source": {k: binary_metrics([y for y, _ in v], [s for _, s in v], threshold) for k, v in sorted(by_source.items())}}


def write_verdicts(path: str, scores: Sequence[float], threshold: float) -> None:
    """Scores in the runtime's verdict form (1-based ``line``, ``unsafe_score``, ``threshold``), which ``soft-labels`` and
    ``score-report`` read."""
    with open(path, "w", encoding="utf-8") as f:
        for line, p in enumerate(scores, start=1):
            f.write(json.dumps({"line": line, "unsafe_score": p, "threshold": threshold}) + "\n")


def out_of_fold_scores(train: List[Dict[str, Any]], c: float, folds: int, seed: int = 13) -> List[float]:
    """Every row scored by a model that did not see it (rows assigned to folds at random, seeded)."""
    import random

    if folds < 2:
        raise SystemExit(f"tfidf-baseline: --folds must be at least 2, not {folds}")
    order = list(range(len(train)))
    random.Random(seed).shuffle(order)
    fold_of = {index: k % folds for k, index in enumerate(order)}
    scores = [0.0] * len(train)
    for fold in range(folds):
        held = [i for i in range(len(train)) if fold_of[i] == fold]
        score = _fit([r for i, r in enumerate(train) if fold_of[i] != fold], c)
        for i, p in zip(held, score([train[i] for i in held])):
            scores[i] = p
        print(summary("tfidf-baseline-oof", fold=fold + 1, of=folds, rows=len(held)))
    return scores


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    train, dev = _rows(args.train), _rows([args.dev])
    c, score = _best_c(train, dev)
    scores = score(dev)
    threshold = f1_optimal_threshold([r["label"] for r in dev], scores)
    result: Dict[str, Any] = {"C": c, "threshold": threshold, "dev": per_source(dev, scores, threshold), "loso": {}}
    print(summary("tfidf-baseline", C=c, threshold=threshold, dev_f1=result["dev"]["overall"]["f1"],
                  dev_auprc=result["dev"]["overall"]["auprc"]))
    if args.dev_verdicts:
        write_verdicts(args.dev_verdicts, scores, threshold)
    if args.train_verdicts:
        write_verdicts(args.train_verdicts, out_of_fold_scores(train, c, args.folds), threshold)
    for source in args.loso:
        held_train = [r for r in train if r["source"] != source]
        held_dev = [r for r in dev if r["source"] != source]
        target = [r for r in dev if r["source"] == source]
        if not target:
            raise SystemExit(f"tfidf-baseline: --loso {source}: the dev file has no row of that source")
        c_loso, score_loso = _best_c(held_train, held_dev)
        threshold_loso = f1_optimal_threshold([r["label"] for r in held_dev], score_loso(held_dev))
        metrics = binary_metrics([r["label"] for r in target], score_loso(target), threshold_loso)
        result["loso"][source] = {"C": c_loso, "threshold": threshold_loso, **metrics}
        print(summary("tfidf-baseline-loso", source=source, C=c_loso, f1=metrics["f1"], auprc=metrics["auprc"]))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    print(summary("tfidf-baseline", seconds=time.monotonic() - started))
    return 0
