"""Run the offset-unlearning demonstration for one seed (--seed), or summarise finished seeds (--report).

One seed, in ``--work``/seed-<N>/, each step a ``python3 -m edgeguard_train`` stage run as its own process (its
command line and run time go to ``steps.jsonl``; a step whose output exists is skipped, so a stopped seed resumes):

1. ``make-facts-world`` (``world/``). Its forget and retain people are halved again, in the world's seeded order, into
   a validation half and a test half (``validation/``, ``test/``: ``forget.txt``, ``retain.txt``, ``facts.jsonl``
   with every held-out fact). ``benign-train.txt`` and ``benign-dev.txt`` are safe prompt-only rows of the shared
   datasets' train and dev files, drawn by the seed.
2. ``train-bpe`` on the training text (the facts of forget and retain people, and the benign training text).
3. ``train-lm``: B (``base/``), the smaller S₀ (``small/``) on the same text for the same epochs, and B's shape
   retrained on everything but the test forget facts for B's number of steps (``retrained/``). Each epoch holds
   ``--fact-repeats`` copies of the fact sentences and one of the benign text.
4. The exactness check (``exactness.json``): on every fact and benign dev text, ``ℓ_B + α(ℓ_S′ − ℓ_S₀)`` with an
   untrained S′ (S′ = S₀), and with a moved S′ at α = 0, must equal B's logits bit for bit.
5. ``unlearn-offset`` once per ``--setting`` and ``--retain-texts`` on the validation half
   (``validation/setting-<i>/``), the choice among them (``validation/choice.json``, rule in ``choose``), and the chosen setting on the test half (``test/unlearned/``).
6. ``measurements.json``: exact-match recall (``facts_world.fact_recall``) of every fact by B, by the combined model
   and by the retrained model, and each benign dev text's negative log-likelihood under each.

``--report`` reads the seeds' measurements and writes ``results.json`` and ``results.md`` in ``--work``: per seed and
pooled over seeds, forget, retain, other-known and held-out recall, benign perplexity, the issue's success criteria,
and paired bootstrap 95 % intervals (``generation_metrics.paired_bootstrap``; facts and texts are the pairs, pooled
over seeds by concatenation).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import shlex
import subprocess
import sys
import time
from typing import Any, Dict, List, Sequence

from .jsonl import JsonlAppender, read_jsonl
from .progress import Progress, summary

# The success criteria for offset unlearning, and its positive control.
CONTROL_RECALL = 0.95          # B must recall forget and retain facts at least this well, or there is nothing to forget
FORGET_CHANCE_MULTIPLE = 2.0   # forget recall at most this many times chance
RETAIN_KEPT = 0.9              # retain recall at least this share of B's
PERPLEXITY_RISE = 1.10         # benign perplexity at most this multiple of B's

DEFAULT_SETTINGS = ["--lr 3e-4 --epochs 20", "--lr 1e-3 --epochs 20", "--lr 3e-3 --epochs 20",
                    "--lr 1e-3 --epochs 20 --retain-batch-size 32", "--lr 3e-3 --epochs 20 --retain-batch-size 32",
                    "--lr 1e-3 --epochs 20 --retain-batch-size 32 --retain-weight 2"]
# What the retain term reads: the retain facts of the run's half, or those and the benign training text (which keeps
# the offset from moving text that is not about people at all).
RETAIN_TEXTS = ("facts", "facts+benign")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work", required=True, help="directory of the demonstration: seed-<N>/ per seed, results.json, results.md")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--seed", type=int, help="run (or resume) this seed")
    mode.add_argument("--report", action="store_true", help="summarise the finished seeds named by --seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="the seeds --report summarises")
    parser.add_argument("--datasets", help="the shared datasets' directory (train.jsonl and dev.jsonl give the benign text)")
    world = parser.add_argument_group("the facts world")
    world.add_argument("--people", type=int, default=100)
    world.add_argument("--forget-fraction", type=float, default=0.2, help="share of people to forget (halved into validation and test)")
    world.add_argument("--heldout-fraction", type=float, default=0.1)
    world.add_argument("--benign-train", type=int, default=500, help="benign training texts (safe prompts of train.jsonl)")
    world.add_argument("--benign-dev", type=int, default=200, help="benign texts measured for perplexity (safe prompts of dev.jsonl)")
    models = parser.add_argument_group("the language models")
    models.add_argument("--vocab-size", type=int, default=1024, help="train-bpe's vocabulary")
    models.add_argument("--base-shape", default="--hidden-size 128 --layers 4 --heads 4", help="train-lm shape flags of B")
    models.add_argument("--small-shape", default="--hidden-size 64 --layers 2 --heads 2", help="train-lm shape flags of S₀")
    models.add_argument("--fact-repeats", type=int, default=10,
                        help="copies of the fact text in every epoch of train-lm (the benign text comes once): facts need "
                             "many more passes than the benign text to be memorised")
    models.add_argument("--lm-flags", default="--max-length 48 --batch-size 32 --epochs 20 --lr 3e-3 --weight-decay 0",
                        help="train-lm flags shared by B, S₀ and the retrained model")
    unlearning = parser.add_argument_group("unlearning")
    unlearning.add_argument("--unlearn-flags", default="--loss npo --npo-beta 0.1 --retain-weight 1 --batch-size 8",
                            help="unlearn-offset flags every run shares (--max-length is --lm-flags')")
    unlearning.add_argument("--setting", action="append", dest="settings",
                            help="unlearn-offset flags of one setting tried on the validation half (repeatable; default: "
                                 + " | ".join(DEFAULT_SETTINGS) + ")")
    unlearning.add_argument("--retain-texts", nargs="+", choices=RETAIN_TEXTS, default=list(RETAIN_TEXTS),
                            help="retain text each setting is tried with: the half's retain facts, or those and the "
                                 "benign training text (default both)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of every step")
    parser.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (--report)")


# --- running stages ------------------------------------------------------------------------------

class Steps:
    """Runs stages as processes and records each one's command line and run time in ``steps.jsonl``."""

    def __init__(self, directory: str) -> None:
        self.log_path = os.path.join(directory, "steps.jsonl")

    def run(self, name: str, argv: Sequence[str], done: str) -> None:
        if os.path.exists(done):
            return
        command = [sys.executable, "-m", "edgeguard_train", *argv]
        started = time.monotonic()
        print(f"unlearn-demo: {name}: python3 -m edgeguard_train {shlex.join(argv)}", flush=True)
        result = subprocess.run(command)
        seconds = time.monotonic() - started
        if result.returncode != 0:
            raise SystemExit(f"unlearn-demo: step {name} failed with exit code {result.returncode}")
        if not os.path.exists(done):
            raise SystemExit(f"unlearn-demo: step {name} ended without writing {done}")
        with JsonlAppender(self.log_path) as log:
            log.write({"step": name, "command": "python3 -m edgeguard_train " + shlex.join(argv), "seconds": seconds})

    def record(self, name: str, seconds: float) -> None:
        with JsonlAppender(self.log_path) as log:
            log.write({"step": name, "command": None, "seconds": seconds})


