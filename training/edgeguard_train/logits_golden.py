"""Write the logits-chain golden (tests/fixtures/logits-processing/golden.json) from the Python reference.

Each case is a group of seeded random logits rows (primary first), a combiner, sampling settings with a seed, a
history, the primary row after the processors of the first step (null where a token is masked), and the tokens of
several steps: step i runs the chain over fresh copies of the same rows with the history extended by the tokens of
steps 0..i-1, drawing from one generator. Row values are written with a few decimals so the file stays small; both
sides read them as doubles and round to float32. The C# tests (``LogitsGoldenTests``) must reproduce every token
and every processed logit bit for bit, and training/tests/test_logits_processing.py checks that this module still
writes the committed file byte for byte.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Dict, List, Optional

import numpy as np

from .logits_processing import Combiner, LogitsChain, SamplingSettings

FORMAT = "edgeguard-logits-golden/1"
FILE_NAME = "golden.json"


def _rows(rng: np.random.Generator, count: int, vocabulary_size: int, scale: float = 1.0, decimals: int = 3,
          step: Optional[float] = None) -> List[List[float]]:
    """Random rows as the JSON will hold them: rounded decimals (or multiples of ``step``, which makes ties)."""
    rows = []
    for _ in range(count):
        values = rng.standard_normal(vocabulary_size) * scale
        if step is not None:
            values = np.round(values / step) * step
        rows.append([round(float(x), decimals) + 0.0 for x in values])
    return rows


def _case(name: str, rows: List[List[float]], settings: SamplingSettings, *, combiner: Optional[Combiner] = None,
          history: Optional[List[int]] = None, steps: int = 8) -> Dict[str, Any]:
    history = list(history or [])
    float_rows = [np.array(row, dtype=np.float64).astype(np.float32) for row in rows]
    vocabulary_size = len(rows[0])
    chain = LogitsChain(vocabulary_size, settings, combiner)
    processed: List[Optional[float]] = []
    tokens: List[int] = []
    for step in range(steps):
        primary, partners = float_rows[0].copy(), [row.copy() for row in float_rows[1:]]
        token = chain.next(primary, partners, history + tokens)
        if step == 0:
            processed = [None if x == -np.inf else float(x) for x in primary]
        tokens.append(token)
    return {
        "name": name,
        "vocabulary_size": vocabulary_size,
        "rows": rows,
        "combiner": _combiner_json(combiner),
        "settings": {
            "repetition_penalty": settings.repetition_penalty,
            "temperature": settings.temperature,
            "top_k": settings.top_k,
            "top_p": settings.top_p,
            "min_p": settings.min_p,
            "seed": settings.seed,
        },
        "history": history,
        "expected_processed": processed,
        "expected_tokens": tokens,
    }


def _combiner_json(combiner: Optional[Combiner]) -> Optional[Dict[str, Any]]:
    if combiner is None:
        return None
    if combiner.kind == "offset":
        return {"kind": "offset", "alpha": combiner.alpha}
    if combiner.kind == "contrastive":
        return {"kind": "contrastive", "plausibility": combiner.plausibility,
                "beta": "inf" if math.isinf(combiner.beta) else combiner.beta}
    return {"kind": "mix", "weights": list(combiner.weights)}


def combiner_from_json(spec: Optional[Dict[str, Any]]) -> Optional[Combiner]:
    if spec is None:
        return None
    if spec["kind"] == "offset":
        return Combiner("offset", alpha=spec["alpha"])
    if spec["kind"] == "contrastive":
        beta = math.inf if spec["beta"] == "inf" else spec["beta"]
        return Combiner("contrastive", plausibility=spec["plausibility"], beta=beta)
    return Combiner("mix", weights=tuple(spec["weights"]))


def cases() -> List[Dict[str, Any]]:
    rng = np.random.default_rng(20261207)
    S = SamplingSettings
    same = _rows(rng, 1, 96, scale=0.5)
    out = [
        _case("greedy-ties-lowest-id", [[0.5, 2.0, -1.0, 2.0, 2.0, 0.0]], S(temperature=0.0), steps=3),
        _case("greedy-repetition-penalty-moves-argmax", [[1.5, 1.4, -0.2, -3.0, 0.7]],
              S(temperature=0.0, repetition_penalty=1.2), history=[0, 3, 3], steps=4),
        _case("sample-plain", _rows(rng, 1, 50), S(seed=1), steps=16),
        _case("sample-seed-zero", _rows(rng, 1, 50), S(seed=0), steps=16),
        _case("sample-seed-max", _rows(rng, 1, 50), S(seed=2**64 - 1), steps=16),
        _case("temperature-cold", _rows(rng, 1, 64, scale=2.0), S(temperature=0.35, seed=77), steps=12),
        _case("temperature-hot", _rows(rng, 1, 64), S(temperature=2.5, seed=78), steps=12),
        _case("top-k-5", _rows(rng, 1, 100), S(top_k=5, seed=11), steps=16),
        _case("top-k-ties-at-threshold", _rows(rng, 1, 40, scale=1.0, step=0.5), S(top_k=3, seed=12), steps=16),
        _case("top-k-above-vocabulary", _rows(rng, 1, 12), S(top_k=50, seed=13), steps=8),
        _case("top-p-0.9", _rows(rng, 1, 200), S(top_p=0.9, seed=21), steps=16),
        _case("top-p-0.5-ties", _rows(rng, 1, 60, scale=1.0, step=0.25), S(top_p=0.5, seed=22), steps=16),
        _case("top-p-tiny-keeps-one", _rows(rng, 1, 30), S(top_p=0.01, seed=23), steps=4),
        _case("top-p-exact-boundary", [[0.0] * 8], S(top_p=0.75, seed=24), steps=12),
        _case("min-p-0.05", _rows(rng, 1, 100), S(min_p=0.05, seed=31), steps=16),
        _case("min-p-1-keeps-the-best", _rows(rng, 1, 20, scale=1.0, step=0.5), S(min_p=1.0, seed=32), steps=8),
        _case("everything", _rows(rng, 1, 300), S(repetition_penalty=1.3, temperature=0.8, top_k=40, top_p=0.95,
                                                 min_p=0.02, seed=0xDEADBEEF),
              history=[int(x) for x in rng.integers(0, 300, 20)], steps=24),
        _case("offset-alpha-1", _rows(rng, 3, 64), S(seed=41), combiner=Combiner("offset", alpha=1.0), steps=12),
        _case("offset-alpha-0", _rows(rng, 3, 64), S(seed=42), combiner=Combiner("offset", alpha=0.0), steps=12),
        _case("offset-negative-alpha-greedy", _rows(rng, 3, 64), S(temperature=0.0),
              combiner=Combiner("offset", alpha=-0.75), steps=2),
        _case("offset-with-filters", _rows(rng, 3, 128), S(temperature=0.7, top_k=20, top_p=0.9, seed=43),
              combiner=Combiner("offset", alpha=1.5), history=[3, 9, 27, 81], steps=12),
        _case("contrastive-unidetox", _rows(rng, 2, 128, scale=0.6), S(top_k=50, seed=51),
              combiner=Combiner("contrastive", plausibility=0.1), steps=16),
        _case("contrastive-beta-0.5", _rows(rng, 2, 128, scale=0.6), S(seed=52),
              combiner=Combiner("contrastive", plausibility=0.1, beta=0.5), steps=16),
        _case("contrastive-no-mask", _rows(rng, 2, 64, scale=0.6), S(seed=53),
              combiner=Combiner("contrastive", plausibility=0.0), steps=12),
        _case("contrastive-amateur-equals-expert", [same[0], same[0]], S(seed=54),
              combiner=Combiner("contrastive", plausibility=0.1), steps=24),
        _case("mix-three", _rows(rng, 3, 80), S(seed=61), combiner=Combiner("mix", weights=(0.5, 0.3, 0.2)), steps=12),
        _case("one-token-vocabulary", [[-4.25]], S(seed=71, top_k=1, top_p=0.5, min_p=0.5), steps=3),
        _case("signed-zeros-and-extremes", [[0.0, -0.0, 0.0, -800.0, 85.0, 85.0, -0.0, 84.999]],
              S(seed=72), steps=12),
        _case("large-vocabulary-unidetox", _rows(rng, 2, 1000, scale=0.6, decimals=2), S(top_k=50, seed=81),
              combiner=Combiner("contrastive", plausibility=0.1), steps=16),
    ]
    return out


def write(output: str) -> str:
    os.makedirs(output, exist_ok=True)
    document = {
        "format": FORMAT,
        "about": "Logits-chain cases from edgeguard_train.logits_golden; see README.md beside this file.",
        "cases": cases(),
    }
    path = os.path.join(output, FILE_NAME)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(render(document))
    return path


def render(document: Dict[str, Any]) -> str:
    """One case per block, each row on one line: diffable and small."""
    lines = ["{", f'  "format": {json.dumps(document["format"])},', f'  "about": {json.dumps(document["about"])},',
             '  "cases": [']
    for i, case in enumerate(document["cases"]):
        fields = [f'    {json.dumps(key)}: {json.dumps(value, allow_nan=False)}' for key, value in case.items()]
        lines.append("   {\n" + ",\n".join(fields) + "\n   }" + ("," if i + 1 < len(document["cases"]) else ""))
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True,
                        help="folder of the golden (the repository's tests/fixtures/logits-processing)")


def run(args: argparse.Namespace) -> int:
    path = write(args.output)
    print(f"make-logits-golden: wrote {path}")
    return 0
