"""PT-ALIGN's data and loss: hand-written seeds, positive/toxic pairs, how a pair becomes token ids, and the loss
``L = −Σ log p(y⁺ₜ) − λ Σ_{t∈S} log(1 − p(y⁻ₜ))``.

Used by the ``pt-align-pairs`` stage (which writes pairs) and the ``align-pt`` stage (which trains on them); both
format an instruction and a response the same way (``PairFormat``), so a small model samples its candidate responses
in exactly the layout it is later trained on.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch.nn import functional as F

from .jsonl import read_jsonl
from .lm_data import DecoderTokenizer

# PT-ALIGN starts from "fewer than 50" hand-written examples; more would no longer be the method.
MAX_SEEDS = 49
SEED_FIELDS = ("instruction", "safe_response", "toxic_response")
PAIR_FIELDS = ("instruction", "positive", "negative")
DEFAULT_SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resources", "pt_align_seeds.jsonl")

FORMATS = ("plain", "chatml")
PENALISED_RULES = ("absent", "all")

# log(1 − p) is evaluated for log p ≤ −LOG_P_CEILING: a token the model gives probability 1 − 1e-15 or more (which
# float64 cannot tell from 1 once it has gone through a softmax) counts as that close to 1, so the unlikelihood stays
# finite (at most −log(1e-15) ≈ 34.5) instead of becoming infinite.
LOG_P_CEILING = 1e-15
LN2 = math.log(2.0)


# --- seeds and pairs -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seed:
    instruction: str
    safe_response: str
    toxic_response: str
    category: Optional[str] = None


@dataclass(frozen=True)
class Pair:
    instruction: str
    positive: str
    negative: str


def _strings(row: Dict[str, Any], fields: Sequence[str], where: str) -> List[str]:
    missing = [f for f in fields if not isinstance(row.get(f), str) or not row[f].strip()]
    if missing:
        raise SystemExit(f"{where}: needs non-empty string field(s) {', '.join(missing)} "
                         f"(a row has {', '.join(fields)})")
    return [row[f] for f in fields]


def read_seeds(path: str) -> List[Seed]:
    """The seed examples of ``path``: between 1 and ``MAX_SEEDS`` rows of instruction, safe and toxic response."""
    if not os.path.exists(path):
        raise SystemExit(f"{path}: no such seeds file")
    seeds = []
    for number, row in enumerate(read_jsonl(path), start=1):
        instruction, safe, toxic = _strings(row, SEED_FIELDS, f"{path}:{number}")
        category = row.get("category") if isinstance(row.get("category"), str) else None
        seeds.append(Seed(instruction, safe, toxic, category))
    if not seeds:
        raise SystemExit(f"{path}: no seed examples (PT-ALIGN starts from 1 to {MAX_SEEDS} hand-written rows)")
    if len(seeds) > MAX_SEEDS:
        raise SystemExit(f"{path}: {len(seeds)} seed examples; PT-ALIGN starts from fewer than 50 (at most {MAX_SEEDS})")
    return seeds


def read_pairs(paths: Sequence[str], limit: Optional[int] = None) -> List[Pair]:
    """The pairs of ``paths`` (``pt-align-pairs``'s rows: instruction, positive, negative), at most ``limit``."""
    pairs: List[Pair] = []
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"{path}: no such pairs file")
        for number, row in enumerate(read_jsonl(path), start=1):
            pairs.append(Pair(*_strings(row, PAIR_FIELDS, f"{path}:{number}")))
            if limit is not None and len(pairs) >= limit:
                return pairs
    return pairs


# --- formatting ------------------------------------------------------------------------------------

