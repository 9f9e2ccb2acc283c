"""Antidote: prune the weights a harmful fine-tune made important for harmful text, with no retraining.

Antidote (Huang et al., "Antidote: Post-fine-tuning Safety Alignment for Large Language Models against Harmful
Fine-tuning", arXiv 2408.09600) scores every weight of the chosen linear layers as Wanda does, ``S_ij = |W_ij| x
||X_j||_2``: the weight's magnitude times the L2 norm of its input feature j over every token of harmful calibration
text, and sets the highest-scoring ``dense_ratio`` of each output row to zero (default 0.1). The layers are q, k and v
(its full-fine-tune branch; GPT-2's fused ``c_attn``) or every linear layer of the blocks (``--linears all``; never the
embeddings or the LM head).

All activations come from the unpruned model: every norm is collected (forward pre-hooks on the chosen layers, one
calibration row at a time, so no padding enters a norm) before any weight changes. Wanda's own code re-runs each block
on the already-pruned earlier blocks' outputs; here one pass over the model as fine-tuned gives every layer's norms,
which another implementation (the runtime's ``edgeguard prune``) can reproduce from forward passes alone.

Rules an independent implementation needs: each row loses ``ceil(dense_ratio x in_features)`` weights, the ratio taken
as the decimal it is written as (0.1 x 30 is exactly 3); ``||X_j||_2 = sqrt(sum over tokens of x_j^2)``, accumulated
and scored in float64; within a row, ties go to the lower input index. Controls at the same ratio: ``--mode magnitude``
(``S = |W|``) and ``--mode random`` (uniform draws from ``--seed``). Writes the pruned model as a Hugging Face directory
(with the tokenizer files) and ``antidote.json``: per layer the shape, zeros per row and a SHA-256 of its mask (bits in
``[out, in]`` row-major order, ``numpy.packbits``), so two implementations can compare masks exactly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import time
from fractions import Fraction
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np
import torch

from .lm_data import DecoderTokenizer, add_text_arguments, copy_tokenizer_files, parse_fields, parse_where, read_texts
from .modeling_decoder import Conv1D, DecoderLM, load_pretrained, save_pretrained
from .progress import Progress, summary

MODES = ("wanda", "magnitude", "random")
LLAMA_QKV = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj")
LLAMA_ALL = LLAMA_QKV + ("self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
GPT2_QKV = ("attn.c_attn",)
GPT2_ALL = GPT2_QKV + ("attn.c_proj", "mlp.c_fc", "mlp.c_proj")
SUMMARY = "antidote.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="the fine-tuned model: a Llama/Qwen2/GPT-2 Hugging Face directory with its tokenizer")
    parser.add_argument("--calibration", nargs="+", help="JSONL files of harmful text whose activations score the weights "
                        "(required by --mode wanda)")
    add_text_arguments(parser)
    parser.add_argument("--samples", type=int, default=128, help="calibration rows to use, drawn by --seed when there are more (default 128)")
    parser.add_argument("--max-length", type=int, help="tokens per calibration row including BOS and EOS (longer rows are cut; "
                        "default 256 or the model's context if shorter)")
    parser.add_argument("--dense-ratio", type=float, default=0.1, help="share of each output row's weights to zero (default 0.1)")
    parser.add_argument("--linears", choices=["qkv", "all"], default="qkv",
                        help="qkv: the attention's query, key and value projections (Antidote's full fine-tune branch); "
                             "all: every linear layer of the blocks")
    parser.add_argument("--mode", choices=MODES, default="wanda",
                        help="wanda: |W| x ||X||_2 (Antidote); magnitude: |W|; random: uniform (the controls)")
    parser.add_argument("--seed", type=int, default=13, help="picks the calibration rows and the random mode's weights")
    parser.add_argument("--output", required=True, help="directory for the pruned model and antidote.json")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--overwrite", action="store_true", help="write into an --output that already holds a model")


# --- which layers ----------------------------------------------------------------------------------

def chosen_linears(model: DecoderLM, linears: str) -> List[Tuple[str, torch.nn.Module]]:
    """``(module name, module)`` of the layers to prune, in the model's order."""
    suffixes = (GPT2_QKV if linears == "qkv" else GPT2_ALL) if model.config.is_gpt2 else (LLAMA_QKV if linears == "qkv" else LLAMA_ALL)
    found = [(name, module) for name, module in model.named_modules()
             if isinstance(module, (torch.nn.Linear, Conv1D)) and name.endswith(suffixes)]
    if not found:
        raise SystemExit(f"antidote: the model has no {linears} linear layers")
    return found


