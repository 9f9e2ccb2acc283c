"""The logits-processor chain of on-device generation, as the runtime runs it (``EdgeGuard.Generation.Logits``).

This is the reference the C# chain is checked against: the same arithmetic in the same precision and order, so a
seeded run picks the same tokens on both sides. The order of one step:

1. a combiner of the lock-stepped models' rows, written over the primary row (model 0):
   ``offset`` ``ℓ_B + α·(ℓ_S′ − ℓ_S₀)``, ``contrastive`` (plausibility mask, then ``ℓ_e + β·(ℓ_e − ℓ_a)``, or
   ``ℓ_e − ℓ_a`` for β = ∞), or ``weighted_mix`` ``Σ wᵢ·ℓᵢ``; all in float32, element by element;
2. repetition penalty (Hugging Face's), 3. temperature (0 selects greedily and skips 4-6), 4. top-k,
5. top-p, 6. min-p, all on float32 rows, with every probability computed in float64;
7. the selector: greedy (lowest id among ties) or inverse-CDF sampling over the softmax in token-id order,
   drawing ``u`` in [0, 1) from SplitMix64 (``(next >> 11) · 2⁻⁵³``).

Probabilities use ``math.exp`` and ``math.log`` (the C library's, as .NET's ``Math.Exp``/``Math.Log`` are) and sums
run in a fixed order with plain float addition, never numpy's pairwise ``sum``. docs/generation.md states the
formulas; ``tests/fixtures/logits-processing/golden.json`` holds cases both sides must reproduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np

MASK64 = (1 << 64) - 1
DEFAULT_PLAUSIBILITY = 0.1


class SplitMix64:
    """SplitMix64 (Steele, Lea and Flood): the generator both sides draw from."""

    def __init__(self, seed: int) -> None:
        if not 0 <= seed <= MASK64:
            raise ValueError(f"the seed {seed} is not an unsigned 64-bit integer")
        self.state = seed

    def next_uint64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def next_double(self) -> float:
        """A uniform double in [0, 1): the top 53 bits times 2⁻⁵³."""
        return (self.next_uint64() >> 11) * (1.0 / (1 << 53))


def _row(values) -> np.ndarray:
    row = np.asarray(values)
    if row.dtype != np.float32 or row.ndim != 1:
        raise ValueError(f"a logits row is a 1-D float32 array, not {row.dtype} of shape {row.shape}")
    return row


def _same_length(rows: Sequence[np.ndarray], what: str) -> None:
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != len(rows[0]):
            raise ValueError(f"{what}: model {i} gave {len(row)} logits but model 0 gave {len(rows[0])}: "
                             "models whose logits are combined must share one vocabulary")


# ----------------------------------------------------------------------------------------------- combiners

def offset(b: np.ndarray, s_prime: np.ndarray, s0: np.ndarray, alpha: float) -> None:
    """δ-unlearning: ``b ← b + α·(s′ − s₀)`` in float32, the difference first; a zero offset is not added (−0 + +0
    would be +0), so α = 0 or s′ = s₀ leaves b bit for bit."""
    _same_length([b, s_prime, s0], "offset")
    if not math.isfinite(alpha):
        raise ValueError("the offset strength α must be finite")
    delta = np.float32(alpha) * (s_prime - s0)
    b[:] = np.where(delta == 0, b, b + delta)


def contrastive(expert: np.ndarray, amateur: np.ndarray, plausibility: float = DEFAULT_PLAUSIBILITY,
                beta: float = math.inf) -> None:
    """Contrastive decoding written over ``expert``: tokens with ``ℓ_e < log α + max ℓ_e`` (float64) become −∞, the
    others ``ℓ_e + β·(ℓ_e − ℓ_a)`` in float32, or ``ℓ_e − ℓ_a`` for β = ∞ (UniDetox's code)."""
    _same_length([expert, amateur], "contrastive")
    if not 0.0 <= plausibility <= 1.0:
        raise ValueError("the plausibility threshold α must lie in [0, 1]")
    if not beta >= 0.0:
        raise ValueError("the contrast strength β must be 0 or more (inf for the plain difference)")
    if len(expert) == 0:
        return
    cutoff = (math.log(plausibility) if plausibility > 0.0 else -math.inf) + float(expert.max())
    masked = expert.astype(np.float64) < cutoff
    difference = expert - amateur
    if math.isinf(beta):
        scores = difference
    else:
        scores = expert + np.float32(beta) * difference
    scores[masked] = -np.inf
    expert[:] = scores


def weighted_mix(rows: Sequence[np.ndarray], weights: Sequence[float]) -> None:
    """``rows[0] ← Σ wᵢ·rows[i]`` in float32, accumulated in model order."""
    if len(weights) == 0 or len(weights) != len(rows):
        raise ValueError(f"a weighted mix needs one weight per model: {len(weights)} weights for {len(rows)} rows")
    _same_length(rows, "weighted mix")
    if not all(math.isfinite(w) for w in weights):
        raise ValueError("every weight of the mix must be finite")
    acc = np.float32(weights[0]) * rows[0]
    for w, row in zip(weights[1:], rows[1:]):
        acc = acc + np.float32(w) * row
    rows[0][:] = acc


# ----------------------------------------------------------------------------------------------- per-token processors

def repetition_penalty(row: np.ndarray, history: Sequence[int], penalty: float) -> None:
    """Hugging Face's rule, once per distinct token: a negative logit times θ, any other divided by θ (float32)."""
    if not (penalty > 0.0 and math.isfinite(penalty)):
        raise ValueError("the repetition penalty must be positive and finite")
    _check_history(history, len(row))
    theta = np.float32(penalty)
    for token in dict.fromkeys(history):
        value = row[token]
        row[token] = value * theta if value < 0 else value / theta


def temperature(row: np.ndarray, t: float) -> None:
    if not (t > 0.0 and math.isfinite(t)):
        raise ValueError("a temperature to divide by must be positive and finite")
    row /= np.float32(t)


def ranked_candidates(row: np.ndarray) -> List[int]:
    """Tokens whose logit is not −∞, by logit descending and then id ascending (−0 equals +0)."""
    return sorted((v for v in range(len(row)) if row[v] != -np.inf), key=lambda v: (-float(row[v]), v))


def top_k(row: np.ndarray, k: int) -> None:
    """Mask tokens below the k-th largest logit (ties with the k-th stay: Hugging Face's rule)."""
    if k <= 0:
        raise ValueError("top-k must be at least 1")
    ranked = ranked_candidates(row)
    if k >= len(ranked):
        return
    threshold = row[ranked[k - 1]]
    row[row < threshold] = -np.inf


def top_p(row: np.ndarray, p: float) -> None:
    """Hugging Face's nucleus rule in float64: accumulate from the least likely token up, mask every token whose
    accumulated share is at most 1 − p; the most likely token always stays."""
    if not 0.0 < p <= 1.0:
        raise ValueError("top-p must lie in (0, 1]")
    if p >= 1.0:
        return
    ranked = ranked_candidates(row)
    if len(ranked) <= 1:
        return
    m = float(row[ranked[0]])
    tail = [0.0] * len(ranked)
    total = 0.0
    for r in range(len(ranked) - 1, -1, -1):
        total += math.exp(float(row[ranked[r]]) - m)
        tail[r] = total
    limit = 1.0 - p
    r = len(ranked) - 1
    while r >= 1 and tail[r] / total <= limit:
        row[ranked[r]] = -np.inf
        r -= 1


def min_p(row: np.ndarray, p: float) -> None:
    """Mask tokens whose probability is below p times the most likely token's: ``ℓ − m < log p`` in float64."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("min-p must lie in [0, 1]")
    if p == 0.0 or len(row) == 0:
        return
    m = float(row.max())
    if m == -math.inf:
        return
    row[row.astype(np.float64) - m < math.log(p)] = -np.inf


# ----------------------------------------------------------------------------------------------- selectors

def _selectable(row: np.ndarray) -> int:
    if len(row) == 0:
        raise ValueError("the logits row is empty: a vocabulary needs at least one token")
    if np.isnan(row).any():
        raise ValueError(f"the logit of token {int(np.flatnonzero(np.isnan(row))[0])} is NaN")
    best = int(np.argmax(row))  # the first index of the maximum: the lowest id among ties
    if row[best] == -np.inf:
        raise ValueError("every token is masked (-inf): there is nothing to select")
    if row[best] == np.inf:
        raise ValueError(f"the logit of token {best} is +inf: the logits overflowed float32")
    return best


def greedy(row: np.ndarray) -> int:
    return _selectable(row)


def sample(row: np.ndarray, uniform: float) -> int:
    """Inverse CDF in float64 and token-id order: wᵥ = exp(ℓᵥ − m), r = u·Σw, the first v whose running sum exceeds r."""
    if not 0.0 <= uniform < 1.0:
        raise ValueError("the uniform draw must lie in [0, 1)")
    best = _selectable(row)
    m = float(row[best])
    weights = [math.exp(float(x) - m) for x in row]
    total = 0.0
    for w in weights:
        total += w
    target = uniform * total
    running = 0.0
    last = best
    for v, w in enumerate(weights):
        if w == 0.0:
            continue
        running += w
        last = v
        if running > target:
            return v
    return last


# ----------------------------------------------------------------------------------------------- the chain

@dataclass(frozen=True)
class SamplingSettings:
    repetition_penalty: float = 1.0
    temperature: float = 1.0  # 0: greedy
    top_k: Optional[int] = None
    top_p: float = 1.0
    min_p: float = 0.0
    seed: int = 0

    @property
    def is_greedy(self) -> bool:
        return self.temperature == 0.0

    def validate(self) -> None:
        if not (self.repetition_penalty > 0.0 and math.isfinite(self.repetition_penalty)):
            raise ValueError("the repetition penalty must be positive and finite (1 switches it off)")
        if not (self.temperature >= 0.0 and math.isfinite(self.temperature)):
            raise ValueError("the temperature must be finite and not negative (0 selects greedily)")
        if self.top_k is not None and self.top_k <= 0:
            raise ValueError("top-k must be at least 1 (None switches it off)")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError("top-p must lie in (0, 1] (1 switches it off)")
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError("min-p must lie in [0, 1] (0 switches it off)")


@dataclass(frozen=True)
class Combiner:
    """``kind`` is ``offset`` (alpha), ``contrastive`` (plausibility, beta) or ``mix`` (weights)."""
    kind: str
    alpha: float = 1.0
    plausibility: float = DEFAULT_PLAUSIBILITY
    beta: float = math.inf
    weights: Sequence[float] = ()

    @property
    def partner_count(self) -> int:
        return {"offset": 2, "contrastive": 1}.get(self.kind, len(self.weights) - 1)

    def apply(self, primary: np.ndarray, partners: Sequence[np.ndarray]) -> None:
        if self.kind == "offset":
            offset(primary, partners[0], partners[1], self.alpha)
        elif self.kind == "contrastive":
            contrastive(primary, partners[0], self.plausibility, self.beta)
        elif self.kind == "mix":
            weighted_mix([primary, *partners], self.weights)
        else:
            raise ValueError(f"unknown combiner {self.kind!r}: offset, contrastive or mix")


def _check_history(history: Sequence[int], vocabulary_size: int) -> None:
    for i, token in enumerate(history):
        if not 0 <= token < vocabulary_size:
            raise ValueError(f"token {token} at position {i} of the history lies outside the vocabulary of "
                             f"{vocabulary_size} tokens")


def _require_no_overflow(row: np.ndarray, stage: str) -> None:
    bad = np.isnan(row) | (row == np.inf)
    if bad.any():
        token = int(np.flatnonzero(bad)[0])
        raise ValueError(f"the logit of token {token} is {row[token]} after {stage}: the arithmetic overflowed float32")


class LogitsChain:
    """One generation's chain: settings, an optional combiner and the seeded generator."""

    def __init__(self, vocabulary_size: int, settings: SamplingSettings, combiner: Optional[Combiner] = None) -> None:
        if vocabulary_size <= 0:
            raise ValueError("the vocabulary must hold at least one token")
        settings.validate()
        self.vocabulary_size = vocabulary_size
        self.settings = settings
        self.combiner = combiner
        self.random = SplitMix64(settings.seed)

    def process(self, primary: np.ndarray, partners: Sequence[np.ndarray] = (), history: Sequence[int] = ()) -> None:
        # Overflow is checked and reported after each stage that can cause it, so numpy need not warn.
        with np.errstate(over="ignore", invalid="ignore"):
            self._process(primary, partners, history)

    def _process(self, primary: np.ndarray, partners: Sequence[np.ndarray], history: Sequence[int]) -> None:
        rows = [_row(primary), *(_row(p) for p in partners)]
        expected = self.combiner.partner_count if self.combiner else 0
        if len(partners) != expected:
            raise ValueError(f"this chain combines {expected} partner rows with the primary row, not {len(partners)}")
        for i, row in enumerate(rows):
            if len(row) != self.vocabulary_size:
                raise ValueError(f"model {i} gave {len(row)} logits but the chain's vocabulary holds "
                                 f"{self.vocabulary_size}: models whose logits are combined must share one vocabulary")
        for i, row in enumerate(rows):
            if not np.isfinite(row).all():
                token = int(np.flatnonzero(~np.isfinite(row))[0])
                raise ValueError(f"model {i} gave the logit {row[token]} for token {token}: a model's logits must be finite")
        _check_history(history, self.vocabulary_size)
        if self.combiner is not None:
            self.combiner.apply(primary, list(partners))
            _require_no_overflow(primary, "the combiner")
        s = self.settings
        if s.repetition_penalty != 1.0 and len(history):
            repetition_penalty(primary, history, s.repetition_penalty)
        if s.is_greedy:
            _require_no_overflow(primary, "the repetition penalty")
            return
        if s.temperature != 1.0:
            temperature(primary, s.temperature)
        _require_no_overflow(primary, "the repetition penalty and temperature")
        if s.top_k is not None:
            top_k(primary, s.top_k)
        if s.top_p < 1.0:
            top_p(primary, s.top_p)
        if s.min_p > 0.0:
            min_p(primary, s.min_p)

    def next(self, primary: np.ndarray, partners: Sequence[np.ndarray] = (), history: Sequence[int] = ()) -> int:
        """Runs the chain in place over ``primary`` and returns the selected token."""
        self.process(primary, partners, history)
        if self.settings.is_greedy:
            return greedy(primary)
        return sample(primary, self.random.next_double())