class PairFormat:
    """How an instruction and a response become ids: the prompt part and the response part, kept apart so the loss can
    cover the response alone.

    ``plain``: ``BOS instruction "\\n" response EOS``: the layout ``train-lm`` gives a ``prompt,response`` row, so a model
    trained from scratch here meets its instructions as it met them in pre-training. ``chatml``: ``<|im_start|>user\\n
    instruction<|im_end|>\\n<|im_start|>assistant\\n response <|im_end|>``, for checkpoints tuned on ChatML (Qwen2 and
    ``train-bpe``'s tokenizers carry it). The response's end token (EOS, or ``<|im_end|>``) belongs to the response: a
    model must learn where a safe answer stops.
    """

    def __init__(self, tokenizer: DecoderTokenizer, kind: str) -> None:
        if kind not in FORMATS:
            raise SystemExit(f"unknown format {kind!r}: {' or '.join(FORMATS)}")
        self.tokenizer = tokenizer
        self.kind = kind
        vocab = tokenizer.bpe.vocab
        if kind == "chatml":
            missing = [t for t in ("<|im_start|>", "<|im_end|>") if t not in vocab]
            if missing:
                raise SystemExit(f"{tokenizer.directory}: the tokenizer has no {', '.join(missing)}: use --format plain")
            self.start_id, self.end_id = vocab["<|im_start|>"], vocab["<|im_end|>"]
        else:
            if tokenizer.eos_id is None:
                raise SystemExit(f"{tokenizer.directory}: tokenizer_config.json names no eos_token, which ends a plain "
                                 "response; use --format chatml or add one")
            self.end_id = tokenizer.eos_id

    @property
    def stop_ids(self) -> List[int]:
        """Tokens that end a sampled response."""
        ids = [self.end_id]
        if self.tokenizer.eos_id is not None and self.tokenizer.eos_id not in ids:
            ids.append(self.tokenizer.eos_id)
        return ids

    def prompt(self, instruction: str) -> List[int]:
        encode = self.tokenizer.bpe.encode
        if self.kind == "plain":
            bos = [self.tokenizer.bos_id] if self.tokenizer.bos_id is not None else []
            return bos + encode(instruction + "\n")
        return ([self.start_id] + encode("user\n" + instruction) + [self.end_id] + encode("\n")
                + [self.start_id] + encode("assistant\n"))

    def response(self, text: str) -> List[int]:
        """The response's ids without the end token."""
        return self.tokenizer.bpe.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.bpe.decode([i for i in ids if i not in self.stop_ids])


def penalised_positions(negative: Sequence[int], positive: Sequence[int], rule: str) -> List[int]:
    """Indices into ``negative`` (a toxic response's ids, end token excluded) of the tokens the unlikelihood term
    pushes down: ``all`` of them, or those whose id appears nowhere in ``positive`` (``absent``: the words the toxic
    answer has and the safe one lacks, so shared words such as "the" or the topic's nouns are left to the MLE term)."""
    if rule == "all":
        return list(range(len(negative)))
    if rule == "absent":
        present = set(positive)
        return [i for i, token in enumerate(negative) if token not in present]
    raise SystemExit(f"unknown --penalised rule {rule!r}: {' or '.join(PENALISED_RULES)}")


@dataclass
class EncodedPair:
    """One pair as two sequences sharing their prompt; ``penalised`` are positions of ``negative_ids`` (≥ the prompt's
    length) whose token the unlikelihood term pushes down."""

    prompt_length: int
    positive_ids: List[int]
    negative_ids: List[int]
    penalised: List[int]

    @property
    def ids(self) -> List[int]:
        """The longer sequence: what batching by length reads."""
        return self.positive_ids if len(self.positive_ids) >= len(self.negative_ids) else self.negative_ids

    @property
    def positive_targets(self) -> int:
        return len(self.positive_ids) - self.prompt_length


def encode_pair(pair: Pair, fmt: PairFormat, max_length: int, rule: str) -> Optional[EncodedPair]:
    """The pair's sequences cut to ``max_length`` ids, or None when the prompt leaves no room for a response token."""
    prompt = fmt.prompt(pair.instruction)
    if len(prompt) >= max_length:
        return None
    positive_response = fmt.response(pair.positive) + [fmt.end_id]
    negative_response = fmt.response(pair.negative)
    room = max_length - len(prompt)
    positive_response, negative_response = positive_response[:room], negative_response[:room]
    if not negative_response:
        return None
    # S is decided on the whole positive response, not on its cut: a token the safe answer uses later is still shared.
    chosen = penalised_positions(negative_response, fmt.response(pair.positive), rule)
    return EncodedPair(len(prompt), prompt + positive_response, prompt + negative_response,
                       [len(prompt) + i for i in chosen])


