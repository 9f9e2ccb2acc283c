"""Teacher soft labels from the runtime's verdicts: the rows with ``teacher_unsafe_prob`` added, for ``distill``.

The runtime classifies a training file far faster than PyTorch does (``edgeguard classify --jsonl train.jsonl --model
teacher.gguf --json``, sliding windows and all), so a teacher that is a runtime model labels its students' data that
way. With several verdict files (an ensemble of teachers) the soft label is the mean of their unsafe scores.
"""

from __future__ import annotations

import argparse
from typing import List

from .jsonl import read_jsonl, write_jsonl
from .progress import summary
from .score_report import read_scores


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="the JSONL file that was classified")
    parser.add_argument("--verdicts", required=True, nargs="+", help="`edgeguard classify --jsonl DATA --json` output, one per teacher")
    parser.add_argument("--output", required=True, help="JSONL to write: the data rows with teacher_unsafe_prob")
    parser.add_argument("--field", default="teacher_unsafe_prob", help="the soft-label field (default: teacher_unsafe_prob)")
    parser.add_argument("--mean-verdicts", help="also write the teachers' mean as verdict lines, so `score-report` can measure the "
                                                "ensemble itself (on dev, say)")


def run(args: argparse.Namespace) -> int:
    rows = list(read_jsonl(args.data))
    teachers: List[List[float]] = [[float(v["unsafe_score"]) for v in read_scores(path, len(rows))] for path in args.verdicts]
    soft = [sum(scores) / len(scores) for scores in zip(*teachers)]
    written = write_jsonl(args.output, (dict(row, **{args.field: p}) for row, p in zip(rows, soft)))
    if args.mean_verdicts:
        write_jsonl(args.mean_verdicts, ({"line": line, "unsafe_score": p} for line, p in enumerate(soft, start=1)))
    print(summary("soft-labels", rows=written, teachers=len(teachers), mean=sum(soft) / max(1, len(soft))))
    return 0
