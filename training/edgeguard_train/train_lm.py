"""Train a Llama-shaped decoder language model from scratch or continue one (--init-from), on JSONL text.

Each selected row is one document, ``BOS text EOS`` in the tokenizer's ids (``tokenizer_config.json``'s tokens),
cut to ``--max-length``; batches group documents of similar length and pad on the right. The loss is causal LM
cross-entropy, averaged over every predicted token of the global batch (so a batch's long and short documents count by
their tokens, and the result does not depend on how the batch is split across accumulation steps or processes). AdamW
(weight decay on matrices only), linear warmup then cosine decay to ``--min-lr-ratio`` of the peak, gradient clipping.

``--mix FILE --mix-fraction F`` adds ``round(F x rows)`` of FILE's matching rows (chosen by ``--seed``) to the
training text, e.g. a slice of harmful text as web text holds some. A checkpoint (model, optimiser, schedule, RNG
states, position in the epoch) is written every ``--save-steps`` optimiser steps and at the end of every epoch, so a
killed run resumes where it stopped and ends with the same weights as an uninterrupted one (``--stop-after-steps``
stops a run on purpose, to continue it later). ``--snapshot-steps N`` also writes the model every N optimiser steps as
a Hugging Face directory ``step-<N>/`` in ``--output`` with its ``--dev`` loss in ``log.jsonl``, so the number of
fine-tuning steps can be chosen on validation afterwards (``--eval-steps N`` measures the dev loss alone). Under
``torchrun`` each process takes a contiguous share of every global batch (gloo on CPU, as ``distill``). The result is
a Hugging Face directory (``config.json``, ``model.safetensors`` and the tokenizer files) that
``modeling_decoder.load_pretrained`` and the runtime open.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch.nn import functional as F

from .distill import World, global_batches, resume_or_start, rng_state, seed_everything
from .jsonl import JsonlAppender
from .lm_data import (DecoderTokenizer, add_text_arguments, copy_tokenizer_files, mixed_in, parse_fields, parse_where,
                      read_texts)
from .modeling_decoder import DecoderConfig, DecoderLM, load_pretrained, save_pretrained
from .progress import Progress, summary

CHECKPOINT = "checkpoint.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--train", required=True, nargs="+", help="training JSONL files")
    add_text_arguments(parser)
    parser.add_argument("--mix", nargs="+", default=[], help="JSONL files to take a fraction of the rows of (same --text-fields)")
    parser.add_argument("--mix-fraction", type=float, default=0.0, help="share of --mix's matching rows added to the training text (0..1)")
    parser.add_argument("--mix-where", action="append", default=[], metavar="FIELD=VALUE", help="--where for the --mix rows")
    parser.add_argument("--dev", nargs="+", default=[], help="JSONL files (same --text-fields and --where) whose loss and "
                        "perplexity are measured after every epoch")
    parser.add_argument("--output", required=True, help="output directory: the model as a Hugging Face directory, log.jsonl, checkpoint.pt")
    init = parser.add_mutually_exclusive_group(required=True)
    init.add_argument("--init-from", help="a Llama/Qwen2/GPT-2 Hugging Face directory to continue training (its tokenizer unless --tokenizer)")
    init.add_argument("--tokenizer", help="train from scratch: a directory with tokenizer.json (+ tokenizer_config.json), e.g. train-bpe's")
    shape = parser.add_argument_group("shape of a new model (with --tokenizer)")
    shape.add_argument("--hidden-size", type=int, default=256)
    shape.add_argument("--layers", type=int, default=4)
    shape.add_argument("--heads", type=int, default=4)
    shape.add_argument("--kv-heads", type=int, help="key/value heads (grouped-query attention; default --heads)")
    shape.add_argument("--intermediate-size", type=int, help="MLP width (default 8/3 x hidden, rounded up to a multiple of 32)")
    shape.add_argument("--context", type=int, help="max_position_embeddings (default --max-length)")
    shape.add_argument("--rope-theta", type=float, default=10000.0)
    shape.add_argument("--untied", action="store_true", help="give lm_head its own weights (default: tied to the embeddings)")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per document including BOS and EOS (longer ones are cut)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, help="stop the schedule after this many optimiser steps (default: --epochs full passes)")
    parser.add_argument("--batch-size", type=int, default=16, help="documents per optimiser step (all processes, all accumulation steps)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimiser step in each process")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3: from scratch; fine-tunes want ~5e-5)")
    parser.add_argument("--min-lr-ratio", type=float, default=0.1, help="the cosine decay ends at this share of --lr")
    parser.add_argument("--warmup-ratio", type=float, default=0.05, help="share of the steps spent warming up linearly")
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save-steps", type=int, default=100, help="write checkpoint.pt every N optimiser steps (and after every epoch)")
    parser.add_argument("--stop-after-steps", type=int, help="write the checkpoint and stop once this many optimiser steps are done "
                        "(a later run without it continues)")
    parser.add_argument("--eval-steps", type=int, help="also measure --dev every N optimiser steps (default: after every epoch only)")
    parser.add_argument("--snapshot-steps", type=int, help="every N optimiser steps write the model as a Hugging Face directory "
                        "step-<N>/ in --output (with its --dev loss in log.jsonl), to choose the step count on validation")
    parser.add_argument("--log-steps", type=int, default=10)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads per process (0 = torch default)")
    parser.add_argument("--limit", type=int, help="use only the first N training rows (smoke tests)")
    parser.add_argument("--overwrite", action="store_true", help="start over even if --output holds a checkpoint")


# --- model ---------------------------------------------------------------------------------------

def new_config(args: argparse.Namespace, tokenizer: DecoderTokenizer) -> DecoderConfig:
    """A ``LlamaForCausalLM`` config of the requested shape for ``tokenizer``'s vocabulary."""
    hidden = args.hidden_size
    intermediate = args.intermediate_size or 32 * math.ceil(hidden * 8 / 3 / 32)
    return DecoderConfig.from_dict({
        "model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": tokenizer.vocab_size,
        "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads or args.heads,
        "max_position_embeddings": args.context or args.max_length, "rms_norm_eps": 1e-6, "rope_theta": args.rope_theta,
        "tie_word_embeddings": not args.untied, "hidden_act": "silu", "initializer_range": 0.02,
        "bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id, "torch_dtype": "float32",
    })


