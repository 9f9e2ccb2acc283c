"""Write the generation golden (tests/fixtures/generation/): seeded partner models and the tokens groups generate.

The runtime's ``Generator`` must reproduce ``golden.json`` token for token in float32. It holds cases of a base model B
(the decoder fixture ``llama-gqa-tied``) alone, in offset unlearning with two small llama models S′ and S₀ written
here (``offset-unlearned`` is ``offset-original`` with every weight moved, as a fine-tune would), and in contrastive
decoding against a small GPT-2 amateur (``amateur-gpt2``): every model has B's vocabulary of 160 tokens, and the group
mixes architectures on purpose. Each case gives the group, the combiner, the sampling settings and seed, the prompt as
token ids, the limit and stop tokens, and the expected tokens and finish reason (``generation.generate``).

Logits come from the float64 reference, rounded to float32 rows. Before a case is written every step is checked to be
robust: the chain picks the same token from rows perturbed by up to ``NOISE`` (far above the 1e-6 by which the runtime's
float32 logits differ), with the generator's state as it stands. A prompt that fails is replaced by the next draw.

Also written: ``llama3-small-chat``, a tiny llama whose vocabulary is that of tests/data/tokenizers/llama3-small (6,011
tokens, BOS 6000, EOS ``<|eot_id|>`` 6009) and whose context is 32,768 positions, for end-to-end tests with a real
tokenizer (they put the tokenizer files beside it).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .decoder_fixtures import DecoderFixtureSpec, seeded_model
from .generation import LockStep, generate
from .logits_processing import Combiner, LogitsChain, SamplingSettings
from .modeling_decoder import DecoderLM, load_pretrained, save_pretrained
from .progress import summary

FORMAT = "edgeguard-generation-golden/1"
FILE_NAME = "golden.json"
NOISE = 1e-4
VARIANTS = 6
BASE = "decoders/llama-gqa-tied"

PARTNERS = (
    DecoderFixtureSpec("offset-original", 31,
                       dict(model_type="llama", hidden_act="silu", rms_norm_eps=1e-5, max_position_embeddings=64,
                            num_hidden_layers=1, vocab_size=160, hidden_size=16, intermediate_size=32,
                            num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=True,
                            bos_token_id=1, eos_token_id=2),
                       "S₀: llama, hidden 16, 1 layer, 2 heads on 1 KV head, B's vocabulary"),
    DecoderFixtureSpec("amateur-gpt2", 33,
                       dict(model_type="gpt2", activation_function="gelu_new", layer_norm_epsilon=1e-5, n_layer=1,
                            n_positions=64, vocab_size=160, n_embd=16, n_head=2, bos_token_id=1, eos_token_id=1),
                       "contrastive amateur: gpt2, n_embd 16, 1 layer, 2 heads, B's vocabulary"),
)
UNLEARNED = "offset-unlearned"
UNLEARNED_SEED = 32
CHAT = DecoderFixtureSpec("llama3-small-chat", 34,
                          dict(model_type="llama", hidden_act="silu", rms_norm_eps=1e-5, max_position_embeddings=32768,
                               num_hidden_layers=2, vocab_size=6011, hidden_size=16, intermediate_size=32,
                               num_attention_heads=2, num_key_value_heads=1, rope_theta=500000.0,
                               tie_word_embeddings=True, bos_token_id=6000, eos_token_id=6009),
                          "llama over llama3-small's vocabulary, 32768 positions")


def unlearned_from(original: DecoderLM) -> DecoderLM:
    """S′: S₀ with every weight moved by 0.3 of its tensor's spread, drawn from a generator of its own."""
    model = DecoderLM(original.config).double()
    model.load_state_dict(original.state_dict())
    rng = np.random.default_rng(UNLEARNED_SEED)
    with torch.no_grad():
        for _, parameter in model.named_parameters():
            spread = float(parameter.std()) if parameter.numel() > 1 else 0.1
            parameter.add_(torch.from_numpy(0.3 * spread * rng.standard_normal(tuple(parameter.shape))))
    return model.eval()