# --- the world's halves and the benign text ------------------------------------------------------

def halves(facts: Sequence[Any]) -> Dict[str, str]:
    """Each forget and retain person's half: the first half of a split's people (in the world's seeded order) is
    ``validation``, the rest ``test``; held-out people belong to both."""
    people: Dict[str, List[str]] = {}
    for fact in facts:
        names = people.setdefault(fact.split, [])
        if fact.person not in names:
            names.append(fact.person)
    half: Dict[str, str] = {}
    for split in ("forget", "retain"):
        names = people.get(split, [])
        if len(names) < 2:
            raise SystemExit(f"unlearn-demo: the world has {len(names)} {split} people; halving needs 2 or more "
                             "(raise --people or the fraction)")
        for i, name in enumerate(names):
            half[name] = "validation" if i < len(names) // 2 else "test"
    return half


def write_halves(world_dir: str, seed_dir: str) -> None:
    from .facts_world import read_facts
    facts = read_facts(os.path.join(world_dir, "facts.jsonl"))
    half = halves(facts)
    rows = list(read_jsonl(os.path.join(world_dir, "facts.jsonl")))
    for name in ("validation", "test"):
        directory = os.path.join(seed_dir, name)
        os.makedirs(directory, exist_ok=True)
        chosen = [r for r in rows if r["split"] == "heldout" or half[r["person"]] == name]
        for split in ("forget", "retain"):
            with open(os.path.join(directory, f"{split}.txt"), "w", encoding="utf-8") as f:
                f.write("".join(r["text"] + "\n" for r in chosen if r["split"] == split))
        with open(os.path.join(directory, "facts.jsonl"), "w", encoding="utf-8") as f:
            f.write("".join(json.dumps(r) + "\n" for r in chosen))
    # The retrained comparison sees all of B's facts but the test forget set.
    with open(os.path.join(seed_dir, "retrain-facts.txt"), "w", encoding="utf-8") as f:
        f.write("".join(r["text"] + "\n" for r in rows
                        if r["split"] != "heldout" and not (r["split"] == "forget" and half[r["person"]] == "test")))


