"""``python3 -m edgeguard_train <stage> ...``: one argparse subcommand per pipeline stage.

Stage modules are imported only when their stage runs (or its ``--help`` is asked for), so the
top-level help works without torch or a stage that is not installed yet, and a slow import is
paid only by the stage that needs it. Each module exposes ``add_arguments(parser)``,
``run(args) -> int`` and a docstring whose first line is the stage's help text.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

STAGES = {
    "augment": "edgeguard_train.augment",
    "label": "edgeguard_train.label",
    "distill": "edgeguard_train.distill",
    "evaluate": "edgeguard_train.evaluate",
    "export": "edgeguard_train.export",
    "train-tokenizer": "edgeguard_train.train_tokenizer",
}

_ABOUT = {
    "augment": "generate harmful instructions and responses with an LLM (HarmAug)",
    "label": "label prompt/response pairs with a teacher guard's P(unsafe)",
    "distill": "train or distill a DeBERTa-v3 guard (CE + KL to teacher soft labels)",
    "evaluate": "metrics overall and per source of a guard on a JSONL dataset",
    "export": "export a guard as a Hugging Face directory and ONNX",
    "train-tokenizer": "train a SentencePiece Unigram vocabulary with DeBERTa-v3's special ids",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m edgeguard_train",
        description="HarmAug distillation pipeline for EdgeGuard guard models.",
        epilog="Run `python3 -m edgeguard_train <stage> --help` for a stage's options.")
    sub = parser.add_subparsers(dest="stage", metavar="<stage>")
    for name in STAGES:
        sub.add_parser(name, help=_ABOUT[name], add_help=False)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in STAGES:
        _parser().parse_args(argv or ["--help"])
        return 2
    name, rest = argv[0], argv[1:]
    try:
        module = importlib.import_module(STAGES[name])
    except ImportError as e:
        print(f"edgeguard_train: stage {name!r} is not available: {e}", file=sys.stderr)
        return 2
    doc = (module.__doc__ or "").strip()
    parser = argparse.ArgumentParser(prog=f"python3 -m edgeguard_train {name}",
                                     description=doc.splitlines()[0] if doc else None,
                                     epilog="\n".join(doc.splitlines()[1:]).strip() or None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