def write_models(root: str) -> Dict[str, DecoderLM]:
    """Writes the partner and chat models under ``root/generation`` and returns every model of the golden in float64."""
    directory = os.path.join(root, "generation")
    models: Dict[str, DecoderLM] = {}
    for spec in PARTNERS:
        model = seeded_model(spec)
        save_pretrained(os.path.join(directory, spec.name), model.float())
        models[f"generation/{spec.name}"] = model.double()
    unlearned = unlearned_from(models["generation/offset-original"])
    save_pretrained(os.path.join(directory, UNLEARNED), unlearned.float())
    models[f"generation/{UNLEARNED}"] = unlearned.double()
    save_pretrained(os.path.join(directory, CHAT.name), seeded_model(CHAT).float())
    # Every model as the runtime reads it: float32 weights, computed here in float64.
    return {name: load_pretrained(os.path.join(root, name), dtype=torch.float64) for name in [BASE, *models]}


def _robust_run(models: Sequence[DecoderLM], prompt: Sequence[int], settings: SamplingSettings,
                combiner: Optional[Combiner], max_new_tokens: int, stops: Sequence[int],
                noise: np.random.Generator) -> Optional[Tuple[List[int], str]]:
    """``generate``'s run, or None when a step's token changes under perturbed rows."""
    group = LockStep(models, prompt)
    vocabulary = len(group.rows[0])
    chain = LogitsChain(vocabulary, settings, combiner)
    history = list(prompt)
    tokens: List[int] = []
    while True:
        state = chain.random.state
        primary, partners = group.rows[0].copy(), [row.copy() for row in group.rows[1:]]
        token = chain.next(primary, partners, history)
        for _ in range(VARIANTS):
            rows = [(row.astype(np.float64) + noise.uniform(-NOISE, NOISE, vocabulary)).astype(np.float32) for row in group.rows]
            probe = LogitsChain(vocabulary, settings, combiner)
            probe.random.state = state
            if probe.next(rows[0], rows[1:], history) != token:
                return None
        history.append(token)
        tokens.append(token)
        if token in stops:
            return tokens, "stop"
        if len(tokens) == max_new_tokens or group.full:
            return tokens, "length"
        group.step(token)


def _case(name: str, models: Dict[str, DecoderLM], group: Sequence[str], settings: SamplingSettings,
          combiner: Optional[Combiner], prompt_length: int, max_new_tokens: int, rng: np.random.Generator,
          stop_at: Optional[int] = None) -> Dict[str, Any]:
    """A case whose every step is robust; ``stop_at`` makes the token generated at that index a stop token."""
    members = [models[m] for m in group]
    vocabulary = members[0].config.vocab_size
    noise = np.random.default_rng(len(name) * 7919)
    for attempt in range(50):
        prompt = [int(v) for v in rng.integers(3, vocabulary, size=prompt_length)]
        stops: List[int] = []
        run = _robust_run(members, prompt, settings, combiner, max_new_tokens, stops, noise)
        if run is None:
            continue
        if stop_at is not None:
            token = run[0][stop_at]
            if token in run[0][:stop_at]:
                continue
            stops = [token]
            run = _robust_run(members, prompt, settings, combiner, max_new_tokens, stops, noise)
            if run is None:
                continue
        tokens, reason = run
        if (tokens, reason) != generate(members, prompt, settings, combiner, max_new_tokens, stops):
            raise AssertionError(f"{name}: generate disagrees with the checked run")
        return {
            "name": name,
            "models": list(group),
            "combiner": _combiner_json(combiner),
            "settings": {
                "repetition_penalty": settings.repetition_penalty,
                "temperature": settings.temperature,
                "top_k": settings.top_k,
                "top_p": settings.top_p,
                "min_p": settings.min_p,
                "seed": settings.seed,
            },
            "prompt": prompt,
            "max_new_tokens": max_new_tokens,
            "stop_token_ids": stops,
            "expected_tokens": tokens,
            "finish_reason": reason,
        }
    raise AssertionError(f"{name}: no robust prompt in 50 draws")