def benign_texts(path: str, count: int, seed: int) -> List[str]:
    """``count`` safe prompt-only rows of a shared dataset file, drawn by ``seed``, each on one line."""
    if not os.path.exists(path):
        raise SystemExit(f"unlearn-demo: {path}: no such file (--datasets names the shared datasets' directory)")
    texts = [" ".join(r["prompt"].split()) for r in read_jsonl(path)
             if r.get("label") == "safe" and r.get("response") is None and isinstance(r.get("prompt"), str)
             and r["prompt"].strip()]
    if len(texts) < count:
        raise SystemExit(f"unlearn-demo: {path} has {len(texts)} safe prompts, fewer than the {count} asked for")
    return random.Random(seed).sample(texts, count)


def write_lines(path: str, lines: Sequence[str]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


# --- the exactness check and the measurements ----------------------------------------------------

def fact_documents(tokenizer: Any, facts: Sequence[Any], max_length: int) -> List[Any]:
    from .train_lm import Document
    return [Document(tokenizer.document(f.text, max_length)) for f in facts]


def check_exactness(base_dir: str, small_dir: str, texts: Sequence[str], alpha: float, max_length: int) -> Dict[str, Any]:
    """Whether the combined logits equal B's bit for bit with S′ = S₀, and with a moved S′ at α = 0."""
    import torch
    from .lm_data import DecoderTokenizer
    from .train_lm import Document, pad
    from .unlearn_offset import OffsetLM, load_frozen

    base, small = load_frozen(base_dir), load_frozen(small_dir)
    tokenizer = DecoderTokenizer.load(base_dir)
    docs = [Document(tokenizer.document(t, max_length)) for t in texts]
    moved = copy.deepcopy(small)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in moved.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator))
    result = {"texts": len(docs), "untrained_equal": True, "alpha_zero_equal": True, "moved_differs": False}
    with torch.no_grad():
        for start in range(0, len(docs), 32):
            ids, mask = pad(docs[start:start + 32], tokenizer.eos_id or 0)
            expected = base(ids, attention_mask=mask)
            result["untrained_equal"] &= bool(torch.equal(OffsetLM(base, copy.deepcopy(small), small, alpha)(ids, mask), expected))
            result["alpha_zero_equal"] &= bool(torch.equal(OffsetLM(base, moved, small, 0.0)(ids, mask), expected))
            # A moved S′ at the demo's α must change the logits, or the two equalities above would prove nothing.
            result["moved_differs"] |= not bool(torch.equal(OffsetLM(base, moved, small, alpha)(ids, mask), expected))
    result["passed"] = result["untrained_equal"] and result["alpha_zero_equal"] and result["moved_differs"]
    return result


def document_nlls(model: Any, docs: Sequence[Any], pad_id: int, batch_size: int = 16) -> List[float]:
    """Each document's next-token negative log-likelihood, summed over its predicted tokens."""
    import torch
    from torch.nn import functional as F
    from .train_lm import pad

    out: List[float] = []
    with torch.no_grad():
        for start in range(0, len(docs), batch_size):
            chunk = docs[start:start + batch_size]
            ids, mask = pad(chunk, pad_id)
            logits = model(ids, attention_mask=mask)[:, :-1].float()
            losses = F.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
            out.extend(float(v) for v in (losses * mask[:, 1:]).sum(dim=1))
    return out


