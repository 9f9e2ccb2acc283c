"""Guards as scorers: a callable that takes (prompt, response) pairs and returns each pair's P(unsafe).

Stages that judge generated text (``pt-align-pairs`` picks the least and most harmful of sampled responses) take any
such callable. Two are built in: ``RuntimeCliGuard`` runs the runtime's ``edgeguard classify --jsonl -`` once per call
and reads its verdict lines (the shipped guard, int8 kernels and sliding windows exactly as deployed), and
``TorchGuard`` loads a guard directory that ``distill`` wrote and scores in this process (sanitised text, the runtime's
windows, a pair scored by its highest window, as ``evaluate --windows all`` does).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
from typing import Callable, List, Optional, Sequence, Tuple

import torch

TextPair = Tuple[str, Optional[str]]
GuardScorer = Callable[[Sequence[TextPair]], List[float]]


class GuardError(RuntimeError):
    """A guard could not score the texts it was given; the message says which and why."""


class RuntimeCliGuard:
    """``edgeguard classify --model MODEL --jsonl -``: one process per call, every pair one input line (with its index
    as ``id``), one verdict line back per input line, in order. Exit code 1 only means something was flagged."""

    def __init__(self, executable: str, model: str, threads: int = 0, extra: Sequence[str] = ()) -> None:
        if not os.path.isfile(executable) or not os.access(executable, os.X_OK):
            raise SystemExit(f"{executable}: not an executable file (the runtime's edgeguard CLI)")
        self.command = [executable, "classify", "--model", model, "--jsonl", "-"]
        if threads:
            self.command += ["--threads", str(threads)]
        self.command += list(extra)
        self.name = f"edgeguard-cli:{model}"

    def __call__(self, pairs: Sequence[TextPair]) -> List[float]:
        if not pairs:
            return []
        lines = "".join(json.dumps({"id": i, "prompt": p, "response": r}, ensure_ascii=False) + "\n"
                        for i, (p, r) in enumerate(pairs))
        done = subprocess.run(self.command, input=lines.encode("utf-8"), capture_output=True)
        stderr = done.stderr.decode("utf-8", errors="replace").strip()
        if done.returncode not in (0, 1):
            raise GuardError(f"{' '.join(self.command)} exited with {done.returncode}: {stderr or '(no message)'}")
        return parse_verdict_lines(done.stdout.decode("utf-8", errors="replace"), len(pairs), self.name)


def parse_verdict_lines(stdout: str, expected: int, name: str = "edgeguard") -> List[float]:
    """The ``unsafe_score`` of each verdict line (``{"id": i, "line": n, "flagged": ..., "unsafe_score": s, ...}``), by
    ``id``; an error line (``{"id": i, "line": n, "error": ...}``) or a missing, repeated or malformed verdict raises."""
    scores: List[Optional[float]] = [None] * expected
    for number, line in enumerate(stdout.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            verdict = json.loads(line)
        except json.JSONDecodeError as e:
            raise GuardError(f"{name}: output line {number} is not JSON ({e}): {line[:200]!r}") from None
        if not isinstance(verdict, dict):
            raise GuardError(f"{name}: output line {number} is not a JSON object: {line[:200]!r}")
        index = verdict.get("id")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < expected:
            raise GuardError(f"{name}: output line {number} has id {index!r}, not one of the 0..{expected - 1} sent")
        if "error" in verdict:
            raise GuardError(f"{name}: input {index} was not classified: {verdict['error']}")
        score = verdict.get("unsafe_score")
        if not isinstance(score, (int, float)) or isinstance(score, bool) or not 0.0 <= score <= 1.0:
            raise GuardError(f"{name}: output line {number} has no unsafe_score in [0, 1]: {line[:200]!r}")
        if scores[index] is not None:
            raise GuardError(f"{name}: input {index} was scored twice")
        scores[index] = float(score)
    missing = [i for i, s in enumerate(scores) if s is None]
    if missing:
        raise GuardError(f"{name}: no verdict for {len(missing)} of {expected} inputs (first: {missing[0]})")
    return [float(s) for s in scores]  # type: ignore[arg-type]


class TorchGuard:
    """A guard directory (DeBERTa-v3 or BERT family, as ``distill`` saves it) scored in this process."""

    def __init__(self, directory: str, max_length: Optional[int] = None, batch_size: int = 32) -> None:
        from .guard_models import load_guard, max_positions

        if not os.path.exists(os.path.join(directory, "config.json")):
            raise SystemExit(f"{directory}: no config.json (a guard directory, as distill writes it)")
        self.model, self.tokenizer = load_guard(directory)
        self.model.eval()
        self.max_length = max_length or min(512, max_positions(self.model))
        self.batch_size = batch_size
        self.name = f"torch:{directory}"

    def __call__(self, pairs: Sequence[TextPair]) -> List[float]:
        from .data import Example, encode_rows, predict, row_scores
        from .sanitize import sanitize

        examples = []
        for index, (prompt, response) in enumerate(pairs):
            clean_response = sanitize(response) if response is not None else None
            for ids, types in encode_rows(self.tokenizer, sanitize(prompt), clean_response, self.max_length, "all"):
                examples.append(Example(ids, -1, math.nan, "", {}, types, index))
        if not examples:
            return []
        with torch.no_grad():
            scores = predict(self.model, examples, self.batch_size)
        return row_scores(examples, scores)[1]


def add_guard_arguments(parser: argparse.ArgumentParser) -> None:
    """``--guard-cli``/``--guard-model`` (the runtime) or ``--guard-dir`` (PyTorch)."""
    group = parser.add_argument_group("guard", "scores each (instruction, response) pair's P(unsafe)")
    group.add_argument("--guard-cli", metavar="PATH", help="the runtime's edgeguard executable; with --guard-model")
    group.add_argument("--guard-model", metavar="MODEL", help="the model edgeguard opens: a bundle (.gguf) or a guard directory")
    group.add_argument("--guard-dir", metavar="DIR", help="a guard directory (distill's output) scored with PyTorch in this process")
    group.add_argument("--guard-threads", type=int, default=0, help="threads of the runtime guard (0 = its default)")
    group.add_argument("--guard-max-length", type=int, help="tokens per window of the PyTorch guard (default: its position table, at most 512)")


def guard_from_args(args: argparse.Namespace, required: bool) -> Optional[GuardScorer]:
    """The guard the arguments name, None when they name none (an error when ``required``)."""
    if args.guard_cli and args.guard_dir:
        raise SystemExit("give --guard-cli (with --guard-model) or --guard-dir, not both")
    if args.guard_cli:
        if not args.guard_model:
            raise SystemExit("--guard-cli needs --guard-model (the model the runtime opens)")
        return RuntimeCliGuard(args.guard_cli, args.guard_model, args.guard_threads)
    if args.guard_model:
        raise SystemExit("--guard-model needs --guard-cli (the edgeguard executable that opens it)")
    if args.guard_dir:
        return TorchGuard(args.guard_dir, args.guard_max_length)
    if required:
        raise SystemExit("a guard is needed: --guard-cli PATH --guard-model MODEL, or --guard-dir DIR")
    return None
