"""Generation with a group of decoders in lock-step, as the runtime's ``EdgeGuard.Generation.Generator`` runs it.

The reference the C# generator is held to (``tests/fixtures/generation/golden.json``): every model of the group keeps
its own KV cache (``modeling_decoder.KVCache``), reads the prompt, and then each step

1. takes each model's logits of the last position as a float32 row (model 0 is the primary),
2. runs them through ``logits_processing.LogitsChain`` (combiner, repetition penalty over prompt and generated
   tokens, temperature, top-k, top-p, min-p, greedy or one SplitMix64 draw) to one token,
3. ends with ``stop`` when the token is a stop token (it is kept in the output), with ``length`` after
   ``max_new_tokens`` tokens or when the caches hold the whole context, and otherwise feeds the token to every model.

The last token is never fed to the models: the runtime does not run a step whose logits nobody reads.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from .logits_processing import Combiner, LogitsChain, SamplingSettings
from .modeling_decoder import DecoderLM


class LockStep:
    """The models of a group, each with its own cache, fed the same tokens; ``rows`` are the last position's logits."""

    def __init__(self, models: Sequence[DecoderLM], prompt: Sequence[int]) -> None:
        if not models:
            raise ValueError("a group needs at least one model")
        if not prompt:
            raise ValueError("the prompt is empty; a decoder needs at least one token")
        sizes = {m.config.vocab_size for m in models}
        if len(sizes) != 1:
            raise ValueError(f"the models' vocabularies differ ({sorted(sizes)}): models whose logits are combined must share one")
        self.models = list(models)
        self.context = min(m.config.context for m in models)
        if len(prompt) > self.context:
            raise ValueError(f"the prompt has {len(prompt)} tokens, more than the context of {self.context}")
        self.caches = [m.new_cache() for m in self.models]
        self.length = len(prompt)
        self.rows = self._run(torch.tensor([list(prompt)]))

    def _run(self, ids: torch.Tensor) -> List[np.ndarray]:
        with torch.no_grad():
            return [m(ids, cache=c)[0, -1].to(torch.float32).numpy().copy() for m, c in zip(self.models, self.caches)]

    @property
    def full(self) -> bool:
        return self.length == self.context

    def step(self, token: int) -> None:
        self.rows = self._run(torch.tensor([[token]]))
        self.length += 1


def generate(models: Sequence[DecoderLM], prompt: Sequence[int], settings: SamplingSettings,
             combiner: Optional[Combiner] = None, max_new_tokens: int = 16,
             stop_token_ids: Sequence[int] = ()) -> Tuple[List[int], str]:
    """The tokens generated after ``prompt`` (the stop token included) and the finish reason, ``stop`` or ``length``."""
    if max_new_tokens < 1:
        raise ValueError("at least one new token must be allowed")
    group = LockStep(models, prompt)
    chain = LogitsChain(len(group.rows[0]), settings, combiner)
    history = list(prompt)
    tokens: List[int] = []
    while True:
        primary, partners = group.rows[0].copy(), [row.copy() for row in group.rows[1:]]
        token = chain.next(primary, partners, history)
        history.append(token)
        tokens.append(token)
        if token in stop_token_ids:
            return tokens, "stop"
        if len(tokens) == max_new_tokens or group.full:
            return tokens, "length"
        group.step(token)
