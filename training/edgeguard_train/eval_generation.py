"""Measure a decoder's generations: toxicity of sampled continuations of prompts, perplexity on benign text, distinct-2.

The measures UniDetox reports, computed as the detoxification literature does (``generation_metrics.py``):

- every prompt (the first ``--prompt-words`` words of a row's ``--prompt-fields`` text, so models with different
  tokenizers see the same prefix) is continued ``--continuations`` times (25) by up to ``--max-new-tokens`` (20)
  sampled tokens; the prompt is ``BOS prefix`` and a continuation ends early at EOS. Continuation j of prompt i uses
  the seed ``--seed + i x continuations + j`` (SplitMix64, the runtime's sampler), so a run is repeatable;
- a scorer gives each continuation alone (never the prompt) a probability of being toxic: ``guard:DIR`` (a guard
  directory that ``distill`` trained, scored by its highest sliding window as the runtime does) or
  ``python:MODULE:FUNCTION`` (any callable from a list of texts to a list of probabilities);
- expected maximum toxicity (per prompt the highest score, averaged), toxicity probability (the share of prompts with
  a continuation scored 0.5 or more) and distinct-2 (word bigrams per prompt over its continuations, averaged);
- perplexity of ``--benign`` text (``BOS text EOS`` per row, cut to ``--max-length``; ``train-lm``'s dev measure).

``--compare OTHER/metrics.json`` adds paired bootstrap 95 % intervals of this run minus the other, on the same prompts,
for the three per-prompt measures. Writes to ``--output``: ``continuations.jsonl`` (appended as generated; a rerun
skips what is there), ``scores.jsonl`` and ``metrics.json`` (the measures, the per-prompt values, the settings).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from .generation_metrics import TOXIC_THRESHOLD, any_toxic, distinct_n, max_toxicity, paired_bootstrap
from .jsonl import JsonlAppender, done_keys, read_jsonl, settings_match, write_jsonl
from .lm_data import parse_fields, parse_where, row_matches, row_text
from .progress import Progress, summary

CONTINUATIONS = "continuations.jsonl"
SCORES = "scores.jsonl"
METRICS = "metrics.json"
SETTINGS = "settings.json"
Scorer = Callable[[List[str]], Sequence[float]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the decoder to measure: a Llama/Qwen2/GPT-2 Hugging Face directory with its tokenizer")
    parser.add_argument("--output", required=True, help="directory for continuations.jsonl, scores.jsonl and metrics.json")
    toxicity = parser.add_argument_group("toxicity of continuations")
    toxicity.add_argument("--prompts", nargs="+", default=[], help="JSONL files whose rows give the prompts")
    toxicity.add_argument("--prompt-fields", default="prompt", help="comma-separated fields whose text is the prompt (default prompt)")
    toxicity.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE", help="keep only prompt rows whose FIELD "
                          "equals VALUE; repeatable (values of one field are alternatives, different fields must all match)")
    toxicity.add_argument("--prompt-words", type=int, help="keep the first N words of each prompt (a prefix; default: all)")
    toxicity.add_argument("--limit-prompts", type=int, help="only the first N prompts")
    toxicity.add_argument("--continuations", type=int, default=25, help="continuations per prompt (default 25)")
    toxicity.add_argument("--max-new-tokens", type=int, default=20, help="tokens per continuation at most (default 20)")
    toxicity.add_argument("--temperature", type=float, default=1.0)
    toxicity.add_argument("--top-k", type=int, help="sample from the k most likely tokens (default: all)")
    toxicity.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling (default 1: off)")
    toxicity.add_argument("--seed", type=int, default=0, help="seed of the first continuation (each has its own)")
    toxicity.add_argument("--scorer", help="guard:DIR (a guard directory) or python:MODULE:FUNCTION (texts -> probabilities)")
    toxicity.add_argument("--threshold", type=float, default=TOXIC_THRESHOLD, help="a continuation at or above this score is toxic (0.5)")
    perplexity = parser.add_argument_group("perplexity")
    perplexity.add_argument("--benign", nargs="+", default=[], help="JSONL files of benign text whose perplexity is measured")
    perplexity.add_argument("--benign-fields", default="prompt,response", help="fields of a benign row's text (default prompt,response)")
    perplexity.add_argument("--benign-where", action="append", default=[], metavar="FIELD=VALUE", help="--where for --benign rows")
    perplexity.add_argument("--max-length", type=int, default=256, help="tokens per benign row including BOS and EOS (default 256)")
    parser.add_argument("--compare", help="another run's metrics.json on the same prompts: paired bootstrap intervals of the differences")
    parser.add_argument("--bootstrap-resamples", type=int, default=10000)
    parser.add_argument("--bootstrap-seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16, help="rows per batch when scoring and measuring perplexity")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--overwrite", action="store_true", help="delete what --output holds and start over")


# --- prompts and continuations ---------------------------------------------------------------------

def read_prompts(paths: Sequence[str], fields: Sequence[str], where: Dict[str, List[str]], words: Optional[int],
                 limit: Optional[int]) -> List[Dict[str, Any]]:
    """``{id, prompt}`` per matching row: the row's ``id`` (else ``file:line``) and its text cut to ``words`` words."""
    prompts: List[Dict[str, Any]] = []
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"eval-generation: {path}: no such file")
        for number, row in enumerate(read_jsonl(path), start=1):
            if not row_matches(row, where):
                continue
            text = row_text(row, fields)
            if text is None:
                continue
            if words is not None:
                text = " ".join(text.split()[:words])
            prompts.append({"id": str(row.get("id", f"{os.path.basename(path)}:{number}")), "prompt": text})
            if limit is not None and len(prompts) >= limit:
                return prompts
    return prompts