def measure(seed_dir: str, texts: Sequence[str], max_length: int) -> Dict[str, Any]:
    """Recall of every fact and benign NLL per text for B, the combined model (B, S′, S₀) and the retrained model."""
    from .facts_world import fact_recall, read_facts
    from .lm_data import DecoderTokenizer
    from .logits_processing import Combiner
    from .train_lm import Document
    from .unlearn_offset import load_frozen, OffsetLM

    with open(os.path.join(seed_dir, "test", "unlearned", "offset.json"), encoding="utf-8") as f:
        alpha = json.load(f)["alpha"]
    facts = read_facts(os.path.join(seed_dir, "world", "facts.jsonl"))
    half = halves(facts)
    groups = [f.split if f.split == "heldout" else f"{f.split}_{half[f.person]}" for f in facts]
    tokenizer = DecoderTokenizer.load(os.path.join(seed_dir, "base"))
    base, retrained = load_frozen(os.path.join(seed_dir, "base")), load_frozen(os.path.join(seed_dir, "retrained"))
    small, reference = load_frozen(os.path.join(seed_dir, "test", "unlearned")), load_frozen(os.path.join(seed_dir, "small"))
    combined = OffsetLM(base, small, reference, alpha)
    docs = [Document(tokenizer.document(t, max_length)) for t in texts]
    pad_id = tokenizer.eos_id if tokenizer.eos_id is not None else 0
    systems = {"base": ([base], None, base), "combined": ([base, small, reference], Combiner("offset", alpha=alpha), combined),
               "retrained": ([retrained], None, retrained)}
    result: Dict[str, Any] = {"alpha": alpha, "groups": groups, "values": [f.value for f in facts],
                              "benign_tokens": [len(d.ids) - 1 for d in docs], "systems": {}}
    for name, (group, combiner, model) in systems.items():
        recall = fact_recall(group, tokenizer, facts, combiner, label=f"recall {name}")
        result["systems"][name] = {"correct": [int(a["correct"]) for a in recall["answers"]],
                                   "answers": [a["answer"] for a in recall["answers"]],
                                   "benign_nll": document_nlls(model, docs, pad_id)}
    return result


# --- choosing a setting on validation -------------------------------------------------------------

def eval_records(log_path: str) -> Dict[str, Dict[str, Any]]:
    records = {r["when"]: r for r in read_jsonl(log_path) if r.get("event") == "eval"}
    if "before" not in records or "after" not in records:
        raise SystemExit(f"unlearn-demo: {log_path} lacks the before and after evaluations")
    return records


def criteria(forget: float, retain: float, retain_before: float, perplexity: float, perplexity_before: float,
             chance: float) -> Dict[str, bool]:
    return {"forget_at_most_2x_chance": forget <= FORGET_CHANCE_MULTIPLE * chance,
            "retain_at_least_0.9x_before": retain >= RETAIN_KEPT * retain_before,
            "perplexity_at_most_1.1x_before": perplexity <= PERPLEXITY_RISE * perplexity_before}


def choose(candidates: Sequence[Dict[str, Any]]) -> int:
    """The index of the chosen validation run: among runs meeting all three criteria the highest retain recall
    (then the lowest forget recall); if none does, the runs failing the fewest criteria, and among them the lowest
    forget recall, then the highest retain recall (ties: the earlier setting)."""
    def failed(i: int) -> int:
        return sum(not v for v in candidates[i]["criteria"].values())
    everything = [i for i in range(len(candidates)) if failed(i) == 0]
    if everything:
        return min(everything, key=lambda i: (-candidates[i]["retain"], candidates[i]["forget"], i))
    return min(range(len(candidates)), key=lambda i: (failed(i), candidates[i]["forget"], -candidates[i]["retain"], i))


