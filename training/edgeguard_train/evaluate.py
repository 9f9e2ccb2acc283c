"""Evaluate a guard on a labelled JSONL dataset: F1, precision, recall, AUPRC, accuracy, overall and per source.

Inputs longer than ``--max-length`` are truncated longest-first, or with ``--windows all`` covered by the runtime's
sliding windows and scored by their highest window, as the runtime's ``eval`` does by default.
``--choose-threshold`` reports the dev rule's threshold: the one that maximises F1 over all rows. ``--predictions``
writes every input row with the model's ``teacher_unsafe_prob`` added: with a teacher model, that file is
the soft-labelled training set for ``distill``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import defaultdict
from typing import Any, Dict, List

import torch

from .data import load_examples, predict, row_scores
from .guard_models import load_guard, max_positions
from .jsonl import write_jsonl
from .metrics import binary_metrics, f1_optimal_threshold
from .progress import Progress, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="Hugging Face guard directory: DeBERTa-v3 or BERT family")
    parser.add_argument("--data", required=True, help="JSONL with prompt, response, label, source")
    parser.add_argument("--max-length", type=int, help="tokens per example (default: the model's max_position_embeddings, at most 512)")
    parser.add_argument("--threshold", type=float, default=0.5, help="P(unsafe) at which a row is flagged")
    parser.add_argument("--windows", choices=["none", "all"], default="none",
                        help="none: truncate longest-first; all: the runtime's sliding windows, a row scored by its highest window")
    parser.add_argument("--choose-threshold", action="store_true",
                        help="flag at the threshold that maximises F1 over all rows instead of --threshold (and report it)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json", help="write the metrics (overall and per source) to this JSON file")
    parser.add_argument("--predictions", help="write the input rows with teacher_unsafe_prob added to this JSONL file")
    parser.add_argument("--limit", type=int, help="only the first N rows")
    parser.add_argument("--every", type=int, default=1, help="only every N-th row (a sample spread over a file sorted by source)")
    parser.add_argument("--no-sanitize", action="store_true",
                        help="tokenize the texts as they are, without input sanitising (as the runtime's --no-sanitize)")


def evaluate_rows(model, tokenizer, path: str, max_length: int,
                  threshold: float = 0.5, batch_size: int = 64, limit: int = None, every: int = 1,
                  sanitize_input: bool = True, windows: str = None, choose_threshold: bool = False) -> Dict[str, Any]:
    examples = load_examples(path, tokenizer, max_length, None, limit, every, sanitize_input, windows=windows)
    with Progress("evaluate", len(examples)) as bar:
        scores = predict(model, examples, batch_size, bar)
    examples, scores = row_scores(examples, scores)
    if choose_threshold:
        threshold = f1_optimal_threshold([e.label for e in examples if e.label >= 0], [s for e, s in zip(examples, scores) if e.label >= 0])
    labelled = [(e, s) for e, s in zip(examples, scores) if e.label >= 0]
    by_source: Dict[str, List] = defaultdict(list)
    for e, s in labelled:
        by_source[e.source].append((e.label, s))
    result = {
        "overall": binary_metrics([e.label for e, _ in labelled], [s for _, s in labelled], threshold),
        "per_source": {src: binary_metrics([y for y, _ in pairs], [s for _, s in pairs], threshold)
                       for src, pairs in sorted(by_source.items())},
        "threshold": threshold,
        "max_length": max_length,
    }
    return {"metrics": result, "examples": examples, "scores": scores}


def format_table(metrics: Dict[str, Any]) -> str:
    def row(name: str, m: Dict[str, Any]) -> str:
        auprc = "   n/a" if math.isnan(m["auprc"]) else f"{m['auprc']:.4f}"
        return f"{name:<22}{m['n']:>6}  {m['f1']:.4f}  {m['precision']:.4f}  {m['recall']:.4f}  {auprc}  {m['accuracy']:.4f}"
    lines = [f"{'source':<22}{'n':>6}  {'f1':<6}  {'prec':<6}  {'recall':<6}  {'auprc':<6}  {'acc':<6}",
             row("overall", metrics["overall"])]
    lines += [row(src, m) for src, m in metrics["per_source"].items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.monotonic()
    model, tokenizer = load_guard(args.model)
    max_length = args.max_length or min(512, max_positions(model))
    out = evaluate_rows(model, tokenizer, args.data, max_length, args.threshold, args.batch_size, args.limit, args.every,
                        sanitize_input=not args.no_sanitize, windows=None if args.windows == "none" else args.windows,
                        choose_threshold=args.choose_threshold)
    metrics = out["metrics"]
    print(format_table(metrics))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(metrics, f, indent=2)
    if args.predictions:
        write_jsonl(args.predictions, (dict(e.row, teacher_unsafe_prob=s) for e, s in zip(out["examples"], out["scores"])))
    overall = metrics["overall"]
    print(summary("evaluate", rows=len(out["examples"]), threshold=metrics["threshold"], f1=overall["f1"], auprc=overall["auprc"],
                  accuracy=overall["accuracy"], seconds=time.monotonic() - started))
    return 0