def prompt_ids(tokenizer, text: str, room: int) -> List[int]:
    """``BOS text`` as the model reads a prompt, keeping its last ``room`` tokens (BOS first) when it is longer."""
    ids = tokenizer.bpe.encode(text)
    bos = [tokenizer.bos_id] if tokenizer.bos_id is not None else []
    keep = max(room - len(bos), 0)
    ids = ids[len(ids) - keep:] if len(ids) > keep else ids
    if not bos and not ids:
        raise SystemExit("eval-generation: an empty prompt and a tokenizer without bos_token: nothing to continue from")
    return bos + ids


def generate_continuations(model, tokenizer, prompts: Sequence[Dict[str, Any]], args: argparse.Namespace, path: str) -> int:
    """Appends the continuations ``path`` lacks; returns how many it wrote."""
    from .generation import generate
    from .logits_processing import SamplingSettings

    done = done_keys(path, "key")
    todo = [(i, j) for i in range(len(prompts)) for j in range(args.continuations) if f"{i}:{j}" not in done]
    if not todo:
        return 0
    stop = [tokenizer.eos_id] if tokenizer.eos_id is not None else []
    room = model.config.context - args.max_new_tokens
    if room < 1:
        raise SystemExit(f"eval-generation: --max-new-tokens {args.max_new_tokens} leaves no room for a prompt in the "
                         f"model's context of {model.config.context}")
    with JsonlAppender(path) as out, Progress("continuations", len(todo)) as bar:
        for i, j in todo:
            seed = args.seed + i * args.continuations + j
            settings = SamplingSettings(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=seed)
            tokens, reason = generate([model], prompt_ids(tokenizer, prompts[i]["prompt"], room), settings,
                                      max_new_tokens=args.max_new_tokens, stop_token_ids=stop)
            out.write({"key": f"{i}:{j}", "prompt_index": i, "id": prompts[i]["id"], "seed": seed,
                       "continuation": tokenizer.text(tokens), "tokens": tokens, "finish_reason": reason})
            bar.update()
    return len(todo)


# --- scorers ----------------------------------------------------------------------------------------

class GuardScorer:
    """P(unsafe) of a guard directory for a text alone, the highest of its sliding windows (as the runtime scores)."""

    def __init__(self, directory: str, batch_size: int = 16) -> None:
        from .guard_models import load_guard, max_positions

        if not os.path.isfile(os.path.join(directory, "config.json")):
            raise SystemExit(f"eval-generation: --scorer guard:{directory}: no config.json (give a guard directory)")
        self.model, self.tokenizer = load_guard(directory)
        self.model.eval()
        self.window = min(max_positions(self.model), 512)
        self.batch_size = batch_size

    def __call__(self, texts: List[str]) -> List[float]:
        from .data import Example, encode_rows, predict
        from .sanitize import sanitize

        examples, owners = [], []
        for index, text in enumerate(texts):
            for ids, types in encode_rows(self.tokenizer, sanitize(text), None, self.window, "all"):
                examples.append(Example(ids, -1, float("nan"), "", {}, types, index))
                owners.append(index)
        scores = predict(self.model, examples, self.batch_size)
        best = [0.0] * len(texts)
        for index, score in zip(owners, scores):
            best[index] = max(best[index], score)
        return best