def initialize(model: DecoderLM, std: float) -> None:
    """As ``transformers`` initialises a new Llama: normal(0, std) matrices and embeddings, zero biases, unit norms."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
                module.weight.normal_(0.0, std)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()


def build(args: argparse.Namespace):
    """The model, its tokenizer and the directory whose tokenizer files go with it."""
    if args.init_from:
        tokenizer_dir = args.tokenizer or args.init_from
        tokenizer = DecoderTokenizer.load(tokenizer_dir)
        model = load_pretrained(args.init_from).train()
        if tokenizer.vocab_size > model.config.vocab_size:
            raise SystemExit(f"train-lm: the tokenizer has {tokenizer.vocab_size} ids, the model {model.config.vocab_size} embedding rows")
    else:
        tokenizer_dir = args.tokenizer
        tokenizer = DecoderTokenizer.load(tokenizer_dir)
        config = new_config(args, tokenizer)
        model = DecoderLM(config)
        initialize(model, config.initializer_range)
    if args.max_length > model.config.context:
        raise SystemExit(f"train-lm: --max-length {args.max_length} exceeds the model's context of {model.config.context}")
    return model, tokenizer, tokenizer_dir


def make_optimizer(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW; only matrices (linear weights, embeddings) decay: norms and biases are scales and offsets, not capacity."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    keep = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def cosine_schedule(optimizer: torch.optim.Optimizer, warmup: int, total: int, min_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup over ``warmup`` steps, then cosine from the peak down to ``min_ratio`` of it at step ``total``."""
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# --- data ----------------------------------------------------------------------------------------

@dataclass
class Document:
    ids: List[int]


def documents(texts: Sequence[str], tokenizer: DecoderTokenizer, max_length: int, label: str) -> List[Document]:
    """The documents of ``texts`` that predict at least one token."""
    out = []
    with Progress(f"tokenizing {label}", len(texts)) as bar:
        for text in texts:
            ids = tokenizer.document(text, max_length)
            if len(ids) >= 2:
                out.append(Document(ids))
            bar.update()
    return out


