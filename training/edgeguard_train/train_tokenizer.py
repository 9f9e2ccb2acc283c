"""Train a small SentencePiece Unigram vocabulary with DeBERTa-v3's special ids and byte fallback.

For students trained from scratch: the 128k DeBERTa-v3 vocabulary alone would be ~100 MB of
embeddings at base width, far beyond an edge model. The result has the layout the runtime checks
([PAD] 0, [CLS] 1, [SEP] 2 control, [UNK] 3, byte pieces 4..259, nmt_nfkc); [MASK] is the id after
the last piece. Training reads ``prompt`` and ``response`` of every row of the given JSONL files, sanitised
(``sanitize.py``) as the runtime will show them to the model.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Iterator, List

from .jsonl import read_jsonl
from .progress import Progress, summary
from .sanitize import sanitize
from .tokenization import DebertaTokenizer, train_unigram


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", required=True, help="JSONL files whose prompt/response texts train the vocabulary")
    parser.add_argument("--output", required=True, help="path of the spm.model to write")
    parser.add_argument("--vocab-size", type=int, default=8000, help="pieces including the 4 specials and 256 byte pieces (default 8000)")
    parser.add_argument("--character-coverage", type=float, default=0.9995)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --output")


def _texts(paths: List[str], progress: Progress) -> Iterator[str]:
    for path in paths:
        for row in read_jsonl(path):
            for key in ("prompt", "response"):
                text = sanitize(row[key]) if isinstance(row.get(key), str) else ""
                if text.strip():
                    yield text
            progress.update()


def run(args: argparse.Namespace) -> int:
    if os.path.exists(args.output) and not args.overwrite:
        tokenizer = DebertaTokenizer(args.output)
        print(summary("train-tokenizer", skipped="exists", pieces=tokenizer.piece_count, output=args.output))
        return 0
    if args.vocab_size <= 260:
        raise SystemExit("train-tokenizer: --vocab-size must exceed the 260 special and byte pieces")
    started = time.monotonic()
    with Progress("rows read") as progress:
        train_unigram(_texts(args.input, progress), args.output, args.vocab_size,
                      character_coverage=args.character_coverage, num_threads=args.threads)
        rows = progress.done
    tokenizer = DebertaTokenizer(args.output)
    print(summary("train-tokenizer", rows=rows, pieces=tokenizer.piece_count, mask_id=tokenizer.mask_id,
                  seconds=time.monotonic() - started, output=args.output))
    return 0
