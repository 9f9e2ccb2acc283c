"""Metrics of the runtime's verdicts: per source, at a threshold chosen on them by a stated rule, and the agreement of two engines.

Reads a labelled JSONL file and what ``edgeguard classify --jsonl <file> --json`` printed for it (one verdict per
line, matched by ``line``): the runtime's own scores, with its sanitising and sliding windows. ``--choose-threshold``
picks the threshold that maximises F1 over all rows (on a tie the highest, which flags least); this is the rule the
default guard's threshold comes from, chosen on dev with the float32 engine and stored in its bundle.
``--compare`` reads a second engine's verdicts on the same file (e.g. int8 against float32) and reports the share of
rows whose decision agrees at the threshold, and the largest score difference. ``--held-out S`` measures a
leave-one-source-out model: the threshold is chosen by the same rule on the rows of the other sources, and ``held_out``
reports source S's rows at it (as the TF-IDF baseline's leave-one-source-out runs are measured).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from typing import Any, Dict, List

from .jsonl import read_jsonl
from .metrics import binary_metrics, f1_optimal_threshold
from .progress import summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the labelled JSONL file that was classified")
    parser.add_argument("--scores", required=True, help="`edgeguard classify --jsonl DATA --json` output for it")
    parser.add_argument("--compare", help="another engine's classify output for the same file")
    threshold = parser.add_mutually_exclusive_group()
    threshold.add_argument("--threshold", type=float, help="flag at this unsafe score (default: the threshold the verdicts carry)")
    threshold.add_argument("--choose-threshold", action="store_true", help="flag at the F1-optimal threshold over all rows")
    threshold.add_argument("--held-out", metavar="SOURCE",
                           help="choose the F1-optimal threshold on the other sources' rows and report SOURCE's rows at it")
    parser.add_argument("--json", help="write the report to this JSON file")


def read_scores(path: str, rows: int) -> List[Dict[str, Any]]:
    """The verdicts in line order; every data line must have one."""
    by_line: Dict[int, Dict[str, Any]] = {}
    for verdict in read_jsonl(path):
        if "line" not in verdict or "unsafe_score" not in verdict:
            raise SystemExit(f"score-report: {path}: a line without 'line' and 'unsafe_score' ({verdict.get('error', verdict)})")
        by_line[int(verdict["line"])] = verdict
    missing = [n for n in range(1, rows + 1) if n not in by_line]
    if missing:
        raise SystemExit(f"score-report: {path}: no verdict for {len(missing)} of {rows} lines (first: line {missing[0]})")
    return [by_line[n] for n in range(1, rows + 1)]


def report(rows: List[Dict[str, Any]], scores: List[float], threshold: float) -> Dict[str, Any]:
    labels = [1 if r["label"] == "unsafe" else 0 for r in rows]
    by_source: Dict[str, List] = defaultdict(list)
    for r, y, s in zip(rows, labels, scores):
        by_source[str(r.get("source") or "unknown")].append((y, s))
    return {"threshold": threshold, "overall": binary_metrics(labels, scores, threshold),
            "per_source": {k: binary_metrics([y for y, _ in v], [s for _, s in v], threshold) for k, v in sorted(by_source.items())}}


def run(args: argparse.Namespace) -> int:
    rows = list(read_jsonl(args.data))
    verdicts = read_scores(args.scores, len(rows))
    scores = [float(v["unsafe_score"]) for v in verdicts]
    labels = [1 if r["label"] == "unsafe" else 0 for r in rows]
    if args.held_out:
        others = [i for i, r in enumerate(rows) if r.get("source") != args.held_out]
        if len(others) == len(rows):
            raise SystemExit(f"score-report: {args.data} has no row of source {args.held_out}")
        threshold = f1_optimal_threshold([labels[i] for i in others], [scores[i] for i in others])
    elif args.choose_threshold:
        threshold = f1_optimal_threshold(labels, scores)
    elif args.threshold is not None:
        threshold = args.threshold
    else:
        threshold = float(verdicts[0]["threshold"])
    result = report(rows, scores, threshold)
    fields: Dict[str, Any] = {"rows": len(rows), "threshold": threshold, "f1": result["overall"]["f1"], "auprc": result["overall"]["auprc"]}
    if args.held_out:
        result["held_out"] = dict(result["per_source"][args.held_out], source=args.held_out)
        fields.update(held_out=args.held_out, held_out_f1=result["held_out"]["f1"], held_out_auprc=result["held_out"]["auprc"])
    if args.compare:
        other = [float(v["unsafe_score"]) for v in read_scores(args.compare, len(rows))]
        agree = sum((a >= threshold) == (b >= threshold) for a, b in zip(scores, other))
        result["compare"] = {"file": args.compare, "decisions_agree": agree, "rows": len(rows),
                             "max_abs_score_diff": max(abs(a - b) for a, b in zip(scores, other)),
                             "mean_abs_score_diff": sum(abs(a - b) for a, b in zip(scores, other)) / len(rows),
                             "other": report(rows, other, threshold)}
        fields.update(agree=f"{agree}/{len(rows)}", max_abs_score_diff=result["compare"]["max_abs_score_diff"],
                      mean_abs_score_diff=result["compare"]["mean_abs_score_diff"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    print(summary("score-report", **fields))
    return 0