def validation_candidate(setting: str, log_path: str, chance: float) -> Dict[str, Any]:
    records = eval_records(log_path)
    before, after = records["before"], records["after"]
    candidate = {"setting": setting, "forget": after["recall"]["forget"], "retain": after["recall"]["retain"],
                 "heldout": after["recall"].get("heldout"), "perplexity": after["dev_perplexity"],
                 "before": {"forget": before["recall"]["forget"], "retain": before["recall"]["retain"],
                            "perplexity": before["dev_perplexity"]}}
    candidate["criteria"] = criteria(candidate["forget"], candidate["retain"], before["recall"]["retain"],
                                     candidate["perplexity"], before["dev_perplexity"], chance)
    return candidate


# --- one seed ------------------------------------------------------------------------------------

def max_length_of(flags: str) -> int:
    parts = shlex.split(flags)
    return int(parts[parts.index("--max-length") + 1]) if "--max-length" in parts else 256


def run_seed(args: argparse.Namespace) -> int:
    if not args.datasets:
        raise SystemExit("unlearn-demo: --seed needs --datasets (the benign text comes from the shared datasets)")
    seed = args.seed
    d = os.path.join(args.work, f"seed-{seed}")
    os.makedirs(d, exist_ok=True)
    steps = Steps(d)
    threads = ["--threads", str(args.threads)]
    started = time.monotonic()
    p = lambda *parts: os.path.join(d, *parts)  # noqa: E731 - a path in this seed's directory

    steps.run("world", ["make-facts-world", "--output", p("world"), "--people", str(args.people), "--forget-fraction",
                        str(args.forget_fraction), "--heldout-fraction", str(args.heldout_fraction), "--seed", str(seed)],
              p("world", "world.json"))
    if not os.path.exists(p("benign-dev.txt")):
        write_halves(p("world"), d)
        write_lines(p("benign-train.txt"), benign_texts(os.path.join(args.datasets, "train.jsonl"), args.benign_train, seed))
        write_lines(p("benign-dev.txt"), benign_texts(os.path.join(args.datasets, "dev.jsonl"), args.benign_dev, seed))
    with open(p("world", "world.json"), encoding="utf-8") as f:
        chance = max(json.load(f)["chance"].values())
    if args.fact_repeats < 1:
        raise SystemExit(f"unlearn-demo: --fact-repeats {args.fact_repeats} must be at least 1")
    facts_text = [p("world", "forget.txt"), p("world", "retain.txt")]
    text = facts_text * args.fact_repeats + [p("benign-train.txt")]
    steps.run("tokenizer", ["train-bpe", "--input", *facts_text, p("benign-train.txt"), "--output", p("tokenizer"), "--vocab-size", str(args.vocab_size)],
              p("tokenizer", "tokenizer.json"))
    lm = ["train-lm", "--tokenizer", p("tokenizer"), *shlex.split(args.lm_flags), "--seed", str(seed), *threads]
    steps.run("base", [*lm, "--train", *text, "--output", p("base"), *shlex.split(args.base_shape)],
              p("base", "training_summary.json"))
    steps.run("small", [*lm, "--train", *text, "--output", p("small"), *shlex.split(args.small_shape)],
              p("small", "training_summary.json"))
    with open(p("base", "training_summary.json"), encoding="utf-8") as f:
        base_steps = json.load(f)["steps"]
    # Same optimiser steps as B on less text: enough epochs, cut by --max-steps.
    steps.run("retrained", [*lm, "--train", *[p("retrain-facts.txt")] * args.fact_repeats, p("benign-train.txt"),
                            "--output", p("retrained"),
                            *shlex.split(args.base_shape), "--epochs", str(4 * base_steps), "--max-steps", str(base_steps)],
              p("retrained", "training_summary.json"))

    max_length = max_length_of(args.lm_flags)
    if not os.path.exists(p("exactness.json")):
        t = time.monotonic()
        from .lm_data import read_lines
        texts = read_lines(p("world", "forget.txt")) + read_lines(p("world", "retain.txt")) + read_lines(p("benign-dev.txt"))
        exact = check_exactness(p("base"), p("small"), texts, 1.0, max_length)
        with open(p("exactness.json"), "w", encoding="utf-8") as f:
            json.dump(exact, f, indent=2)
        steps.record("exactness", time.monotonic() - t)
    unlearn = ["unlearn-offset", "--base", p("base"), "--small", p("small"), *shlex.split(args.unlearn_flags),
               "--max-length", str(max_length), "--seed", str(seed), *threads]
    def retain_files(half: str, retain_text: str) -> List[str]:
        return [p(half, "retain.txt")] + ([p("benign-train.txt")] if retain_text == "facts+benign" else [])

    grid = [(flags, retain_text) for flags in args.settings or DEFAULT_SETTINGS for retain_text in args.retain_texts]
    candidates = []
    for i, (flags, retain_text) in enumerate(grid):
        out = p("validation", f"setting-{i}")
        steps.run(f"validation-{i}", [*unlearn, "--forget", p("validation", "forget.txt"),
                                      "--retain", *retain_files("validation", retain_text),
                                      "--eval-facts", p("validation", "facts.jsonl"), "--dev", p("benign-dev.txt"),
                                      "--output", out, *shlex.split(flags)],
                  os.path.join(out, "offset.json"))
        candidates.append(validation_candidate(f"{flags}, retain {retain_text}", os.path.join(out, "log.jsonl"), chance))
    chosen = choose(candidates)
    flags, retain_text = grid[chosen]
    setting = candidates[chosen]["setting"]
    with open(p("validation", "choice.json"), "w", encoding="utf-8") as f:
        json.dump({"chosen": chosen, "setting": setting, "chance": chance, "candidates": candidates}, f, indent=2)
    steps.run("test", [*unlearn, "--forget", p("test", "forget.txt"), "--retain", *retain_files("test", retain_text),
                       "--output", p("test", "unlearned"), *shlex.split(flags)],
              p("test", "unlearned", "offset.json"))
    if not os.path.exists(p("measurements.json")):
        t = time.monotonic()
        from .lm_data import read_lines
        result = measure(d, read_lines(p("benign-dev.txt")), max_length)
        result.update({"seed": seed, "chance": chance, "setting": setting})
        with open(p("measurements.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
        steps.record("measure", time.monotonic() - t)
    print(summary("unlearn-demo", seed=seed, setting=setting, seconds=time.monotonic() - started))
    return 0


# --- the report ----------------------------------------------------------------------------------

GROUPS = ("forget_test", "retain_test", "forget_validation", "retain_validation", "other_known", "heldout")


# Facts of validation people: known to B, and asked neither to be forgotten nor kept by the test run's unlearning.
OTHER_KNOWN = ("forget_validation", "retain_validation")


def recall_of(correct: Sequence[int], groups: Sequence[str], group: str) -> List[int]:
    """The correctness of one group's facts; ``other_known`` is both validation groups together."""
    wanted = OTHER_KNOWN if group == "other_known" else (group,)
    return [c for c, g in zip(correct, groups) if g in wanted]


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def per_token(nlls: Sequence[float], tokens: Sequence[int]) -> List[float]:
    """Per-text values whose mean is the token-mean loss: each text's NLL sum times texts over tokens."""
    scale = len(tokens) / sum(tokens)
    return [n * scale for n in nlls]


def seed_summary(m: Dict[str, Any]) -> Dict[str, Any]:
    groups, tokens = m["groups"], m["benign_tokens"]
    out: Dict[str, Any] = {"seed": m["seed"], "setting": m["setting"], "alpha": m["alpha"], "chance": m["chance"]}
    for name, system in m["systems"].items():
        entry = {g: mean(recall_of(system["correct"], groups, g)) for g in GROUPS}
        loss = mean(per_token(system["benign_nll"], tokens))
        entry.update({"benign_loss": loss, "benign_perplexity": math.exp(loss)})
        out[name] = entry
    base, combined = out["base"], out["combined"]
    out["control_passed"] = base["forget_test"] >= CONTROL_RECALL and base["retain_test"] >= CONTROL_RECALL
    out["criteria"] = criteria(combined["forget_test"], combined["retain_test"], base["retain_test"],
                               combined["benign_perplexity"], base["benign_perplexity"], m["chance"])
    return out


def intervals(measurements: Sequence[Dict[str, Any]], resamples: int) -> Dict[str, Any]:
    """Paired bootstrap intervals of differences between systems, facts (or benign texts) as pairs, seeds pooled."""
    from .generation_metrics import paired_bootstrap

    out: Dict[str, Any] = {}
    for a, b in (("combined", "base"), ("combined", "retrained"), ("retrained", "base")):
        for group in GROUPS:
            x = [v for m in measurements for v in recall_of(m["systems"][a]["correct"], m["groups"], group)]
            y = [v for m in measurements for v in recall_of(m["systems"][b]["correct"], m["groups"], group)]
            out[f"{a}-{b}:{group}_recall"] = paired_bootstrap(x, y, resamples, seed=0).to_dict()
        x = [v for m in measurements for v in per_token(m["systems"][a]["benign_nll"], m["benign_tokens"])]
        y = [v for m in measurements for v in per_token(m["systems"][b]["benign_nll"], m["benign_tokens"])]
        loss = paired_bootstrap(x, y, resamples, seed=0).to_dict()
        loss["perplexity_ratio"] = {k: math.exp(loss[k]) for k in ("difference", "low", "high")}
        out[f"{a}-{b}:benign_loss"] = loss
    return out


def fmt_interval(i: Dict[str, Any], scale: float = 1.0) -> str:
    return f"{i['difference'] * scale:+.3f} [{i['low'] * scale:+.3f}, {i['high'] * scale:+.3f}]"


def markdown(summaries: Sequence[Dict[str, Any]], pooled: Dict[str, Any], boot: Dict[str, Any]) -> str:
    lines = ["| seed | setting | system | forget recall (test) | retain recall (test) | other known facts | held-out recall | benign perplexity |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in list(summaries) + [pooled]:
        for name in ("base", "combined", "retrained"):
            e = s[name]
            label = {"base": "B", "combined": f"B + α(S′ − S₀), α = {s['alpha']:g}" if "alpha" in s else "B + α(S′ − S₀)",
                     "retrained": "B retrained without the forget set"}[name]
            setting = f"`{s['setting']}`" if "setting" in s else "as per seed"
            lines.append(f"| {s['seed']} | {setting} | {label} | {e['forget_test']:.3f} | {e['retain_test']:.3f} "
                         f"| {e['other_known']:.3f} | {e['heldout']:.3f} | {e['benign_perplexity']:.2f} |")
    lines += ["", "| difference (paired bootstrap 95 %, seeds pooled) | forget (test) | retain (test) | held-out | benign perplexity ratio |",
              "| --- | --- | --- | --- | --- |"]
    for pair, label in (("combined-base", "combined − B"), ("combined-retrained", "combined − retrained"),
                        ("retrained-base", "retrained − B")):
        ratio = boot[f"{pair}:benign_loss"]["perplexity_ratio"]
        lines.append(f"| {label} | {fmt_interval(boot[f'{pair}:forget_test_recall'])} | "
                     f"{fmt_interval(boot[f'{pair}:retain_test_recall'])} | {fmt_interval(boot[f'{pair}:heldout_recall'])} | "
                     f"{ratio['difference']:.3f} [{ratio['low']:.3f}, {ratio['high']:.3f}] |")
    lines += ["", "| seed | control: B recalls forget and retain ≥ 0.95 | S′ = S₀ and α = 0 give B's logits exactly | "
              "forget ≤ 2× chance | retain ≥ 0.9× B | perplexity ≤ 1.1× B |",
              "| --- | --- | --- | --- | --- | --- |"]
    for s in list(summaries) + [pooled]:
        c = s["criteria"]
        yes = lambda v: "yes" if v else "**no**"  # noqa: E731
        lines.append(f"| {s['seed']} | {yes(s['control_passed'])} | {yes(s['exactness']['passed'])} | "
                     f"{yes(c['forget_at_most_2x_chance'])} | "
                     f"{yes(c['retain_at_least_0.9x_before'])} | {yes(c['perplexity_at_most_1.1x_before'])} |")
    return "\n".join(lines) + "\n"


def steps_table(steps: Dict[str, List[Dict[str, Any]]], work: str) -> str:
    """Each step's run time per seed, and its command line for the first seed with the work directory as ``$WORK``."""
    names = list(dict.fromkeys(r["step"] for records in steps.values() for r in records))
    seeds = list(steps)
    lines = ["| step | " + " | ".join(f"seconds, seed {s}" for s in seeds) + " | command (first seed) |",
             "| --- | " + " | ".join("---" for _ in seeds) + " | --- |"]
    prefix = os.path.abspath(work)
    for name in names:
        times = []
        command = None
        for seed in seeds:
            records = [r for r in steps[seed] if r["step"] == name]
            times.append(f"{records[-1]['seconds']:.0f}" if records else "")
            if command is None and records and records[-1]["command"]:
                command = records[-1]["command"].replace(prefix, "$WORK")
        lines.append(f"| {name} | " + " | ".join(times) + f" | {'`' + command + '`' if command else 'in process'} |")
    return "\n".join(lines) + "\n"


def run_report(args: argparse.Namespace) -> int:
    measurements = []
    for seed in args.seeds:
        path = os.path.join(args.work, f"seed-{seed}", "measurements.json")
        if not os.path.exists(path):
            raise SystemExit(f"unlearn-demo: {path}: no such file (run --seed {seed} first)")
        with open(path, encoding="utf-8") as f:
            measurements.append(json.load(f))
    summaries = [seed_summary(m) for m in measurements]
    for seed, s in zip(args.seeds, summaries):
        with open(os.path.join(args.work, f"seed-{seed}", "exactness.json"), encoding="utf-8") as f:
            s["exactness"] = json.load(f)
    # Pooled: every fact and benign text of every seed counts once.
    pooled: Dict[str, Any] = {"seed": "all", "chance": max(s["chance"] for s in summaries)}
    for name in ("base", "combined", "retrained"):
        entry = {g: mean([v for m in measurements for v in recall_of(m["systems"][name]["correct"], m["groups"], g)])
                 for g in GROUPS}
        nll = sum(sum(m["systems"][name]["benign_nll"]) for m in measurements)
        tokens = sum(sum(m["benign_tokens"]) for m in measurements)
        entry.update({"benign_loss": nll / tokens, "benign_perplexity": math.exp(nll / tokens)})
        pooled[name] = entry
    pooled["control_passed"] = all(s["control_passed"] for s in summaries)
    pooled["exactness"] = {"passed": all(s["exactness"]["passed"] for s in summaries)}
    pooled["criteria"] = criteria(pooled["combined"]["forget_test"], pooled["combined"]["retain_test"],
                                  pooled["base"]["retain_test"], pooled["combined"]["benign_perplexity"],
                                  pooled["base"]["benign_perplexity"], pooled["chance"])
    with Progress("bootstrap", 1) as bar:
        boot = intervals(measurements, args.resamples)
        bar.update()
    steps = {}
    for seed in args.seeds:
        log = os.path.join(args.work, f"seed-{seed}", "steps.jsonl")
        steps[str(seed)] = list(read_jsonl(log)) if os.path.exists(log) else []
    verdict = ("no evidence: the positive control failed (B does not recall its facts)" if not pooled["control_passed"]
               else "no evidence: the combined model with S′ = S₀ or α = 0 is not B" if not pooled["exactness"]["passed"]
               else "success" if all(pooled["criteria"].values()) else "criteria not met: "
               + ", ".join(k for k, v in pooled["criteria"].items() if not v))
    with open(os.path.join(args.work, "results.json"), "w", encoding="utf-8") as f:
        json.dump({"verdict": verdict, "seeds": summaries, "pooled": pooled, "intervals": boot, "steps": steps}, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.work, "results.md"), "w", encoding="utf-8") as f:
        f.write(markdown(summaries, pooled, boot) + f"\nVerdict: {verdict}.\n\n" + steps_table(steps, args.work))
    print(summary("unlearn-demo", seeds=len(summaries), verdict=verdict))
    return 0


def run(args: argparse.Namespace) -> int:
    return run_report(args) if args.report else run_seed(args)