def weight_rows(module: torch.nn.Module) -> torch.Tensor:
    """The weight as ``[out, in]`` (a view: GPT-2's ``Conv1D`` stores ``[in, out]``)."""
    return module.weight.t() if isinstance(module, Conv1D) else module.weight


# --- scores and masks ------------------------------------------------------------------------------

def pruned_per_row(dense_ratio: float, in_features: int) -> int:
    """``ceil(dense_ratio x in_features)`` with the ratio as the decimal it is written as (no binary rounding)."""
    return math.ceil(Fraction(repr(float(dense_ratio))) * in_features)


def activation_norms(model: DecoderLM, modules: Sequence[Tuple[str, torch.nn.Module]],
                     rows: Sequence[Sequence[int]]) -> Dict[str, torch.Tensor]:
    """``||X_j||_2`` over every token of ``rows`` of each module's input (float64), from ``model`` as it is now."""
    sums = {name: torch.zeros(weight_rows(m).shape[1], dtype=torch.float64) for name, m in modules}
    handles = []
    for name, module in modules:
        def hook(_module, inputs, name=name):
            x = inputs[0].detach().to(torch.float64)
            sums[name] += x.reshape(-1, x.shape[-1]).pow(2).sum(dim=0)
        handles.append(module.register_forward_pre_hook(hook))
    try:
        model.eval()
        with torch.no_grad(), Progress("calibration", len(rows)) as bar:
            for ids in rows:
                model(torch.tensor([list(ids)]))
                bar.update()
    finally:
        for handle in handles:
            handle.remove()
    return {name: s.sqrt() for name, s in sums.items()}


def scores(weight: torch.Tensor, norms: torch.Tensor) -> torch.Tensor:
    """Wanda's score ``|W_ij| x ||X_j||_2`` in float64 for an ``[out, in]`` weight."""
    return weight.detach().to(torch.float64).abs() * norms.to(torch.float64)[None, :]


def top_mask(score: torch.Tensor, per_row: int) -> torch.Tensor:
    """True at the ``per_row`` highest scores of each row; ties go to the lower index (a stable descending sort)."""
    order = torch.sort(score, dim=1, descending=True, stable=True).indices[:, :per_row]
    mask = torch.zeros(score.shape, dtype=torch.bool)
    mask.scatter_(1, order, True)
    return mask


def masks_for(model: DecoderLM, modules: Sequence[Tuple[str, torch.nn.Module]], mode: str, dense_ratio: float,
              norms: Dict[str, torch.Tensor], seed: int) -> Dict[str, torch.Tensor]:
    """Each module's ``[out, in]`` mask of the weights to zero."""
    result = {}
    for index, (name, module) in enumerate(modules):
        weight = weight_rows(module)
        if mode == "wanda":
            score = scores(weight, norms[name])
        elif mode == "magnitude":
            score = weight.detach().to(torch.float64).abs()
        else:
            generator = torch.Generator().manual_seed(seed * 1000003 + index)
            score = torch.rand(weight.shape, generator=generator, dtype=torch.float64)
        result[name] = top_mask(score, pruned_per_row(dense_ratio, weight.shape[1]))
    return result