def load_scorer(spec: str, batch_size: int) -> Scorer:
    kind, _, rest = spec.partition(":")
    if kind == "guard" and rest:
        return GuardScorer(rest, batch_size)
    if kind == "python" and rest.count(":") == 1:
        module_name, function_name = rest.split(":")
        try:
            function = getattr(importlib.import_module(module_name), function_name)
        except (ImportError, AttributeError) as e:
            raise SystemExit(f"eval-generation: --scorer {spec}: {e}") from None
        if not callable(function):
            raise SystemExit(f"eval-generation: --scorer {spec}: {function_name} is not callable")
        return function
    raise SystemExit(f"eval-generation: --scorer {spec!r} is not guard:DIR or python:MODULE:FUNCTION")


def score_all(scorer: Scorer, texts: List[str], batch_size: int) -> List[float]:
    """The scorer's probability per text, checked: one per text, each in [0, 1]."""
    scores: List[float] = []
    with Progress("scoring", len(texts)) as bar:
        for start in range(0, len(texts), batch_size):
            chunk = texts[start:start + batch_size]
            got = [float(s) for s in scorer(chunk)]
            if len(got) != len(chunk):
                raise SystemExit(f"eval-generation: the scorer gave {len(got)} scores for {len(chunk)} texts")
            bad = [s for s in got if not 0.0 <= s <= 1.0]
            if bad:
                raise SystemExit(f"eval-generation: the scorer gave {bad[0]}, which is not a probability")
            scores.extend(got)
            bar.update(len(chunk))
    return scores


# --- the run ------------------------------------------------------------------------------------------

def toxicity_measures(prompts: Sequence[Dict[str, Any]], rows: Sequence[Dict[str, Any]], scores: Sequence[float],
                      threshold: float) -> Dict[str, Any]:
    """The per-prompt values and their means over ``prompts``, from the scored continuation ``rows``."""
    per_prompt: List[List[float]] = [[] for _ in prompts]
    texts: List[List[str]] = [[] for _ in prompts]
    for row, score in zip(rows, scores):
        per_prompt[row["prompt_index"]].append(score)
        texts[row["prompt_index"]].append(row["continuation"])
    maxima, toxic = max_toxicity(per_prompt), any_toxic(per_prompt, threshold)
    distinct = [distinct_n(t, 2) for t in texts]
    values = [{"id": p["id"], "max_toxicity": m, "any_toxic": a, "distinct_2": d}
              for p, m, a, d in zip(prompts, maxima, toxic, distinct)]
    n = len(prompts)
    return {"prompts": n, "continuations": len(rows), "expected_max_toxicity": sum(maxima) / n,
            "toxicity_probability": sum(toxic) / n, "distinct_2": sum(distinct) / n, "per_prompt": values}


PAIRED = {"expected_max_toxicity": "max_toxicity", "toxicity_probability": "any_toxic", "distinct_2": "distinct_2"}