def _combiner_json(combiner: Optional[Combiner]) -> Optional[Dict[str, Any]]:
    if combiner is None:
        return None
    if combiner.kind == "offset":
        return {"kind": "offset", "alpha": combiner.alpha}
    return {"kind": "contrastive", "plausibility": combiner.plausibility,
            "beta": "inf" if math.isinf(combiner.beta) else combiner.beta}


def combiner_from_json(spec: Optional[Dict[str, Any]]) -> Optional[Combiner]:
    if spec is None:
        return None
    if spec["kind"] == "offset":
        return Combiner("offset", alpha=spec["alpha"])
    beta = math.inf if spec["beta"] == "inf" else spec["beta"]
    return Combiner("contrastive", plausibility=spec["plausibility"], beta=beta)


def settings_from_json(spec: Dict[str, Any]) -> SamplingSettings:
    return SamplingSettings(**spec)


def cases(models: Dict[str, DecoderLM]) -> List[Dict[str, Any]]:
    rng = np.random.default_rng(20261208)
    S = SamplingSettings
    b = [BASE]
    offset = [BASE, f"generation/{UNLEARNED}", "generation/offset-original"]
    contrast = [BASE, "generation/amateur-gpt2"]
    return [
        _case("base-greedy", models, b, S(temperature=0.0), None, 5, 12, rng),
        _case("base-sampled", models, b, S(temperature=0.8, top_k=20, top_p=0.9, seed=7), None, 4, 16, rng),
        _case("base-every-filter", models, b, S(repetition_penalty=1.3, temperature=0.7, top_k=40, top_p=0.95,
                                                   min_p=0.05, seed=2**64 - 1), None, 6, 16, rng),
        _case("base-stop-token", models, b, S(seed=5), None, 3, 16, rng, stop_at=4),
        _case("base-context-full", models, b, S(seed=6), None, 60, 12, rng),
        _case("offset-alpha-1", models, offset, S(seed=11), Combiner("offset", alpha=1.0), 5, 16, rng),
        _case("offset-alpha-1-greedy", models, offset, S(temperature=0.0), Combiner("offset", alpha=1.0), 5, 12, rng),
        _case("offset-alpha-2.5-top-p", models, offset, S(top_p=0.9, seed=12), Combiner("offset", alpha=2.5), 3, 16, rng),
        _case("contrastive-unidetox", models, contrast, S(top_k=50, seed=21), Combiner("contrastive", plausibility=0.1),
              1, 16, rng),
        _case("contrastive-beta-0.5", models, contrast, S(temperature=0.9, seed=22),
              Combiner("contrastive", plausibility=0.1, beta=0.5), 4, 16, rng),
    ]


def render(document: Dict[str, Any]) -> str:
    """One case per block, one field per line: diffable and small."""
    lines = ["{", f'  "format": {json.dumps(document["format"])},', f'  "about": {json.dumps(document["about"])},',
             '  "cases": [']
    for i, case in enumerate(document["cases"]):
        fields = [f'    {json.dumps(key)}: {json.dumps(value, allow_nan=False)}' for key, value in case.items()]
        lines.append("   {\n" + ",\n".join(fields) + "\n   }" + ("," if i + 1 < len(document["cases"]) else ""))
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


def write(root: str) -> str:
    models = write_models(root)
    document = {
        "format": FORMAT,
        "about": "Tokens model groups generate, from edgeguard_train.generation_golden; model paths are relative to tests/fixtures.",
        "cases": cases(models),
    }
    path = os.path.join(root, "generation", FILE_NAME)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(render(document))
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True,
                        help="root of the fixtures (the repository's tests/fixtures; reads decoders/llama-gqa-tied there)")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    torch.set_num_threads(1)
    path = write(args.output)
    print(summary("make-generation-golden", output=path, seconds=time.monotonic() - started))
    return 0
