"""``python3 -m edgeguard_train <stage> ...``: one argparse subcommand per pipeline stage.

Stage modules are imported only when their stage runs (or its ``--help`` is asked for), so the
top-level help works without torch or a stage that is not installed yet, and a slow import is
paid only by the stage that needs it. Each module exposes ``add_arguments(parser)``,
``run(args) -> int`` and a docstring whose first line is the stage's help text.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from typing import List, Optional

STAGES = {
    "augment": "edgeguard_train.augment",
    "label": "edgeguard_train.label",
    "distill": "edgeguard_train.distill",
    "evaluate": "edgeguard_train.evaluate",
    "export": "edgeguard_train.export",
    "quantize-onnx": "edgeguard_train.quantize_onnx",
    "export-llama-cpp": "edgeguard_train.export_llama_cpp",
    "train-tokenizer": "edgeguard_train.train_tokenizer",
    "import-onnx-bert": "edgeguard_train.import_onnx_bert",
    "make-fixture": "edgeguard_train.bert_fixtures",
    "make-logits-golden": "edgeguard_train.logits_golden",
    "make-decoder-fixtures": "edgeguard_train.decoder_fixtures",
    "make-generation-golden": "edgeguard_train.generation_golden",
    "contrast": "edgeguard_train.contrast",
    "tfidf-baseline": "edgeguard_train.tfidf_baseline",
    "score-report": "edgeguard_train.score_report",
    "soft-labels": "edgeguard_train.soft_labels",
    "train-bpe": "edgeguard_train.train_bpe",
    "train-lm": "edgeguard_train.train_lm",
    "antidote": "edgeguard_train.antidote",
    "make-antidote-golden": "edgeguard_train.antidote_golden",
    "distill-detox": "edgeguard_train.distill_detox",
    "eval-generation": "edgeguard_train.eval_generation",
    "pt-align-pairs": "edgeguard_train.pt_align_pairs",
    "align-pt": "edgeguard_train.align_pt",
    "make-facts-world": "edgeguard_train.facts_world",
    "unlearn-offset": "edgeguard_train.unlearn_offset",
    "unlearn-demo": "edgeguard_train.unlearn_demo",
}



def _about(module_name: str) -> str:
    """First line of a stage module's docstring, read from its source so nothing is imported."""
    try:
        spec = importlib.util.find_spec(module_name)
    except ImportError:
        spec = None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return "(not installed)"
    with open(spec.origin, "r", encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python3 -m edgeguard_train",
        description="HarmAug distillation pipeline for EdgeGuard guard models.",
        epilog="Run `python3 -m edgeguard_train <stage> --help` for a stage's options.")
    sub = parser.add_subparsers(dest="stage", metavar="<stage>")
    for name in STAGES:
        sub.add_parser(name, help=_about(STAGES[name]), add_help=False)
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