def pad(docs: Sequence[Document], pad_id: int):
    """Right-padded ``input_ids`` and ``attention_mask``."""
    width = max(len(d.ids) for d in docs)
    ids = torch.full((len(docs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(docs), width), dtype=torch.long)
    for row, doc in enumerate(docs):
        ids[row, :len(doc.ids)] = torch.tensor(doc.ids)
        mask[row, :len(doc.ids)] = 1
    return ids, mask


def token_loss_sum(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum over the real positions of the next-token cross-entropy (the last real token predicts nothing)."""
    logits = model(ids, attention_mask=mask)[:, :-1]
    targets = ids[:, 1:]
    valid = mask[:, 1:].bool()
    return F.cross_entropy(logits[valid].float(), targets[valid], reduction="sum")


def predicted_tokens(docs: Sequence[Document]) -> int:
    return sum(len(d.ids) - 1 for d in docs)


def evaluate(model: DecoderLM, docs: Sequence[Document], batch_size: int, pad_id: int) -> Dict[str, float]:
    """Mean next-token loss over every predicted token of ``docs``, and its perplexity."""
    model.eval()
    total, count = 0.0, 0
    ordered = sorted(docs, key=lambda d: len(d.ids))
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            chunk = ordered[start:start + batch_size]
            ids, mask = pad(chunk, pad_id)
            total += float(token_loss_sum(model, ids, mask))
            count += predicted_tokens(chunk)
    model.train()
    loss = total / max(1, count)
    return {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "tokens": count}


def epoch_steps(examples: int, args: argparse.Namespace) -> Tuple[int, int]:
    """Optimiser steps per epoch (whole batches only) and in the run: ``--epochs`` of them, cut to ``--max-steps``."""
    steps_per_epoch = examples // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    return steps_per_epoch, min(total_steps, args.max_steps) if args.max_steps else total_steps


def optimizer_and_schedule(model: torch.nn.Module, args: argparse.Namespace, total_steps: int):
    """AdamW (``--lr``, ``--weight-decay``) and its warmup + cosine schedule (``--warmup-ratio``, ``--min-lr-ratio``)."""
    optimizer = make_optimizer(model, args.lr, args.weight_decay)
    warmup = max(1, int(args.warmup_ratio * total_steps))
    return optimizer, cosine_schedule(optimizer, warmup, total_steps, args.min_lr_ratio)


def epoch_order(count: int, seed: int, epoch: int) -> List[int]:
    return torch.randperm(count, generator=torch.Generator().manual_seed(seed * 1000003 + epoch)).tolist()


# --- the run -------------------------------------------------------------------------------------

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
        raise SystemExit(f"train-lm: --batch-size {args.batch_size} must be divisible by processes x --grad-accum "
                         f"({world.size} x {args.grad_accum})")
    if args.mix_fraction and not args.mix:
        raise SystemExit("train-lm: --mix-fraction needs --mix FILE")
    for flag, value in (("--eval-steps", args.eval_steps), ("--snapshot-steps", args.snapshot_steps)):
        if value is not None and value < 1:
            raise SystemExit(f"train-lm: {flag} {value} must be at least 1")
    if args.eval_steps and not args.dev:
        raise SystemExit("train-lm: --eval-steps needs --dev files to measure")
    seed_everything(args.seed)
    started = time.monotonic()
    model, tokenizer, tokenizer_dir = build(args)
    fields, where = parse_fields(args.text_fields), parse_where(args.where)
    texts = read_texts(args.train, fields, where, args.limit)
    mixed: List[str] = []
    if args.mix:
        mixed = mixed_in(read_texts(args.mix, fields, parse_where(args.mix_where, "--mix-where")), args.mix_fraction, args.seed)
    train = documents(texts + mixed, tokenizer, args.max_length, "train")
    dev = documents(read_texts(args.dev, fields, where), tokenizer, args.max_length, "dev") if args.dev else []
    if len(train) < args.batch_size:
        raise SystemExit(f"train-lm: {len(train)} documents, fewer than one batch of {args.batch_size} "
                         "(check --train, --text-fields and --where)")
    pad_id = tokenizer.eos_id if tokenizer.eos_id is not None else 0

    steps_per_epoch, total_steps = epoch_steps(len(train), args)
    optimizer, scheduler = optimizer_and_schedule(model, args, total_steps)

    checkpoint_path = os.path.join(args.output, CHECKPOINT)
    state: Dict[str, Any] = resume_or_start(args.output, CHECKPOINT, model, optimizer, scheduler,
                                            {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "history": []},
                                            args.overwrite, world.main, "train-lm")

    ddp_model: torch.nn.Module = model
    if world.distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)
    log = JsonlAppender(os.path.join(args.output, "log.jsonl")) if world.main else None
    micro = args.batch_size // (world.size * args.grad_accum)
    if world.main and state["global_step"] == 0:
        log.write({"event": "start", "documents": len(train), "mixed_in": len(mixed), "dev": len(dev), "steps": total_steps,
                   "parameters": sum(p.numel() for p in model.parameters()), "processes": world.size,
                   "config": model.config.to_dict(), "args": vars(args)})

    def save_checkpoint() -> None:
        if not world.main:
            return
        tmp = checkpoint_path + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state(), "state": state}, tmp)
        os.replace(tmp, checkpoint_path)

    def measure() -> Dict[str, Any]:
        """The dev loss and perplexity of the model as it is now (nothing without --dev); main process only."""
        return {f"dev_{k}": v for k, v in evaluate(model, dev, args.eval_batch_size, pad_id).items()} if dev else {}

    def snapshot(step: int) -> None:
        """The model as trained for ``step`` optimiser steps, as a directory the later stages open like the final one."""
        directory = os.path.join(args.output, f"step-{step}")
        save_pretrained(directory, model)
        copy_tokenizer_files(tokenizer_dir, directory)
        record = {"event": "snapshot", "step": step, "path": directory, **measure()}
        log.write(record)
        print(summary("snapshot", **{k: v for k, v in record.items() if k != "event"}), flush=True)

    stopped = False
    model.train()
    while state["global_step"] < total_steps and not stopped:
        epoch = state["epoch"]
        batches = global_batches(epoch_order(len(train), args.seed, epoch)[:steps_per_epoch * args.batch_size],
                                 args.batch_size, train, args.seed, epoch)
        steps_this_epoch = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        running, running_n = 0.0, 0
        with Progress(f"epoch {epoch + 1}/{args.epochs}", steps_this_epoch) as bar:
            bar.update(state["step_in_epoch"])
            for step in range(state["step_in_epoch"], steps_this_epoch):
                if args.stop_after_steps and state["global_step"] >= args.stop_after_steps:
                    stopped = True
                    break
                batch = [train[i] for i in batches[step]]
                tokens = predicted_tokens(batch)  # the whole global batch's, known to every process
                share = batch[world.rank * len(batch) // world.size:(world.rank + 1) * len(batch) // world.size]
                optimizer.zero_grad(set_to_none=True)
                step_loss = torch.zeros(())
                for k in range(args.grad_accum):
                    ids, mask = pad(share[k * micro:(k + 1) * micro], pad_id)
                    # DDP averages gradients over processes: scale up by their count to get the global token mean.
                    loss_sum = token_loss_sum(ddp_model, ids, mask)
                    loss = loss_sum * (world.size / tokens)
                    if world.distributed and k < args.grad_accum - 1:
                        with ddp_model.no_sync():  # type: ignore[attr-defined]
                            loss.backward()
                    else:
                        loss.backward()
                    step_loss += loss_sum.detach()
                if world.distributed:
                    torch.distributed.all_reduce(step_loss)
                if args.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                state["global_step"] += 1
                state["step_in_epoch"] = step + 1
                running += float(step_loss) / tokens
                running_n += 1
                bar.update()
                if world.main and (state["global_step"] % args.log_steps == 0 or step + 1 == steps_this_epoch):
                    log.write({"event": "step", "epoch": epoch + 1, "step": state["global_step"], "loss": running / running_n,
                               "lr": scheduler.get_last_lr()[0]})
                    running, running_n = 0.0, 0
                if world.main and args.snapshot_steps and state["global_step"] % args.snapshot_steps == 0:
                    snapshot(state["global_step"])
                elif world.main and args.eval_steps and state["global_step"] % args.eval_steps == 0 and step + 1 < steps_this_epoch:
                    log.write({"event": "eval", "epoch": epoch + 1, "step": state["global_step"], **measure()})
                if state["global_step"] % args.save_steps == 0 and step + 1 < steps_this_epoch:
                    save_checkpoint()
        if stopped:
            save_checkpoint()
            break
        record: Dict[str, Any] = {"event": "eval", "epoch": epoch + 1, "step": state["global_step"]}
        if world.main and dev:
            record.update(measure())
            log.write(record)
            print(summary("epoch", **{k: v for k, v in record.items() if k != "event"}), flush=True)
        state["history"].append(record)
        state["epoch"] = epoch + 1
        state["step_in_epoch"] = 0
        save_checkpoint()
        world.barrier()

    if world.main:
        seconds = time.monotonic() - started
        if stopped:
            print(summary("train-lm", stopped_at=state["global_step"], steps=total_steps, seconds=seconds))
            log.close()
            return 0
        save_pretrained(args.output, model)
        copy_tokenizer_files(tokenizer_dir, args.output)
        last = state["history"][-1] if state["history"] else {}
        log.write({"event": "end", "steps": state["global_step"], "seconds": seconds, **{k: v for k, v in last.items() if k.startswith("dev_")}})
        log.close()
        with open(os.path.join(args.output, "training_summary.json"), "w", encoding="utf-8") as f:
            json.dump({"steps": state["global_step"], "documents": len(train), "mixed_in": len(mixed),
                       "history": state["history"]}, f, indent=2)
        print(summary("train-lm", steps=state["global_step"], documents=len(train), mixed_in=len(mixed),
                      **{k: last[k] for k in ("dev_loss", "dev_perplexity") if k in last}, seconds=seconds))
    return 0
