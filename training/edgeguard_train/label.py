"""Label prompt/response rows with a Llama Guard teacher's P(unsafe), the soft labels of distillation.

Each row of the input (dataset schema) is copied to the output with ``teacher_unsafe_prob``: the
teacher's probability of answering "unsafe" rather than "safe" as the first token of its verdict on
the prompt (prompt-only rows) or on the response (pairs), read from the first token's log-probabilities;
see ``llm_backends.unsafe_probability_from_top_logprobs`` for the normalisation. ``teacher`` names
the model. The hard ``label`` stays as it was unless ``--relabel`` replaces it with the teacher's
verdict at ``--threshold`` (the old one is kept in ``label_before_teacher``); HarmAug's synthetic
rows carry only an intended label, so relabel them.

Resumable by id: rows already in the output are skipped, finished rows are appended one by one in
input order. A row whose request still fails after the retries is skipped and counted (its id is
logged); a rerun picks it up. Requests run ``--concurrency`` at a time.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import logging
import sys
import time
from typing import Any, Deque, Dict, Tuple

from .jsonl import JsonlAppender, JsonlError, done_keys, read_jsonl
from .llm_backends import (LLMBackendError, LLMHTTPError, add_backend_arguments, add_request_arguments,
                           backend_from_args)
from .progress import Progress, summary

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, metavar="JSONL", help="rows to label (dataset schema)")
    parser.add_argument("--output", required=True, metavar="JSONL",
                        help="labelled rows to append (created if missing; rows already there are skipped)")
    parser.add_argument("--limit", type=int, metavar="N", help="label at most N rows in this run")
    parser.add_argument("--relabel", action="store_true",
                        help="replace 'label' with the teacher's verdict (old label kept in label_before_teacher)")
    parser.add_argument("--threshold", type=float, default=0.5, metavar="P",
                        help="P(unsafe) at which --relabel says unsafe (default: 0.5)")
    add_backend_arguments(parser, "teacher", "a Llama Guard model, e.g. meta-llama/Llama-Guard-3-8B on vLLM")
    parser.add_argument("--teacher-endpoint", choices=("completions", "chat"), default="completions",
                        help="completions: send the Llama Guard 3 prompt as raw text (default); chat: send the "
                             "conversation and let the server apply the model's own chat template")
    parser.add_argument("--top-logprobs", type=int, default=5, metavar="N",
                        help="log-probabilities asked for the verdict token (default: 5, OpenAI's limit "
                             "for completions; vLLM allows up to its --max-logprobs)")
    add_request_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit code 0 when every row is labelled, 1 when some were skipped after failed requests (rerun to
    retry them), 2 on bad input or a server that rejects the configuration."""
    started = time.monotonic()
    if args.concurrency < 1:
        print("label: --concurrency must be >= 1", file=sys.stderr)
        return 2
    try:
        teacher = backend_from_args(args, "teacher", top_logprobs=args.top_logprobs,
                                    teacher_endpoint=args.teacher_endpoint)
        done = done_keys(args.output)
        total = _count_lines(args.input)
    except (OSError, JsonlError, ValueError, ImportError) as e:
        print(f"label: {e}", file=sys.stderr)
        return 2
    already_done = len(done)
    labelled = errors = 0
    exit_code = 0
    window = 4 * args.concurrency
    pending: Deque[Tuple[Dict[str, Any], concurrent.futures.Future]] = collections.deque()

    def finish_oldest() -> None:
        nonlocal labelled, errors
        row, future = pending.popleft()
        try:
            probability = future.result()
        except LLMBackendError as e:
            if isinstance(e, LLMHTTPError) and e.is_configuration_error:
                raise
            errors += 1
            log.warning("label: %s: skipped: %s", row["id"], e)
        else:
            out.write(_labelled_row(row, probability, teacher.name, args))
            labelled += 1
        progress.update()

    with Progress("label", total) as progress, JsonlAppender(args.output) as out, \
            concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrency) as executor:
        try:
            submitted = 0
            for number, row in enumerate(read_jsonl(args.input), start=1):
                row_id = row.get("id")
                if row_id is None or not isinstance(row.get("prompt"), str) or \
                        not isinstance(row.get("response"), (str, type(None))):
                    raise JsonlError(f"{args.input}: row {number}: needs 'id', a string 'prompt' and a string "
                                     "or null 'response' (dataset schema)")
                if row_id in done:
                    progress.update()
                    continue
                if args.limit is not None and submitted >= args.limit:
                    break
                done.add(row_id)
                pending.append((row, executor.submit(teacher.unsafe_probability, row["prompt"], row["response"])))
                submitted += 1
                while len(pending) >= window:
                    finish_oldest()
            while pending:
                finish_oldest()
        except (JsonlError, OSError) as e:
            # A bad input line: the rows already asked for are still written before stopping.
            print(f"label: {e}", file=sys.stderr)
            exit_code = 2
            try:
                while pending:
                    finish_oldest()
            except LLMHTTPError:
                executor.shutdown(wait=False, cancel_futures=True)
        except LLMHTTPError as e:
            executor.shutdown(wait=False, cancel_futures=True)
            print(f"label: stopping: {e}", file=sys.stderr)
            exit_code = 2
    print(summary("label", labelled=labelled, errors=errors, already_done=already_done,
                  seconds=round(time.monotonic() - started, 2)))
    if exit_code:
        return exit_code
    return 1 if errors else 0


def _count_lines(path: str) -> int:
    """Non-blank lines of ``path``: the progress bar's total, without parsing the JSON twice."""
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _labelled_row(row: Dict[str, Any], probability: float, teacher: str, args: argparse.Namespace) -> Dict[str, Any]:
    labelled = dict(row)
    labelled["teacher_unsafe_prob"] = probability
    labelled["teacher"] = teacher
    if args.relabel:
        labelled["label_before_teacher"] = row.get("label")
        labelled["label"] = "unsafe" if probability >= args.threshold else "safe"
    return labelled
