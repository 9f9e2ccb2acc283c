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
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .jsonl import read_jsonl
from .sanitize import sanitize
from .tokenization import build_pair
from .wordpiece import build_row
from .tokenization import PAD_ID
from .windows import encode_windows

LABELS = {"safe": 0, "unsafe": 1}

# How long rows become examples: ``None`` truncates longest-first to ``max_length`` (one example per row); ``"all"``
# gives every window the runtime would classify (score a row by its highest window, as the runtime does);
# ``"train"`` gives every window of a safe row (each must score safe, since the runtime flags a row when any window is
# unsafe) and the first window of an unsafe row (the start of a reply, where compliance or refusal shows).
WINDOW_MODES = (None, "all", "train")
MAX_TRAIN_WINDOWS = 8


@dataclass
class Example:
    ids: List[int]
    label: int          # -1 when the row has no hard label
    soft: float         # teacher P(unsafe), NaN when absent
    source: str
    row: Dict[str, Any]
    token_types: Optional[List[int]] = None  # BERT-family segment ids; None for models without them
    row_index: int = 0  # which input row this example (window) comes from


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


def load_examples(path: str, tokenizer, max_length: int, soft_field: Optional[str] = "teacher_unsafe_prob",
                  limit: Optional[int] = None, every: int = 1, sanitize_input: bool = True,
                  windows: Optional[str] = None) -> List[Example]:
    """Reads, sanitises and tokenizes ``path`` (every ``every``-th row); every row needs a ``prompt`` and a hard or soft
    label. ``sanitize_input=False`` tokenizes the texts as they are (the runtime's ``--no-sanitize``). ``tokenizer`` is a
    ``DebertaTokenizer`` or a ``WordPieceTokenizer``; ``windows`` is one of ``WINDOW_MODES`` (``max_length`` is then
    the window's size), and ``limit`` counts rows."""
    if windows not in WINDOW_MODES:
        raise ValueError(f"windows={windows!r} is not one of {WINDOW_MODES}")
    examples: List[Example] = []
    rows = 0
    for number, row in enumerate(read_jsonl(path), start=1):
        if limit is not None and rows >= limit:
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
        source = str(row.get("source") or "unknown")
        for ids, types in encode_rows(tokenizer, prompt, response, max_length, windows, label if label >= 0 else int(soft >= 0.5)):
            examples.append(Example(ids, label, soft, source, row, types, rows))
        rows += 1
    return examples


def layout(tokenizer, prompt_ids: Sequence[int], response_ids: Optional[Sequence[int]], max_length: int):
    """A row of already-tokenized segments, truncated longest-first: (ids, token types or None)."""
    if hasattr(tokenizer, "cls_id"):  # WordPiece: BERT's [CLS] a [SEP] b [SEP] with token types 0 then 1
        return build_row([tokenizer.cls_id], [tokenizer.sep_id], [tokenizer.sep_id], 1, prompt_ids, response_ids, max_length)
    return build_pair(prompt_ids, response_ids, max_length), None


def encode_rows(tokenizer, prompt: str, response: Optional[str], max_length: int, windows: Optional[str] = None,
                label: int = 0) -> List[Tuple[List[int], Optional[List[int]]]]:
    """The model rows one input becomes under ``windows`` (see ``WINDOW_MODES``)."""
    prompt_ids = tokenizer.encode(prompt)
    response_ids = tokenizer.encode(response) if response is not None else None
    if windows is None:
        return [layout(tokenizer, prompt_ids, response_ids, max_length)]
    rows = encode_windows(prompt_ids, response_ids, max_length, lambda p, r: layout(tokenizer, p, r, max_length))
    if windows == "train":
        rows = rows[:1] if label == 1 else rows[:MAX_TRAIN_WINDOWS]
    return rows


def row_scores(examples: Sequence[Example], scores: Sequence[float]) -> Tuple[List[Example], List[float]]:
    """Per input row: its first example and its highest window score (the runtime flags a row when any window is unsafe)."""
    firsts: Dict[int, Example] = {}
    best: Dict[int, float] = {}
    for example, score in zip(examples, scores):
        if example.row_index not in firsts:
            firsts[example.row_index] = example
            best[example.row_index] = score
        else:
            best[example.row_index] = max(best[example.row_index], score)
    order = sorted(firsts)
    return [firsts[i] for i in order], [best[i] for i in order]


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
    batch = {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": torch.tensor([hard_label(e) for e in examples], dtype=torch.long),
        "soft": torch.tensor([e.soft for e in examples], dtype=torch.float64),
    }
    if examples[0].token_types is not None:
        token_type_ids = torch.zeros((len(examples), length), dtype=torch.long)
        for i, e in enumerate(examples):
            token_type_ids[i, : len(e.ids)] = torch.tensor(e.token_types, dtype=torch.long)
        batch["token_type_ids"] = token_type_ids
    return batch


def logits_of(model: torch.nn.Module, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
    """The model's logits for a collated batch; BERT-family models also get the token types."""
    if "token_type_ids" in batch:
        return model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    return model(batch["input_ids"], batch["attention_mask"])


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
        logits = logits_of(model, batch).to(dtype)
        probs = torch.softmax(logits.double(), dim=-1)[:, 1].tolist()
        for i, p in zip(chunk, probs):
            scores[i] = p
        if progress is not None:
            progress.update(len(chunk))
    return scores


def load_training_sets(paths: Sequence[str], tokenizer, max_length: int,
                       soft_field: Optional[str] = "teacher_unsafe_prob", limit: Optional[int] = None,
                       windows: Optional[str] = None, exclude_sources: Sequence[str] = ()) -> List[Example]:
    """Rows of several files (e.g. original + HarmAug synthetic data); a row whose ``id`` appeared in an
    earlier file is skipped, so a teacher-labelled subset listed first overrides the same rows of the full set.
    Rows of ``exclude_sources`` are left out (leave-one-source-out training)."""
    row_of_id: Dict[Any, int] = {}  # id -> the row (numbered across files) that kept it; its windows share it
    examples: List[Example] = []
    offset = 0
    for path in paths:
        loaded = load_examples(path, tokenizer, max_length, soft_field, limit, windows=windows)
        for example in loaded:
            example.row_index += offset
            key = example.row.get("id")
            if key is not None and row_of_id.setdefault(key, example.row_index) != example.row_index:
                continue
            if example.source not in exclude_sources:
                examples.append(example)
        offset += (loaded[-1].row_index - offset + 1) if loaded else 0
    return examples
