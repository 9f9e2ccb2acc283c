"""Write the decoder golden fixtures (tests/fixtures/decoders/<name>/) from seeded weights.

Each fixture is a Hugging Face directory (``config.json``, float32 ``model.safetensors`` as
``save_pretrained`` writes it: a tied ``lm_head`` absent) plus ``cases.json``, a list of cases:

- ``{name, input_ids [B][T], attention_mask [B][T], valid_lengths [B], expected_logits [B][T][V]}``:
  rows right-padded with id 0; logits at every position (padded ones computed but not meaningful).
- ``{name, prompt [T0], expected_greedy_tokens [N]}``: greedy decoding through the KV cache, the
  lowest id on ties.

Weights come from numpy's seeded generator; expected logits from ``modeling_decoder`` in float64
(rounded to 1e-6, far below the 1e-4 the runtime is held to), greedy tokens from float64 too. Before
writing, every fixture checks what it is for: cached logits equal uncached ones, a padded row equals
the row alone, and each greedy step's winner leads the runner-up by at least ``MIN_GREEDY_MARGIN``
(so float32 rounding cannot flip it).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from .modeling_decoder import DecoderConfig, DecoderLM, greedy, save_pretrained
from .progress import summary

MIN_GREEDY_MARGIN = 1e-3
LOGIT_DECIMALS = 6


@dataclass
class DecoderFixtureSpec:
    name: str
    seed: int
    config: Dict[str, Any]
    summary: str
    long_prompt: int = 0  # a case with one row of this many tokens (0: none)
    bare_gpt2_names: bool = False


def _llama(**values: Any) -> Dict[str, Any]:
    base = dict(model_type="llama", hidden_act="silu", rms_norm_eps=1e-5, max_position_embeddings=64,
                num_hidden_layers=2, bos_token_id=1, eos_token_id=2)
    base.update(values)
    return base


def _qwen2(**values: Any) -> Dict[str, Any]:
    base = dict(model_type="qwen2", hidden_act="silu", rms_norm_eps=1e-6, max_position_embeddings=64,
                num_hidden_layers=2, use_sliding_window=False, sliding_window=4096, max_window_layers=2,
                rope_theta=1000000.0, bos_token_id=1, eos_token_id=2)
    base.update(values)
    return base


def _gpt2(**values: Any) -> Dict[str, Any]:
    base = dict(model_type="gpt2", activation_function="gelu_new", layer_norm_epsilon=1e-5, n_layer=2,
                n_positions=64, bos_token_id=1, eos_token_id=1)
    base.update(values)
    return base


FIXTURES: Tuple[DecoderFixtureSpec, ...] = (
    DecoderFixtureSpec("llama-gqa-tied", 11,
                       _llama(vocab_size=160, hidden_size=32, intermediate_size=64, num_attention_heads=4,
                              num_key_value_heads=2, tie_word_embeddings=True),
                       "llama, hidden 32, 4 heads sharing 2 KV heads (head 8), tied head, rope_theta 10000"),
    DecoderFixtureSpec("llama-one-kv-head-untied", 12,
                       _llama(vocab_size=200, hidden_size=48, intermediate_size=80, num_attention_heads=3,
                              num_key_value_heads=1, tie_word_embeddings=False, rope_theta=500000.0),
                       "llama, hidden 48, 3 heads (odd) on 1 KV head (head 16), untied head, rope_theta 500000"),
    DecoderFixtureSpec("llama-head-dim-odd-heads", 13,
                       _llama(vocab_size=128, hidden_size=40, intermediate_size=72, num_attention_heads=5,
                              num_key_value_heads=5, head_dim=12, tie_word_embeddings=True),
                       "llama, hidden 40, 5 heads of head_dim 12 (not hidden/heads), multi-head (5 KV heads), tied"),
    DecoderFixtureSpec("llama3-rope-long", 14,
                       _llama(vocab_size=144, hidden_size=32, intermediate_size=64, num_attention_heads=2,
                              num_key_value_heads=1, max_position_embeddings=256, rope_theta=10000.0,
                              rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                high_freq_factor=4.0, original_max_position_embeddings=64),
                              tie_word_embeddings=True),
                       "llama with llama3 rope_scaling (factor 8, original context 64: high, blended and low frequencies), "
                       "2 heads on 1 KV head (head 16), a 200-token prompt",
                       long_prompt=200),
    DecoderFixtureSpec("qwen2-gqa-bias-untied", 15,
                       _qwen2(vocab_size=180, hidden_size=48, intermediate_size=96, num_attention_heads=6,
                              num_key_value_heads=2, tie_word_embeddings=False),
                       "qwen2 (q/k/v biases), hidden 48, 6 heads on 2 KV heads (head 8), untied head"),
    DecoderFixtureSpec("qwen2-tied-one-kv-head", 16,
                       _qwen2(vocab_size=136, hidden_size=32, intermediate_size=48, num_attention_heads=4,
                              num_key_value_heads=1, tie_word_embeddings=True),
                       "qwen2, hidden 32, 4 heads on 1 KV head (head 8), tied head (as Qwen2.5-0.5B)"),
    DecoderFixtureSpec("gpt2-long", 17,
                       _gpt2(vocab_size=150, n_embd=32, n_head=4, n_positions=224),
                       "gpt2, n_embd 32, 4 heads (head 8), FFN 128, tied head, names under transformer., a 200-token prompt",
                       long_prompt=200),
    DecoderFixtureSpec("gpt2-bare-names-odd-heads", 18,
                       _gpt2(vocab_size=130, n_embd=36, n_head=3, n_inner=60, n_positions=48),
                       "gpt2, n_embd 36, 3 heads (head 12), n_inner 60, names without transformer. and with the "
                       "h.N.attn.bias mask buffers (the original checkpoints' form)",
                       bare_gpt2_names=True),
)


def seeded_model(spec: DecoderFixtureSpec) -> DecoderLM:
    """The fixture's model in float64: every parameter drawn from numpy's generator seeded with ``spec.seed``."""
    config = DecoderConfig.from_dict(spec.config)
    model = DecoderLM(config)
    rng = np.random.default_rng(spec.seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            shape = tuple(parameter.shape)
            if name.endswith("norm.weight") or name.endswith(("ln_1.weight", "ln_2.weight", "ln_f.weight")):
                values = 1.0 + 0.2 * rng.standard_normal(shape)
            elif name.endswith("bias"):
                values = 0.1 * rng.standard_normal(shape)
            elif "embed" in name or name.endswith(("wte.weight", "wpe.weight")):
                values = 0.5 * rng.standard_normal(shape)
            else:
                # fan-in scaling keeps activations near unit size through both layers
                fan_in = shape[0] if ".c_" in name else shape[-1]
                values = rng.standard_normal(shape) / np.sqrt(fan_in)
            parameter.copy_(torch.from_numpy(values))
    return model.double().eval()


def _padded_batch(lengths: Sequence[int], vocab: int, rng: np.random.Generator) -> Tuple[List[List[int]], List[List[int]]]:
    width = max(lengths)
    ids, mask = [], []
    for n in lengths:
        row = [int(v) for v in rng.integers(3, vocab, size=n)]
        ids.append(row + [0] * (width - n))
        mask.append([1] * n + [0] * (width - n))
    return ids, mask


def _logits_case(model: DecoderLM, name: str, ids: List[List[int]], mask: List[List[int]]) -> Dict[str, Any]:
    with torch.no_grad():
        logits = model(torch.tensor(ids), torch.tensor(mask))
    lengths = [sum(row) for row in mask]
    # The point of right padding: every valid position equals the row run alone.
    for b, n in enumerate(lengths):
        with torch.no_grad():
            alone = model(torch.tensor([ids[b][:n]]))[0]
        gap = float((alone - logits[b, :n]).abs().max())
        if gap > 1e-9:
            raise AssertionError(f"{name} row {b}: padded logits differ from the row alone by {gap:.3g}")
    return dict(name=name, input_ids=ids, attention_mask=mask, valid_lengths=lengths,
                expected_logits=np.round(logits.numpy(), LOGIT_DECIMALS).tolist())


def _check_cache(model: DecoderLM, prompt: List[int], spec: DecoderFixtureSpec) -> float:
    """Largest |Δ| between the logits of the prompt run at once and token by token through the cache."""
    with torch.no_grad():
        full = model(torch.tensor([prompt]))[0]
        cache = model.new_cache()
        split = max(1, len(prompt) // 2)
        rows = [model(torch.tensor([prompt[:split]]), cache=cache)[0]]
        for token in prompt[split:]:
            rows.append(model(torch.tensor([[token]]), cache=cache)[0])
    gap = float((torch.cat(rows) - full).abs().max())
    if gap > 1e-9:
        raise AssertionError(f"{spec.name}: cached logits differ from uncached ones by {gap:.3g}")
    return gap


def _greedy_case(model: DecoderLM, name: str, prompt: List[int], new_tokens: int) -> Dict[str, Any]:
    tokens, margins = greedy(model, prompt, new_tokens)
    if min(margins) < MIN_GREEDY_MARGIN:
        raise AssertionError(f"{name}: a greedy step leads by only {min(margins):.3g}; pick another prompt")
    return dict(name=name, prompt=prompt, expected_greedy_tokens=tokens)


def build_cases(spec: DecoderFixtureSpec, model: DecoderLM) -> List[Dict[str, Any]]:
    vocab = model.config.vocab_size
    rng = np.random.default_rng(1000 + spec.seed)
    cases = []
    ids, mask = _padded_batch([1], vocab, rng)
    cases.append(_logits_case(model, "single-token", ids, mask))
    ids, mask = _padded_batch([7, 3, 12, 1], vocab, rng)
    cases.append(_logits_case(model, "padded-batch", ids, mask))
    limit = model.config.context
    ids, mask = _padded_batch([limit], vocab, rng) if not spec.long_prompt else _padded_batch([spec.long_prompt], vocab, rng)
    cases.append(_logits_case(model, f"long-{len(ids[0])}" if spec.long_prompt else "full-context", ids, mask))
    _check_cache(model, ids[0][: min(len(ids[0]), 40)], spec)
    for n, new in ((5, 12), (1, 8)):
        # A few draws until every step of the continuation has a clear winner.
        for attempt in range(20):
            prompt = [int(v) for v in rng.integers(3, vocab, size=n)]
            try:
                cases.append(_greedy_case(model, f"greedy-prompt-{n}", prompt, new))
                break
            except AssertionError:
                if attempt == 19:
                    raise
    return cases


def write_fixture(spec: DecoderFixtureSpec, root: str) -> int:
    model = seeded_model(spec)
    cases = build_cases(spec, model)
    directory = os.path.join(root, "decoders", spec.name)
    save_pretrained(directory, model.float(), bare_gpt2_names=spec.bare_gpt2_names)
    with open(os.path.join(directory, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")
    return sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="root of the fixtures (the repository's tests/fixtures)")
    parser.add_argument("--only", action="append", default=[], metavar="NAME",
                        help=f"write only this fixture (repeatable): {', '.join(s.name for s in FIXTURES)}")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    known = {spec.name for spec in FIXTURES}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        raise SystemExit(f"make-decoder-fixtures: unknown fixture {', '.join(unknown)}; choose from {', '.join(sorted(known))}")
    torch.set_num_threads(1)
    written = []
    for spec in FIXTURES:
        if args.only and spec.name not in args.only:
            continue
        size = write_fixture(spec, args.output)
        written.append(spec.name)
        print(f"decoders/{spec.name}: {size / 1024:.0f} KiB")
    print(summary("make-decoder-fixtures", output=args.output, fixtures=",".join(written), seconds=time.monotonic() - started))
    return 0
