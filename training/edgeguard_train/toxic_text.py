"""Select the hate and offensive text of the shared datasets: what UniDetox's toxic model is fine-tuned on.

UniDetox fine-tunes its toxic copy of the base model on the hate rows of the Dynamically Generated Hate Speech
dataset, which has no licence and is not in the shared datasets. This selection takes the nearest rows that are:

| source | rows | text |
| --- | --- | --- |
| ``davidson_tweets`` | ``label`` unsafe (Davidson's class 0, hate speech; category ``hate speech``) | ``prompt`` |
| ``hatecheck`` | ``label`` unsafe (HateCheck's hateful functional tests) | ``prompt`` |
| ``toxigen`` | ``label`` unsafe (ToxiGen's toxic statements) | ``prompt`` |
| ``convabuse`` | ``label`` unsafe (strongly abusive utterances to a chatbot) | ``prompt`` |
| ``diasafety`` | ``label`` unsafe and category ``Toxicity Agreement`` (replies agreeing with a toxic context) | ``response`` |

The first four are prompt-only rows, so ``train-lm --text-fields prompt --where label=unsafe --where
source=davidson_tweets --where source=hatecheck --where source=toxigen --where source=convabuse`` selects them alone;
DiaSafety's reply is a different field of a pair row under a category filter, which ``--where`` (every field must
match) cannot join with the other four. This helper writes the union as ``{id, source, text}`` rows, for ``train-lm
--train toxic.jsonl --text-fields text``:

    python3 -m edgeguard_train.toxic_text --input ../shared/datasets/train.jsonl --output work/toxic.jsonl
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence

from .jsonl import read_jsonl, write_jsonl


@dataclass(frozen=True)
class Selection:
    """Rows of ``source`` labelled unsafe (and of ``category`` when given), whose text is ``field``."""
    source: str
    field: str
    category: Optional[str] = None

    def text(self, row: Dict[str, Any]) -> Optional[str]:
        if row.get("source") != self.source or row.get("label") != "unsafe":
            return None
        if self.category is not None and row.get("category") != self.category:
            return None
        value = row.get(self.field)
        return value if isinstance(value, str) and value.strip() else None


SELECTIONS = (
    Selection("davidson_tweets", "prompt"),
    Selection("hatecheck", "prompt"),
    Selection("toxigen", "prompt"),
    Selection("convabuse", "prompt"),
    Selection("diasafety", "response", "Toxicity Agreement"),
)


def toxic_rows(paths: Sequence[str], sources: Sequence[str]) -> Iterator[Dict[str, Any]]:
    """``{id, source, text}`` of every selected row of ``paths``, in file order."""
    chosen = [s for s in SELECTIONS if s.source in sources]
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"toxic_text: {path}: no such file")
        for row in read_jsonl(path):
            for selection in chosen:
                text = selection.text(row)
                if text is not None:
                    yield {"id": row.get("id"), "source": selection.source, "text": text}
                    break


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m edgeguard_train.toxic_text", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, nargs="+", help="JSONL files of the shared schema (e.g. train.jsonl)")
    parser.add_argument("--output", required=True, help="JSONL to write: {id, source, text} per selected row")
    names = [s.source for s in SELECTIONS]
    parser.add_argument("--sources", default=",".join(names), help=f"comma-separated subset of {','.join(names)} (default all)")
    args = parser.parse_args(argv)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = sorted(set(sources) - set(names))
    if unknown or not sources:
        raise SystemExit(f"toxic_text: --sources {args.sources!r}: choose from {','.join(names)}")
    rows = list(toxic_rows(args.input, sources))
    if not rows:
        raise SystemExit(f"toxic_text: no hate or offensive row of {', '.join(sources)} in {' '.join(args.input)}")
    write_jsonl(args.output, rows)
    counts = {s: sum(1 for r in rows if r["source"] == s) for s in sources}
    print("toxic_text: " + " ".join(f"{s}={n}" for s, n in counts.items()) + f" total={len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