# --- the loss --------------------------------------------------------------------------------------

def log1m_exp(log_p: torch.Tensor) -> torch.Tensor:
    """``log(1 − exp(log_p))`` for ``log_p ≤ 0``, without cancellation: ``log(−expm1(log_p))`` where p > 1/2 (1 − p is
    then small and ``expm1`` keeps its digits), ``log1p(−exp(log_p))`` where p ≤ 1/2 (``log1p`` keeps a tiny p's).
    ``log_p`` is clamped to at most −``LOG_P_CEILING`` first, so p = 1 gives a finite value, and both branches stay
    finite everywhere, so their gradients never mix in a NaN."""
    log_p = log_p.clamp(max=-LOG_P_CEILING)
    near_one = log_p > -LN2
    return torch.where(near_one, torch.log(-torch.expm1(log_p)), torch.log1p(-torch.exp(log_p)))


@dataclass
class LossSums:
    """Sums over a batch: positive-token negative log-likelihood, penalised-token unlikelihood ``−log(1 − p)`` and
    probability, and the token counts behind them."""

    positive_nll: torch.Tensor
    unlikelihood: torch.Tensor
    penalised_probability: torch.Tensor
    positive_tokens: int
    penalised_tokens: int


def batch_tensors(batch: Sequence[EncodedPair], pad_id: int, with_negatives: bool = True):
    """Right-padded ids and attention mask of the positives (then the negatives), and the masks of the positions whose
    next token is a positive response token or a penalised negative token (``[rows, width − 1]``)."""
    sequences = [p.positive_ids for p in batch] + ([p.negative_ids for p in batch] if with_negatives else [])
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    positive = torch.zeros((len(sequences), width - 1), dtype=torch.bool)
    penalised = torch.zeros((len(sequences), width - 1), dtype=torch.bool)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = torch.tensor(sequence)
        mask[row, :len(sequence)] = 1
    for row, pair in enumerate(batch):
        # Position j predicts token j + 1.
        positive[row, pair.prompt_length - 1:len(pair.positive_ids) - 1] = True
        if with_negatives:
            for position in pair.penalised:
                penalised[len(batch) + row, position - 1] = True
    return ids, mask, positive, penalised


def loss_sums(logits: torch.Tensor, ids: torch.Tensor, positive: torch.Tensor, penalised: torch.Tensor) -> LossSums:
    """The loss's sums from ``logits`` (``[rows, width, vocab]``) of ``ids``: the MLE term is the cross-entropy of the
    positive response tokens (in the logits' precision, as ``train-lm``'s loss); the unlikelihood term's rows are
    taken to float64 before their softmax, so p near 1 keeps the digits ``log(1 − p)`` needs."""
    logits = logits[:, :-1]
    targets = ids[:, 1:]
    nll = F.cross_entropy(logits[positive].float(), targets[positive], reduction="sum")
    if penalised.any():
        rows = torch.log_softmax(logits[penalised].double(), dim=-1)
        log_p = rows.gather(1, targets[penalised][:, None])[:, 0]
        unlikelihood = -log1m_exp(log_p).sum()
        probability = log_p.detach().exp().sum()
    else:
        unlikelihood = logits.sum() * 0.0  # keeps the graph connected, so every process's backward matches
        probability = torch.zeros((), dtype=torch.float64)
    return LossSums(nll, unlikelihood, probability, int(positive.sum()), int(penalised.sum()))


def pt_align_loss(sums: LossSums, weight: float, positive_tokens: int) -> torch.Tensor:
    """``(Σ −log p(y⁺ₜ) + λ Σ_{t∈S} −log(1 − p(y⁻ₜ))) / positive_tokens``: the paper's sum over one normaliser, the
    positive tokens of the global batch, so λ keeps the paper's meaning and λ = 0 is ``train-lm``'s token-mean MLE."""
    loss = sums.positive_nll
    if weight:
        loss = loss + weight * sums.unlikelihood.to(loss.dtype)
    return loss / positive_tokens
