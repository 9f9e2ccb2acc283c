"""Distil detoxifying text (UniDetox): sample from BOS by contrastive decoding of a base model against its toxic copy.

UniDetox (Lu et al., "UniDetox: Universal Detoxification of Large Language Models via Dataset Distillation", ICLR
2025) fine-tunes a copy of a base model on hateful text (``train-lm --init-from BASE``), then samples text that the base
model finds plausible and the toxic copy does not; fine-tuning any model on that text (``train-lm --init-from TARGET
--train samples.jsonl --text-fields text``) detoxifies it. This stage does the sampling.

Sample i uses the seed ``--seed + i`` and starts from the base tokenizer's BOS token. Each step runs both models in
lock-step, each with its own KV cache (``generation.py``); tokens with ``l_base < log(alpha) + max l_base`` (alpha =
``--plausibility``, 0.1) are masked, the others score ``l_base - l_toxic`` (beta = infinity, UniDetox's setting; a
finite ``--beta`` scores ``l_base + beta (l_base - l_toxic)``), the ``--top-k`` (50) best stay and one is drawn with
SplitMix64 (``logits_processing.py``, the runtime's chain), until EOS (kept in ``tokens``, not in ``text``) or
``--max-new-tokens`` (256). When the two models are the same, every plausible token scores 0 and top-k keeps all ties,
so sampling is uniform over the base model's plausible set: the difference, not the base model, picks the tokens.

``--runtime-cli PATH`` produces the samples with the C# runtime instead: one ``edgeguard generate "" --model BASE
--contrast-amateur TOXIC --plausibility A --top-k K --seed S --max-tokens N --json`` process per sample (each process
seeds its sampler once), for bundles or Hugging Face directories; the runtime decodes with beta = infinity only.

Writes to ``--output``: ``samples.jsonl`` (``{seed, text, tokens, finish_reason}`` per sample, appended as each is
done, so a rerun skips the seeds already written and continues), ``settings.json`` (the models and decoding settings;
a rerun with other settings is refused unless ``--overwrite``) and ``summary.json`` (count, mean length in tokens,
word distinct-2, finish reasons) over every sample in the file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence

from .generation_metrics import distinct_n
from .jsonl import JsonlAppender, done_keys, read_jsonl, settings_match
from .progress import Progress, summary

SAMPLES = "samples.jsonl"
SETTINGS = "settings.json"
SUMMARY = "summary.json"
MAX_SEED = (1 << 64) - 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="the base model (the expert): a Llama/Qwen2/GPT-2 Hugging Face "
                        "directory with its tokenizer (with --runtime-cli also a runtime bundle)")
    parser.add_argument("--toxic", required=True, help="the base model fine-tuned on hateful text (the amateur), same vocabulary")
    parser.add_argument("--output", required=True, help="directory for samples.jsonl, settings.json and summary.json")
    parser.add_argument("--samples", type=int, default=640, help="how many texts to sample (default 640, the paper's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first sample; sample i uses seed + i")
    parser.add_argument("--max-new-tokens", type=int, default=256, help="most tokens per sample (default 256)")
    parser.add_argument("--top-k", type=int, default=50, help="keep the k best contrastive scores (default 50)")
    parser.add_argument("--plausibility", type=float, default=0.1,
                        help="alpha: mask tokens the base model finds less likely than alpha times its best (default 0.1)")
    parser.add_argument("--beta", type=float, default=math.inf,
                        help="contrast strength: inf scores l_base - l_toxic (UniDetox, the default); a finite beta scores "
                             "l_base + beta (l_base - l_toxic)")
    parser.add_argument("--temperature", type=float, default=1.0, help="divides the contrastive scores before top-k (default 1)")
    parser.add_argument("--runtime-cli", metavar="PATH", help="sample with this `edgeguard` executable instead of the Python reference")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads, or the runtime's --threads (0 = their default)")
    parser.add_argument("--overwrite", action="store_true", help="delete what --output holds and start over")


@dataclass(frozen=True)
class Decoding:
    """How every sample is decoded; with the models, what ``settings.json`` records."""
    plausibility: float
    beta: float
    top_k: int
    temperature: float
    max_new_tokens: int

    def validate(self) -> None:
        if not 0.0 <= self.plausibility <= 1.0:
            raise SystemExit(f"distill-detox: --plausibility {self.plausibility} is not in [0, 1]")
        if not self.beta >= 0.0:
            raise SystemExit(f"distill-detox: --beta {self.beta} must be 0 or more (inf for the plain difference)")
        if self.top_k < 1:
            raise SystemExit(f"distill-detox: --top-k {self.top_k} must be at least 1")
        if not (self.temperature > 0.0 and math.isfinite(self.temperature)):
            raise SystemExit(f"distill-detox: --temperature {self.temperature} must be positive and finite")
        if self.max_new_tokens < 1:
            raise SystemExit(f"distill-detox: --max-new-tokens {self.max_new_tokens} must be at least 1")

    def to_json(self) -> Dict[str, Any]:
        # JSON has no infinity: beta = inf is written as the string "inf".
        data = asdict(self)
        data["beta"] = "inf" if math.isinf(self.beta) else self.beta
        return data


class ReferenceSampler:
    """The Python reference: ``generation.generate`` over the base and toxic models with the contrastive combiner."""

    engine = "python"

    def __init__(self, base: str, toxic: str, decoding: Decoding) -> None:
        from .lm_data import DecoderTokenizer
        from .modeling_decoder import load_pretrained

        self.decoding = decoding
        self.tokenizer = DecoderTokenizer.load(base)
        if self.tokenizer.bos_id is None:
            raise SystemExit(f"distill-detox: {base}: the tokenizer has no bos_token to start sampling from "
                             "(tokenizer_config.json's bos_token)")
        if os.path.exists(os.path.join(toxic, "tokenizer.json")):
            toxic_tokens = DecoderTokenizer.load(toxic).bpe.tokens
            if toxic_tokens != self.tokenizer.bpe.tokens:
                raise SystemExit(f"distill-detox: {base} and {toxic} have different tokenizers; contrastive decoding "
                                 "needs the toxic model to be a fine-tune of the base with its vocabulary")
        self.models = [_load(load_pretrained, base), _load(load_pretrained, toxic)]
        sizes = [m.config.vocab_size for m in self.models]
        if sizes[0] != sizes[1]:
            raise SystemExit(f"distill-detox: {base} has {sizes[0]} logits per token and {toxic} {sizes[1]}: "
                             "the two models must share one vocabulary")
        if self.tokenizer.vocab_size > sizes[0]:
            raise SystemExit(f"distill-detox: {base}: the tokenizer has {self.tokenizer.vocab_size} ids but the model "
                             f"only {sizes[0]} logits")
        self.stop = [self.tokenizer.eos_id] if self.tokenizer.eos_id is not None else []

    def sample(self, seed: int) -> Dict[str, Any]:
        from .generation import generate
        from .logits_processing import Combiner, SamplingSettings

        d = self.decoding
        settings = SamplingSettings(temperature=d.temperature, top_k=d.top_k, seed=seed)
        combiner = Combiner("contrastive", plausibility=d.plausibility, beta=d.beta)
        tokens, reason = generate(self.models, [self.tokenizer.bos_id], settings, combiner, d.max_new_tokens, self.stop)
        return {"seed": seed, "text": self.tokenizer.text(tokens), "tokens": tokens, "finish_reason": reason}


def _load(load_pretrained, directory: str):
    if not os.path.isfile(os.path.join(directory, "config.json")):
        raise SystemExit(f"distill-detox: {directory}: no config.json (give a Hugging Face decoder directory)")
    try:
        return load_pretrained(directory)
    except (ValueError, OSError) as e:
        raise SystemExit(f"distill-detox: {directory}: {e}") from None


class RuntimeCliSampler:
    """The C# runtime: one ``edgeguard generate`` process per sample, its JSON result read from stdout."""

    engine = "runtime-cli"

    def __init__(self, executable: str, base: str, toxic: str, decoding: Decoding, threads: int) -> None:
        if not os.path.isfile(executable) or not os.access(executable, os.X_OK):
            raise SystemExit(f"distill-detox: --runtime-cli {executable}: not an executable file")
        if not math.isinf(decoding.beta):
            raise SystemExit("distill-detox: the runtime decodes l_base - l_toxic only (beta = inf); drop --beta or "
                             "sample with the Python reference")
        for path in (base, toxic):
            if not os.path.exists(path):
                raise SystemExit(f"distill-detox: {path}: no such model")
        self.executable, self.base, self.toxic, self.decoding, self.threads = executable, base, toxic, decoding, threads

    def command(self, seed: int) -> List[str]:
        d = self.decoding
        return [self.executable, "generate", "", "--model", self.base, "--contrast-amateur", self.toxic,
                "--plausibility", repr(d.plausibility), "--top-k", str(d.top_k), "--temperature", repr(d.temperature),
                "--max-tokens", str(d.max_new_tokens), "--seed", str(seed), "--threads", str(self.threads), "--json"]

    def sample(self, seed: int) -> Dict[str, Any]:
        done = subprocess.run(self.command(seed), capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"distill-detox: {self.executable} failed on seed {seed} (exit {done.returncode}): "
                             f"{done.stderr.strip() or done.stdout.strip()}")
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        try:
            result = json.loads(lines[-1]) if lines else None
        except json.JSONDecodeError:
            result = None
        if not isinstance(result, dict) or not isinstance(result.get("text"), str) or not isinstance(result.get("tokens"), list):
            raise SystemExit(f"distill-detox: {self.executable} gave no JSON result with text and tokens on seed {seed}: "
                             f"{done.stdout.strip()[:200]!r}")
        reason = result.get("finish_reason")
        if reason not in ("stop", "length"):
            raise SystemExit(f"distill-detox: {self.executable} ended seed {seed} with finish_reason {reason!r}")
        return {"seed": seed, "text": result["text"], "tokens": [int(t) for t in result["tokens"]], "finish_reason": reason}


