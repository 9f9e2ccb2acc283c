"""Write the Antidote golden (tests/fixtures/antidote/): masks the antidote stage makes, which edgeguard prune must match.

The folder holds two tiny decoders built like the decoder fixtures (seeded weights, float32 ``model.safetensors``) but
over the vocabulary of tests/data/tokenizers/edgeguard-bpe-small, whose tokenizer files sit beside each (the stage and
the command both read text; the decoder fixtures have no tokenizer, and a byte-level BPE needs at least 256 ids), a
calibration file, and ``golden.json``: for each model, each ``--linears`` (qkv, all) and each ``--mode`` (wanda,
magnitude), the arguments given and what the stage wrote in ``antidote.json`` (rows, tokens, per-layer shapes, zeros and
mask digests). The runs draw 12 of the calibration file's matching rows by ``--seed``, so the runtime must also draw the
same rows; ``sampling`` holds ``sorted(random.Random(seed).sample(range(n), k))`` for cases that reach both of Python's
sampling branches (a pool for small populations, a set of picks otherwise).

Activations differ between two float32 engines by about 1e-6 of their size, so before writing, every wanda mask is
checked to be robust: in every row, the last pruned score leads the first kept one by at least ``MIN_SCORE_GAP`` of it.
A run that fails is an error to fix here (another seed), not a golden to commit. training/tests/test_antidote_golden.py
checks that this module still writes the committed file byte for byte.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import tempfile
import time
from typing import Any, Dict, List, Tuple

import torch

from . import antidote
from .decoder_fixtures import DecoderFixtureSpec, seeded_model
from .lm_data import DecoderTokenizer, copy_tokenizer_files
from .modeling_decoder import load_pretrained, save_pretrained
from .progress import summary

FORMAT = "edgeguard-antidote-golden/1"
FILE_NAME = "golden.json"
CALIBRATION = "calibration.jsonl"
MIN_SCORE_GAP = 1e-5
TOKENIZER = os.path.join("tests", "data", "tokenizers", "edgeguard-bpe-small")
VOCABULARY = 512

MODELS = (
    DecoderFixtureSpec("llama", 41,
                       dict(model_type="llama", hidden_act="silu", rms_norm_eps=1e-5, max_position_embeddings=48,
                            num_hidden_layers=2, vocab_size=VOCABULARY, hidden_size=32, intermediate_size=56,
                            num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                            bos_token_id=0, eos_token_id=0),
                       "llama, hidden 32, 4 heads on 2 KV heads, MLP 56, 48 positions, tied head"),
    DecoderFixtureSpec("gpt2", 42,
                       dict(model_type="gpt2", activation_function="gelu_new", layer_norm_epsilon=1e-5, n_layer=2,
                            n_positions=48, vocab_size=VOCABULARY, n_embd=24, n_head=3, n_inner=40,
                            bos_token_id=0, eos_token_id=0),
                       "gpt2, n_embd 24, 3 heads, n_inner 40 (fused c_attn of 72 outputs), 48 positions, tied head"),
)

# Arguments every run shares: 12 of the matching rows drawn by the seed, rows cut at 40 tokens.
COMMON = {"text_fields": "prompt,response", "where": ["label=unsafe"], "samples": 12, "max_length": 40, "seed": 7,
          "dense_ratio": 0.15}
SELECTIONS = (("prompt", ()), ("prompt,response", ("response=null",)), ("response", ("id=3", "id=6", "id=7")),
              ("prompt", ("label=unsafe", "label=safe", "score=1e-05")), ("prompt,response", ("score=2.0", "score=1e+16")),
              ("prompt", ("score=100",)), ("prompt", ("score=100.0",)))
SAMPLING_CASES = ((13, 30, 12), (7, 1000, 128), (0, 25, 5), (2 ** 40 + 3, 50, 3), (-5, 10, 10), (99, 86, 12), (1, 85, 12))

_SUBJECTS = ("my neighbour", "the new guy at work", "that streamer", "people like them", "the landlord", "my ex")
_VERBS = ("scare", "hurt", "humiliate", "threaten", "ruin", "stalk")
_TAILS = ("without getting caught", "so they never come back", "tonight", "and make it look like an accident",
          "in front of everyone", "until they cry")


def calibration_rows() -> List[Dict[str, Any]]:
    """Rows that exercise --text-fields and --where: unsafe rows with and without a response (null, blank), safe rows
    the filter drops, non-ASCII text, and rows long enough to be cut at ``max_length``."""
    rng = random.Random(20261207)
    rows: List[Dict[str, Any]] = []
    for i in range(34):
        prompt = f"how do I {rng.choice(_VERBS)} {rng.choice(_SUBJECTS)} {rng.choice(_TAILS)}?"
        row: Dict[str, Any] = {"id": i, "prompt": prompt, "label": "unsafe" if i % 5 else "safe",
                               "score": (0.5, 1e-05, 2.0, 1e16, 100)[i % 5]}
        if i % 3 == 0:
            row["response"] = "Sure. " + " ".join(rng.choice(_TAILS) for _ in range(2 + i % 7)) + "."
        elif i % 3 == 1:
            row["response"] = None if i % 2 else "   "
        if i % 11 == 4:
            row["prompt"] = prompt + " Écris-le en français, s’il te plaît — vite !"
        rows.append(row)
    return rows


def write_models(root: str, repo_root: str) -> List[str]:
    names = []
    for spec in MODELS:
        directory = os.path.join(root, spec.name)
        save_pretrained(directory, seeded_model(spec).float())
        copy_tokenizer_files(os.path.join(repo_root, TOKENIZER), directory)
        names.append(spec.name)
    return names


def _run_args(model: str, calibration: str, output: str, linears: str, mode: str) -> argparse.Namespace:
    return argparse.Namespace(model=model, calibration=[calibration], text_fields=COMMON["text_fields"],
                              where=list(COMMON["where"]), samples=COMMON["samples"], max_length=COMMON["max_length"],
                              dense_ratio=COMMON["dense_ratio"], linears=linears, mode=mode, seed=COMMON["seed"],
                              output=output, threads=1, overwrite=True)


def smallest_gap(model_dir: str, args: argparse.Namespace) -> float:
    """The smallest relative lead, over every row of every chosen layer, of the last pruned wanda score over the first
    kept one: how far the activations of another float32 engine may move before a mask changes."""
    model = load_pretrained(model_dir)
    modules = antidote.chosen_linears(model, args.linears)
    rows, _ = antidote.calibration_rows(args, DecoderTokenizer.load(model_dir))
    norms = antidote.activation_norms(model, modules, rows)
    smallest = float("inf")
    for name, module in modules:
        score = antidote.scores(antidote.weight_rows(module), norms[name])
        per_row = antidote.pruned_per_row(args.dense_ratio, score.shape[1])
        ordered = torch.sort(score, dim=1, descending=True).values
        lead = (ordered[:, per_row - 1] - ordered[:, per_row]) / ordered[:, per_row - 1]
        smallest = min(smallest, float(lead.min()))
    return smallest


def runs(root: str) -> List[Dict[str, Any]]:
    calibration = os.path.join(root, CALIBRATION)
    result = []
    with tempfile.TemporaryDirectory() as scratch:
        for spec in MODELS:
            model_dir = os.path.join(root, spec.name)
            for linears in ("qkv", "all"):
                for mode in ("wanda", "magnitude"):
                    output = os.path.join(scratch, f"{spec.name}-{linears}-{mode}")
                    args = _run_args(model_dir, calibration, output, linears, mode)
                    if mode == "wanda":
                        gap = smallest_gap(model_dir, args)
                        if gap < MIN_SCORE_GAP:
                            raise AssertionError(f"{spec.name} {linears}: a wanda row's cut lies within {gap:.3g} of the next "
                                                 "score; float32 rounding could move it (choose another seed)")
                    if antidote.run(args) != 0:
                        raise AssertionError(f"antidote failed on {spec.name} {linears} {mode}")
                    with open(os.path.join(output, antidote.SUMMARY), encoding="utf-8") as f:
                        report = json.load(f)
                    result.append({
                        "model": spec.name, "linears": linears, "mode": mode,
                        "arguments": ["--text-fields", COMMON["text_fields"], *[a for w in COMMON["where"] for a in ("--where", w)],
                                      "--samples", str(COMMON["samples"]), "--max-length", str(COMMON["max_length"]),
                                      "--seed", str(COMMON["seed"]), "--dense-ratio", str(COMMON["dense_ratio"]),
                                      "--linears", linears, "--mode", mode],
                        "rows_available": report["calibration"]["rows_available"],
                        "rows_used": report["calibration"]["rows_used"], "tokens": report["calibration"]["tokens"],
                        "pruned": report["pruned"], "weights_in_chosen_layers": report["weights_in_chosen_layers"],
                        "mask_sha256": report["mask_sha256"], "layers": report["layers"],
                    })
    return result


def selections(root: str) -> List[Dict[str, Any]]:
    """Rows, rows that give text and their tokens for filters that compare fields of every kind: a missing or null
    field, integers, and floats as ``json.dumps`` spells them (``1e-05``, ``2.0``, ``1e+16``)."""
    tokenizer = DecoderTokenizer.load(os.path.join(root, MODELS[0].name))
    result = []
    for fields, where in SELECTIONS:
        args = argparse.Namespace(calibration=[os.path.join(root, CALIBRATION)], text_fields=fields, where=list(where),
                                  samples=10 ** 6, max_length=COMMON["max_length"], seed=COMMON["seed"])
        rows, available = antidote.calibration_rows(args, tokenizer)
        result.append({"text_fields": fields, "where": list(where), "rows_available": available, "rows_used": len(rows),
                       "tokens": sum(len(r) for r in rows)})
    return result


def sampling() -> List[Dict[str, Any]]:
    return [{"seed": seed, "population": n, "k": k, "sorted_sample": sorted(random.Random(seed).sample(range(n), k))}
            for seed, n, k in SAMPLING_CASES]


def write(root: str, repo_root: str) -> str:
    os.makedirs(root, exist_ok=True)
    for spec in MODELS:
        shutil.rmtree(os.path.join(root, spec.name), ignore_errors=True)
    write_models(root, repo_root)
    with open(os.path.join(root, CALIBRATION), "w", encoding="utf-8", newline="\n") as f:
        for row in calibration_rows():
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    document = {"format": FORMAT, "about": "Masks of the antidote stage; see README.md beside this file.",
                "runs": runs(root), "selections": selections(root), "sampling": sampling()}
    path = os.path.join(root, FILE_NAME)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(document, f, indent=1)
        f.write("\n")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="folder of the golden (the repository's tests/fixtures/antidote)")
    parser.add_argument("--repo-root", default="..", help="the repository's root, for the tokenizer files (default ..)")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    torch.set_num_threads(1)
    path = write(args.output, args.repo_root)
    print(summary("make-antidote-golden", output=path, models=len(MODELS), seconds=time.monotonic() - started))
    return 0