def apply_masks(modules: Sequence[Tuple[str, torch.nn.Module]], masks: Dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, module in modules:
            weight_rows(module).masked_fill_(masks[name], 0.0)


def mask_digest(mask: torch.Tensor) -> str:
    return hashlib.sha256(np.packbits(mask.numpy().astype(np.uint8), axis=None).tobytes()).hexdigest()


# --- the run ---------------------------------------------------------------------------------------

def calibration_rows(args: argparse.Namespace, tokenizer: DecoderTokenizer) -> Tuple[List[List[int]], int]:
    texts = read_texts(args.calibration, parse_fields(args.text_fields), parse_where(args.where))
    available = len(texts)
    if available > args.samples:
        texts = [texts[i] for i in sorted(random.Random(args.seed).sample(range(available), args.samples))]
    rows = [ids for ids in (tokenizer.document(t, args.max_length) for t in texts) if ids]
    return rows, available


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not 0.0 < args.dense_ratio < 1.0:
        raise SystemExit(f"antidote: --dense-ratio {args.dense_ratio} is not in (0, 1)")
    if args.mode == "wanda" and not args.calibration:
        raise SystemExit("antidote: --mode wanda needs --calibration (harmful text)")
    if os.path.exists(os.path.join(args.output, "model.safetensors")) and not args.overwrite:
        raise SystemExit(f"antidote: {args.output} already holds a model (--overwrite replaces it)")
    if os.path.abspath(args.output) == os.path.abspath(args.model):
        raise SystemExit("antidote: --output must differ from --model")
    model = load_pretrained(args.model)
    if args.max_length is None:
        args.max_length = min(256, model.config.context)
    elif args.max_length > model.config.context:
        raise SystemExit(f"antidote: --max-length {args.max_length} exceeds the model's context of {model.config.context}")
    modules = chosen_linears(model, args.linears)
    rows: List[List[int]] = []
    available = 0
    norms: Dict[str, torch.Tensor] = {}
    if args.calibration:
        rows, available = calibration_rows(args, DecoderTokenizer.load(args.model))
        if args.mode == "wanda" and not rows:
            raise SystemExit(f"antidote: no row of {' '.join(args.calibration)} gives text (check --text-fields and --where)")
        if args.mode == "wanda":
            norms = activation_norms(model, modules, rows)
    masks = masks_for(model, modules, args.mode, args.dense_ratio, norms, args.seed)
    apply_masks(modules, masks)

    os.makedirs(args.output, exist_ok=True)
    save_pretrained(args.output, model)
    copy_tokenizer_files(args.model, args.output)
    layers = []
    for name, module in modules:
        mask = masks[name]
        layers.append({"name": name + ".weight", "shape": list(weight_rows(module).shape),
                       "zeros_per_row": int(mask[0].sum()), "pruned": int(mask.sum()), "mask_sha256": mask_digest(mask)})
    pruned = sum(l["pruned"] for l in layers)
    total = sum(l["shape"][0] * l["shape"][1] for l in layers)
    report: Dict[str, Any] = {
        "method": "antidote", "mode": args.mode, "dense_ratio": args.dense_ratio, "linears": args.linears,
        "rounding": "ceil(dense_ratio x in_features) per output row", "ties": "lower input index first",
        "model": os.path.abspath(args.model),
        "calibration": {"files": args.calibration or [], "text_fields": args.text_fields, "where": args.where,
                        "rows_available": available, "rows_used": len(rows), "tokens": sum(len(r) for r in rows),
                        "max_length": args.max_length, "seed": args.seed},
        "pruned": pruned, "weights_in_chosen_layers": total,
        "mask_sha256": hashlib.sha256("".join(l["mask_sha256"] for l in layers).encode()).hexdigest(),
        "layers": layers,
    }
    with open(os.path.join(args.output, SUMMARY), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(summary("antidote", output=args.output, mode=args.mode, linears=args.linears, layers=len(layers), pruned=pruned,
                  share=pruned / total, calibration_rows=len(rows), seconds=time.monotonic() - started))
    return 0