def summarize(rows: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Count, mean length in tokens, word distinct-2 over all texts, and finish reasons of ``rows``."""
    reasons: Dict[str, int] = {}
    for row in rows:
        reasons[row["finish_reason"]] = reasons.get(row["finish_reason"], 0) + 1
    return {"count": len(rows),
            "mean_tokens": sum(len(r["tokens"]) for r in rows) / len(rows) if rows else 0.0,
            "distinct_2": distinct_n([r["text"] for r in rows], 2),
            "finish_reasons": dict(sorted(reasons.items()))}


def _settings(args: argparse.Namespace, decoding: Decoding) -> Dict[str, Any]:
    return {"engine": "runtime-cli" if args.runtime_cli else "python", "base": os.path.abspath(args.base),
            "toxic": os.path.abspath(args.toxic), **decoding.to_json()}


def _prepare_output(output: str, settings: Dict[str, Any], overwrite: bool) -> None:
    """Creates ``output``; a rerun must decode as the run that wrote its samples did."""
    os.makedirs(output, exist_ok=True)
    if overwrite:
        for name in (SAMPLES, SETTINGS, SUMMARY):
            if os.path.exists(os.path.join(output, name)):
                os.remove(os.path.join(output, name))
    if os.path.exists(os.path.join(output, SAMPLES)) and not os.path.exists(os.path.join(output, SETTINGS)):
        raise SystemExit(f"distill-detox: {output} holds {SAMPLES} without {SETTINGS}; use another --output or --overwrite")
    settings_match(os.path.join(output, SETTINGS), settings, "distill-detox")


def _write_json(path: str, data: Dict[str, Any]) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    decoding = Decoding(args.plausibility, args.beta, args.top_k, args.temperature, args.max_new_tokens)
    decoding.validate()
    if args.samples < 1:
        raise SystemExit(f"distill-detox: --samples {args.samples} must be at least 1")
    if args.seed < 0 or args.seed + args.samples - 1 > MAX_SEED:
        raise SystemExit(f"distill-detox: the seeds {args.seed}..{args.seed + args.samples - 1} must be unsigned 64-bit integers")
    if args.threads < 0:
        raise SystemExit(f"distill-detox: --threads {args.threads} must be 0 or more")
    if args.threads and not args.runtime_cli:
        import torch
        torch.set_num_threads(args.threads)

    settings = _settings(args, decoding)
    _prepare_output(args.output, settings, args.overwrite)
    samples_path = os.path.join(args.output, SAMPLES)
    done = done_keys(samples_path, "seed")
    todo = [s for s in range(args.seed, args.seed + args.samples) if s not in done]
    if todo:
        sampler = (RuntimeCliSampler(args.runtime_cli, args.base, args.toxic, decoding, args.threads) if args.runtime_cli
                   else ReferenceSampler(args.base, args.toxic, decoding))
        with JsonlAppender(samples_path) as out, Progress("distill-detox", len(todo)) as bar:
            for seed in todo:
                out.write(sampler.sample(seed))
                bar.update()
    rows = list(read_jsonl(samples_path)) if os.path.exists(samples_path) else []
    stats = summarize(rows)
    _write_json(os.path.join(args.output, SUMMARY), {**stats, "settings": settings})
    print(summary("distill-detox", written=len(todo), skipped=args.samples - len(todo), count=stats["count"],
                  mean_tokens=stats["mean_tokens"], distinct_2=stats["distinct_2"], seconds=time.monotonic() - started))
    return 0