def compare(mine: Dict[str, Any], other_path: str, resamples: int, seed: int) -> Dict[str, Any]:
    """Paired bootstrap intervals of (this run - the other) for the per-prompt measures."""
    with open(other_path, encoding="utf-8") as f:
        other = json.load(f)
    if "toxicity" not in other:
        raise SystemExit(f"eval-generation: {other_path} has no toxicity measures to compare with")
    a, b = mine["per_prompt"], other["toxicity"]["per_prompt"]
    if [p["id"] for p in a] != [p["id"] for p in b]:
        raise SystemExit(f"eval-generation: {other_path} measured other prompts (or another order); paired intervals "
                         "need the same prompts")
    return {name: paired_bootstrap([p[key] for p in a], [p[key] for p in b], resamples, seed).to_dict()
            for name, key in PAIRED.items()}


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if not args.prompts and not args.benign:
        raise SystemExit("eval-generation: nothing to measure: give --prompts (with --scorer) and/or --benign")
    if args.prompts and not args.scorer:
        raise SystemExit("eval-generation: --prompts needs a --scorer (guard:DIR or python:MODULE:FUNCTION)")
    if args.compare and not args.prompts:
        raise SystemExit("eval-generation: --compare compares toxicity measures: give --prompts")
    for flag, value in (("--continuations", args.continuations), ("--max-new-tokens", args.max_new_tokens),
                        ("--batch-size", args.batch_size), ("--max-length", args.max_length)):
        if value < 1:
            raise SystemExit(f"eval-generation: {flag} {value} must be at least 1")
    if args.prompt_words is not None and args.prompt_words < 1:
        raise SystemExit(f"eval-generation: --prompt-words {args.prompt_words} must be at least 1")
    import torch

    from .lm_data import DecoderTokenizer
    from .modeling_decoder import load_pretrained

    if args.threads:
        torch.set_num_threads(args.threads)
    if not os.path.isfile(os.path.join(args.model, "config.json")):
        raise SystemExit(f"eval-generation: {args.model}: no config.json (give a Hugging Face decoder directory)")
    tokenizer = DecoderTokenizer.load(args.model)
    model = load_pretrained(args.model)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise SystemExit(f"eval-generation: {args.model}: the tokenizer has {tokenizer.vocab_size} ids, the model "
                         f"{model.config.vocab_size} logits")
    os.makedirs(args.output, exist_ok=True)
    if args.overwrite:
        for name in (CONTINUATIONS, SCORES, METRICS, SETTINGS):
            if os.path.exists(os.path.join(args.output, name)):
                os.remove(os.path.join(args.output, name))
    metrics: Dict[str, Any] = {"model": os.path.abspath(args.model)}
    line: Dict[str, Any] = {}

    if args.prompts:
        scorer = load_scorer(args.scorer, args.batch_size)
        prompts = read_prompts(args.prompts, parse_fields(args.prompt_fields), parse_where(args.where),
                               args.prompt_words, args.limit_prompts)
        if not prompts:
            raise SystemExit("eval-generation: no prompt rows (check --prompts, --prompt-fields and --where)")
        path = os.path.join(args.output, CONTINUATIONS)
        # More prompts or continuations may be added to a resumed output; what decides each continuation may not change.
        settings_match(os.path.join(args.output, SETTINGS), {
            "model": os.path.abspath(args.model), "prompts": [os.path.abspath(p) for p in args.prompts],
            "prompt_fields": args.prompt_fields, "where": args.where, "prompt_words": args.prompt_words,
            "max_new_tokens": args.max_new_tokens, "temperature": args.temperature, "top_k": args.top_k,
            "top_p": args.top_p, "seed": args.seed}, "eval-generation")
        written = generate_continuations(model, tokenizer, prompts, args, path)
        wanted = {f"{i}:{j}" for i in range(len(prompts)) for j in range(args.continuations)}
        rows = sorted((r for r in read_jsonl(path) if r.get("key") in wanted),
                      key=lambda r: (r["prompt_index"], int(r["key"].split(":")[1])))
        for row in rows:
            if row["id"] != prompts[row["prompt_index"]]["id"]:
                raise SystemExit(f"eval-generation: {path} holds continuations of other prompts; use another --output")
        scores = score_all(scorer, [r["continuation"] for r in rows], args.batch_size)
        write_jsonl(os.path.join(args.output, SCORES), ({"key": r["key"], "id": r["id"], "score": s} for r, s in zip(rows, scores)))
        toxicity = toxicity_measures(prompts, rows, scores, args.threshold)
        metrics["toxicity"] = {**toxicity, "settings": {
            "prompt_words": args.prompt_words, "continuations": args.continuations, "max_new_tokens": args.max_new_tokens,
            "temperature": args.temperature, "top_k": args.top_k, "top_p": args.top_p, "seed": args.seed,
            "scorer": args.scorer, "threshold": args.threshold}}
        line.update(generated=written, prompts=len(prompts), expected_max_toxicity=toxicity["expected_max_toxicity"],
                    toxicity_probability=toxicity["toxicity_probability"], distinct_2=toxicity["distinct_2"])
        if args.compare:
            metrics["versus"] = {"other": os.path.abspath(args.compare),
                                 **compare(toxicity, args.compare, args.bootstrap_resamples, args.bootstrap_seed)}

    if args.benign:
        from .lm_data import read_texts
        from .train_lm import documents, evaluate

        texts = read_texts(args.benign, parse_fields(args.benign_fields), parse_where(args.benign_where, "--benign-where"))
        docs = documents(texts, tokenizer, min(args.max_length, model.config.context), "benign")
        if not docs:
            raise SystemExit("eval-generation: no benign text (check --benign, --benign-fields and --benign-where)")
        pad_id = tokenizer.eos_id if tokenizer.eos_id is not None else 0
        measured = evaluate(model, docs, args.batch_size, pad_id)
        metrics["benign"] = {"rows": len(docs), **measured}
        line.update(perplexity=measured["perplexity"])

    with open(os.path.join(args.output, METRICS) + ".tmp", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
        f.write("\n")
    os.replace(os.path.join(args.output, METRICS) + ".tmp", os.path.join(args.output, METRICS))
    print(summary("eval-generation", **line, seconds=time.monotonic() - started))
    return 0
