"""Train or distill a guard (DeBERTa-v3 or BERT family): hard-label CE + KL to a teacher's soft labels, resumable, DDP-ready.

The loss is HarmAug's: ``w * CE(hard label) + (1 - w) * KL(teacher || student)`` with ``w = 0.5``;
rows without a teacher probability get pure CE. Batches are drawn by a class-balanced sampler
(safe and unsafe equally likely) because guard data is imbalanced per source. AdamW with no
weight decay on biases and LayerNorm, linear warmup then linear decay, gradient accumulation and
clipping; the dev set is evaluated after every epoch and the best epoch is what ends up in
``--output``. A checkpoint (model, optimiser, schedule, RNG states, position in the epoch) is
written every ``--save-steps`` optimiser steps, so a killed run resumes where it stopped and
ends with the same weights as an uninterrupted one. Under ``torchrun`` each process takes a
contiguous share of every global batch (gloo on CPU), which gives the same updates as one
process running the whole global batch.

``--init-from`` takes a DeBERTa-v3 directory or a BERT-family one (``import-onnx-bert``'s output: MiniLM,
arctic-embed, any BERT/RoBERTa checkpoint); a BERT guard can keep fewer layers of it (``--keep-layers``) and a shorter
position table (``--max-position-embeddings``: the runtime's window). ``--windows train`` trains on the runtime's
sliding windows of long rows, as the runtime classifies them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from .data import Example, collate, hard_label, load_examples, load_training_sets, logits_of, predict, row_scores
from .guard_models import bert_guard_from_encoder, is_bert_family, load_tokenizer, save_bert_guard
from .jsonl import JsonlAppender
from .metrics import binary_metrics
from .modeling_deberta import PRESETS, DebertaV2ForSequenceClassification, preset_config
from .progress import Progress, summary
from .tokenization import DebertaTokenizer

CHECKPOINT = "checkpoint.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, nargs="+",
                        help="training JSONL files (prompt, response, label[, teacher_unsafe_prob]); a row id seen in an earlier file is skipped")
    parser.add_argument("--dev", help="dev JSONL for per-epoch evaluation and best-epoch selection")
    parser.add_argument("--output", required=True, help="output directory: the best model as a Hugging Face directory, plus log.jsonl and checkpoint.pt")
    init = parser.add_mutually_exclusive_group(required=True)
    init.add_argument("--init-from", help="Hugging Face directory to fine-tune: DeBERTa-v3 (config.json, model.safetensors, "
                      "spm.model) or BERT family (config.json, model.safetensors, vocab.txt, tokenizer_config.json)")
    init.add_argument("--preset", choices=sorted(PRESETS), help="train from scratch with this shape")
    parser.add_argument("--tokenizer", help="spm.model for --preset (default: the --init-from directory's)")
    parser.add_argument("--max-position-embeddings", type=int,
                        help="with --preset: override the preset's; with a BERT --init-from: keep that many rows of the position table")
    parser.add_argument("--keep-layers", help="with a BERT --init-from: the encoder layers to keep, e.g. 0,2,4 (default: all)")
    parser.add_argument("--freeze-embeddings", action="store_true", help="with a BERT --init-from: do not train the word embeddings")
    parser.add_argument("--windows", choices=["none", "train"], default="none",
                        help="none: truncate rows longest-first to --max-length; train: the runtime's --max-length windows "
                             "(every window of a safe row, the first of an unsafe one)")
    parser.add_argument("--oversample", action="append", default=[], metavar="SOURCE=K",
                        help="draw the rows of SOURCE K times as often as the other rows of their class; repeatable")
    parser.add_argument("--exclude-source", action="append", default=[], metavar="SOURCE",
                        help="leave the training rows of this source out (leave-one-source-out runs); repeatable")
    parser.add_argument("--soft-label-field", default="teacher_unsafe_prob", help="row field with the teacher's P(unsafe) (default: teacher_unsafe_prob)")
    parser.add_argument("--ce-weight", type=float, default=0.5, help="w in w*CE + (1-w)*KL (default 0.5; 1 = CE only)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32, help="global batch per optimiser step (all processes, all accumulation steps)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimiser step in each process")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--warmup-ratio", type=float, default=0.1)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--max-length", type=int, default=256, help="tokens per example including [CLS]/[SEP]")
    parser.add_argument("--dropout", type=float, help="override hidden and attention dropout (0 makes runs comparable across process counts)")
    parser.add_argument("--balance", choices=["class", "none"], default="class", help="sampler: class-balanced (default) or uniform shuffle")
    parser.add_argument("--steps-per-epoch", type=int, help="optimiser steps per epoch (default: one pass worth of examples)")
    parser.add_argument("--select-metric", choices=["f1", "auprc", "accuracy"], default="f1")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save-steps", type=int, default=200, help="write checkpoint.pt every N optimiser steps (and after every epoch)")
    parser.add_argument("--log-steps", type=int, default=20)
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads per process (0 = torch default)")
    parser.add_argument("--limit", type=int, help="use only the first N training rows (smoke tests)")
    parser.add_argument("--overwrite", action="store_true", help="start over even if --output holds a checkpoint")


# --- loss --------------------------------------------------------------------------------------

def kd_loss(logits: torch.Tensor, labels: torch.Tensor, soft: torch.Tensor, ce_weight: float = 0.5) -> torch.Tensor:
    """Mean over the batch of ``w*CE + (1-w)*KL(teacher || student)``; rows whose ``soft`` is NaN get CE only.

    ``soft`` is the teacher's P(unsafe); its two-class distribution is ``[1-p, p]``.
    """
    log_probs = F.log_softmax(logits.to(torch.float64), dim=-1)
    ce = -log_probs.gather(1, labels.view(-1, 1)).squeeze(1)
    has_soft = ~torch.isnan(soft)
    p = torch.where(has_soft, soft, torch.zeros_like(soft)).to(torch.float64)
    teacher = torch.stack([1.0 - p, p], dim=1)
    # 0 * log 0 = 0 for a one-hot teacher.
    teacher_log = torch.log(teacher.clamp_min(1e-300))
    kl = (teacher * (teacher_log - log_probs)).sum(dim=1)
    per_row = torch.where(has_soft, ce_weight * ce + (1.0 - ce_weight) * kl, ce)
    return per_row.mean().to(logits.dtype)


# --- sampling ----------------------------------------------------------------------------------

def epoch_indices(examples: Sequence[Example], count: int, seed: int, epoch: int, balance: str,
                  oversample: Optional[Dict[str, float]] = None) -> List[int]:
    """The ``count`` example indices of one epoch, a pure function of (seed, epoch).

    Class-balanced: each draw picks a class uniformly, then an example of it (with replacement),
    so both classes contribute half the updates regardless of their share of the data. ``oversample`` makes the
    examples of a source that many times as likely as the others of their class (the class's share stays a half).
    """
    generator = torch.Generator().manual_seed(seed * 1000003 + epoch)
    if balance == "none":
        order = torch.randperm(len(examples), generator=generator).tolist()
        return (order * (count // len(order) + 1))[:count]
    labels = torch.tensor([hard_label(e) for e in examples])
    by_class = [torch.nonzero(labels == c).flatten() for c in (0, 1)]
    present = [c for c in by_class if len(c)]
    boost = torch.tensor([(oversample or {}).get(e.source, 1.0) for e in examples], dtype=torch.float64)
    weights = torch.zeros(len(examples), dtype=torch.float64)
    for members in present:
        weights[members] = boost[members] / (boost[members].sum() * len(present))
    return torch.multinomial(weights, count, replacement=True, generator=generator).tolist()


def parse_oversample(values: Sequence[str]) -> Dict[str, float]:
    """``SOURCE=K`` pairs as a mapping; K must be a positive number."""
    result: Dict[str, float] = {}
    for value in values:
        source, _, factor = value.partition("=")
        try:
            result[source] = float(factor)
        except ValueError:
            raise SystemExit(f"distill: --oversample {value!r} is not SOURCE=K") from None
        if not source or result[source] <= 0:
            raise SystemExit(f"distill: --oversample {value!r} needs a source and a positive K")
    return result


def global_batches(indices: List[int], batch_size: int, examples: Sequence[Example], seed: int, epoch: int) -> List[List[int]]:
    """Cuts an epoch into global batches, grouping similar lengths to save padding.

    Windows of 50 batches are sorted by length, cut, and the batches shuffled (deterministically),
    so the mix of classes per batch stays random while each batch pads little.
    """
    rng = random.Random(seed * 7919 + epoch)
    batches: List[List[int]] = []
    window = batch_size * 50
    for start in range(0, len(indices) - batch_size + 1, window):
        chunk = indices[start:start + window]
        chunk = chunk[: len(chunk) - len(chunk) % batch_size]
        chunk.sort(key=lambda i: (len(examples[i].ids), i))
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


# --- optimiser ---------------------------------------------------------------------------------

def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW; biases and LayerNorm parameters are not decayed (decaying them only hurts normalisation)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-6)


def linear_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --- processes ---------------------------------------------------------------------------------

class World:
    """This process's place under torchrun (RANK/WORLD_SIZE set), or a world of one."""

    def __init__(self) -> None:
        self.size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.distributed = self.size > 1
        if self.distributed and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.distributed and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --- model set-up ------------------------------------------------------------------------------

def build_model(args: argparse.Namespace):
    """The model to train, its tokenizer, and how to save it as a directory."""
    if args.init_from and is_bert_family(args.init_from):
        layers = [int(i) for i in args.keep_layers.split(",")] if args.keep_layers else None
        model = bert_guard_from_encoder(args.init_from, args.max_position_embeddings, layers, args.seed)
        if args.freeze_embeddings:
            model.encoder_model.embeddings.word_embeddings.weight.requires_grad_(False)
        if args.dropout is not None:
            model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = args.dropout
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = args.dropout
        init_from = args.init_from
        return model, load_tokenizer(init_from), lambda directory: save_bert_guard(model, init_from, directory)
    if args.keep_layers or args.freeze_embeddings:
        raise SystemExit("distill: --keep-layers and --freeze-embeddings need a BERT-family --init-from")
    if args.init_from:
        model = DebertaV2ForSequenceClassification.from_pretrained(args.init_from)
        spm_path = args.tokenizer or os.path.join(args.init_from, "spm.model")
    else:
        if not args.tokenizer:
            raise SystemExit("distill: --preset needs --tokenizer (an spm.model; see train-tokenizer)")
        spm_path = args.tokenizer
        overrides: Dict[str, Any] = {"vocab_size": DebertaTokenizer(spm_path).vocab_size}
        if args.max_position_embeddings:
            overrides["max_position_embeddings"] = args.max_position_embeddings
        model = DebertaV2ForSequenceClassification(preset_config(args.preset, **overrides))
    if args.dropout is not None:
        model.config.hidden_dropout_prob = model.config.attention_probs_dropout_prob = args.dropout
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = args.dropout if module is not model.pooler.dropout else module.p
    return model, DebertaTokenizer(spm_path), lambda directory: save_model(model, spm_path, directory)


def save_model(model: DebertaV2ForSequenceClassification, spm_path: str, directory: str) -> None:
    model.save_pretrained(directory)
    shutil.copyfile(spm_path, os.path.join(directory, "spm.model"))


def load_checkpoint(path: str) -> Dict[str, Any]:
    """Our own checkpoint, which holds RNG states (numpy arrays, tuples) besides tensors: torch >= 2.6
    loads only tensors unless told otherwise, torch 1.13 has no such switch on every build."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except TypeError:
        return torch.load(path, map_location="cpu")


def rng_state() -> Dict[str, Any]:
    return {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])


def resume_or_start(output: str, checkpoint_name: str, model: torch.nn.Module, optimizer, scheduler, fresh: Dict[str, Any],
                    overwrite: bool, main: bool, stage: str) -> Dict[str, Any]:
    """The run's state: restored with model, optimiser, schedule and RNGs from ``output``'s checkpoint when there is one
    (unless ``overwrite``, which deletes it and the log), else ``fresh``."""
    os.makedirs(output, exist_ok=True)
    checkpoint_path = os.path.join(output, checkpoint_name)
    if os.path.exists(checkpoint_path) and not overwrite:
        saved = load_checkpoint(checkpoint_path)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        set_rng_state(saved["rng"])
        state = saved["state"]
        if main:
            print(f"{stage}: resuming at epoch {state['epoch'] + 1}, step {state['global_step']}", flush=True)
        return state
    if main and overwrite:
        for stale in (checkpoint_path, os.path.join(output, "log.jsonl")):
            if os.path.exists(stale):
                os.remove(stale)
    return fresh


# --- the run -----------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    world = World()
    try:
        return _run(args, world)
    finally:
        world.close()


def _run(args: argparse.Namespace, world: World) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.batch_size % (world.size * args.grad_accum):
        raise SystemExit(f"distill: --batch-size {args.batch_size} must be divisible by processes x --grad-accum "
                         f"({world.size} x {args.grad_accum})")
    seed_everything(args.seed)
    started = time.monotonic()
    model, tokenizer, save = build_model(args)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise SystemExit(f"distill: tokenizer has {tokenizer.vocab_size} ids but the model only {model.config.vocab_size} embedding rows")
    windows = None if args.windows == "none" else args.windows
    train = load_training_sets(args.train, tokenizer, args.max_length, args.soft_label_field, args.limit, windows,
                               args.exclude_source)
    # Dev rows are scored on their first window (longest-first truncation): every window of the long ones would cost
    # several times the evaluation; the runtime's `eval` scores them by all their windows afterwards.
    dev = load_examples(args.dev, tokenizer, args.max_length, None) if args.dev else []
    if not train:
        raise SystemExit(f"distill: {args.train} has no rows")

    oversample = parse_oversample(args.oversample)
    steps_per_epoch = args.steps_per_epoch or max(1, len(train) // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    scheduler = linear_schedule(optimizer, int(args.warmup_ratio * total_steps), total_steps)

    checkpoint_path = os.path.join(args.output, CHECKPOINT)
    state = resume_or_start(args.output, CHECKPOINT, model, optimizer, scheduler,
                            {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best": None, "history": []},
                            args.overwrite, world.main, "distill")

    ddp_model: torch.nn.Module = model
    if world.distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)

    log = JsonlAppender(os.path.join(args.output, "log.jsonl")) if world.main else None
    micro = args.batch_size // (world.size * args.grad_accum)
    if world.main and state["global_step"] == 0:
        log.write({"event": "start", "examples": len(train), "dev": len(dev), "steps": total_steps,
                   "processes": world.size, "config": model.config.to_dict(),
                   "args": {k: v for k, v in vars(args).items() if k != "func"}})

    def save_checkpoint() -> None:
        if not world.main:
            return
        tmp = checkpoint_path + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state(), "state": state}, tmp)
        os.replace(tmp, checkpoint_path)

    while state["epoch"] < args.epochs:
        epoch = state["epoch"]
        indices = epoch_indices(train, steps_per_epoch * args.batch_size, args.seed, epoch, args.balance, oversample)
        batches = global_batches(indices, args.batch_size, train, args.seed, epoch)
        model.train()
        running, running_n = 0.0, 0
        with Progress(f"epoch {epoch + 1}/{args.epochs}", steps_per_epoch) as bar:
            bar.update(state["step_in_epoch"])
            for step in range(state["step_in_epoch"], steps_per_epoch):
                batch_ids = batches[step]
                share = batch_ids[world.rank * len(batch_ids) // world.size:(world.rank + 1) * len(batch_ids) // world.size]
                optimizer.zero_grad(set_to_none=True)
                step_loss = 0.0
                for k in range(args.grad_accum):
                    batch = collate([train[i] for i in share[k * micro:(k + 1) * micro]])
                    logits = logits_of(ddp_model, batch)
                    loss = kd_loss(logits, batch["labels"], batch["soft"], args.ce_weight) / args.grad_accum
                    if world.distributed and k < args.grad_accum - 1:
                        with ddp_model.no_sync():  # type: ignore[attr-defined]
                            loss.backward()
                    else:
                        loss.backward()
                    step_loss += loss.item()
                if args.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                state["global_step"] += 1
                state["step_in_epoch"] = step + 1
                running += step_loss
                running_n += 1
                bar.update()
                if world.main and (state["global_step"] % args.log_steps == 0 or step + 1 == steps_per_epoch):
                    log.write({"event": "step", "epoch": epoch + 1, "step": state["global_step"],
                               "loss": running / running_n, "lr": scheduler.get_last_lr()[0]})
                    running, running_n = 0.0, 0
                if state["global_step"] % args.save_steps == 0 and step + 1 < steps_per_epoch:
                    save_checkpoint()

        # End of epoch: evaluate on dev (main process), keep the best epoch's weights.
        record: Dict[str, Any] = {"event": "eval", "epoch": epoch + 1, "step": state["global_step"]}
        if world.main:
            if dev:
                rows, scores = row_scores(dev, predict(model, dev, args.eval_batch_size))
                metrics = binary_metrics([e.label for e in rows], scores)
                record.update(metrics)
                better = state["best"] is None or metrics[args.select_metric] > state["best"][args.select_metric]
            else:
                better = True
            if better:
                state["best"] = dict(record)
                save(args.output)
            record["best"] = better
            log.write(record)
            state["history"].append(record)
            print(summary("epoch", **{k: v for k, v in record.items() if k in ("epoch", "f1", "auprc", "accuracy", "best")}), flush=True)
        state["epoch"] = epoch + 1
        state["step_in_epoch"] = 0
        save_checkpoint()
        world.barrier()

    if world.main:
        best = state["best"] or {}
        seconds = time.monotonic() - started
        log.write({"event": "end", "best": best, "seconds": seconds})
        log.close()
        with open(os.path.join(args.output, "training_summary.json"), "w", encoding="utf-8") as f:
            json.dump({"best": best, "history": state["history"], "steps": state["global_step"]}, f, indent=2)
        print(summary("distill", steps=state["global_step"], best_epoch=best.get("epoch"),
                      **{f"dev_{k}": best[k] for k in ("f1", "auprc") if k in best}, seconds=seconds))
    return 0
