"""Labelled examples from JSONL, tokenized once, and padded batches for training and evaluation.

Rows follow the shared dataset schema (``prompt``, ``response`` or null, ``label`` safe|unsafe,
``source``); a row may also carry a teacher's P(unsafe) (by default in ``teacher_unsafe_prob``, as the
``label`` stage and ``evaluate --predictions`` write it) that distillation uses as a soft label.

Texts are sanitised (``sanitize.py``) before tokenizing, as the runtime's ``Guard`` does, so a model learns and is
measured on the text it will be shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import torch

from .jsonl import read_jsonl
from .sanitize import sanitize
from .tokenization import PAD_ID, DebertaTokenizer

LABELS = {"safe": 0, "unsafe": 1}


@dataclass
class Example:
    ids: List[int]
    label: int          # -1 when the row has no hard label
    soft: float         # teacher P(unsafe), NaN when absent
    source: str
    row: Dict[str, Any]


def parse_label(value: Any, where: str) -> int:
    if value is None:
        return -1
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value.lower() in LABELS:
        return LABELS[value.lower()]
    raise ValueError(f"{where}: label {value!r} is not safe/unsafe (or 0/1)")


def load_examples(path: str, tokenizer: DebertaTokenizer, max_length: int, soft_field: Optional[str] = "teacher_unsafe_prob",
                  limit: Optional[int] = None, every: int = 1, sanitize_input: bool = True) -> List[Example]:
    """Reads, sanitises and tokenizes ``path`` (every ``every``-th row); every row needs a ``prompt`` and a hard or soft
    label. ``sanitize_input=False`` tokenizes the texts as they are (the runtime's ``--no-sanitize``)."""
    examples: List[Example] = []
    for number, row in enumerate(read_jsonl(path), start=1):
        if limit is not None and len(examples) >= limit:
            break
        if (number - 1) % every:
            continue
        where = f"{path}:{number}"
        if not isinstance(row.get("prompt"), str):
            raise ValueError(f"{where}: row has no string 'prompt'")
        response = row.get("response")
        if response is not None and not isinstance(response, str):
            raise ValueError(f"{where}: 'response' must be a string or null")
        label = parse_label(row.get("label"), where)
        soft = float("nan")
        if soft_field and row.get(soft_field) is not None:
            soft = float(row[soft_field])
            if not 0.0 <= soft <= 1.0:
                raise ValueError(f"{where}: {soft_field}={soft} is not a probability")
        if label < 0 and math.isnan(soft):
            raise ValueError(f"{where}: row has neither 'label' nor '{soft_field}'")
        prompt = row["prompt"]
        if sanitize_input:
            prompt = sanitize(prompt)
            response = sanitize(response) if response is not None else None
        ids = tokenizer.encode_pair(prompt, response, max_length)
        examples.append(Example(ids, label, soft, str(row.get("source") or "unknown"), row))
    return examples


def hard_label(example: Example) -> int:
    """The class used for CE and balancing: the given label, else the teacher's argmax."""
    return example.label if example.label >= 0 else int(example.soft >= 0.5)


def collate(examples: Sequence[Example]) -> Dict[str, torch.Tensor]:
    """Right-pads to the longest row of the batch (id 0, mask 0)."""
    length = max(len(e.ids) for e in examples)
    input_ids = torch.full((len(examples), length), PAD_ID, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), length), dtype=torch.long)
    for i, e in enumerate(examples):
        input_ids[i, : len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
        attention_mask[i, : len(e.ids)] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": torch.tensor([hard_label(e) for e in examples], dtype=torch.long),
        "soft": torch.tensor([e.soft for e in examples], dtype=torch.float64),
    }


@torch.no_grad()
def predict(model: torch.nn.Module, examples: Sequence[Example], batch_size: int = 64, progress=None) -> List[float]:
    """P(unsafe) per example, in input order; rows are batched by length so padding stays small."""
    model.eval()
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].ids))
    dtype = next(model.parameters()).dtype
    scores = [0.0] * len(examples)
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        batch = collate([examples[i] for i in chunk])
        logits = model(batch["input_ids"], batch["attention_mask"]).to(dtype)
        probs = torch.softmax(logits.double(), dim=-1)[:, 1].tolist()
        for i, p in zip(chunk, probs):
            scores[i] = p
        if progress is not None:
            progress.update(len(chunk))
    return scores


def load_training_sets(paths: Sequence[str], tokenizer: DebertaTokenizer, max_length: int,
                       soft_field: Optional[str] = "teacher_unsafe_prob", limit: Optional[int] = None) -> List[Example]:
    """Rows of several files (e.g. original + HarmAug synthetic data); a row whose ``id`` appeared in an
    earlier file is skipped, so a teacher-labelled subset listed first overrides the same rows of the full set."""
    seen = set()
    examples: List[Example] = []
    for path in paths:
        for example in load_examples(path, tokenizer, max_length, soft_field, limit):
            key = example.row.get("id")
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
            examples.append(example)
    return examples
