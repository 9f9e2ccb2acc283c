"""Fine-tune a decoder with PT-ALIGN: MLE on positive responses plus token-level unlikelihood on toxic ones.

The loss of a global batch of pairs (``pt-align-pairs``'s rows) is
``(Σ −log p(y⁺ₜ) + λ Σ_{t∈S} −log(1 − p(y⁻ₜ))) / N⁺``: the paper's sum, divided by the batch's positive response
tokens N⁺ (so λ keeps the paper's meaning, and ``--unlikelihood-weight 0``, the MLE-only control, is ``train-lm``'s
token-mean loss on the positives). Only response tokens count; the instruction is context. Each toxic token is
scored given the toxic response before it (teacher forcing), as unlikelihood training does. ``log(1 − p)`` is computed
in float64 without cancellation (``pt_align.log1m_exp``). S, the penalised tokens, is ``--penalised absent`` (the toxic
response's tokens whose id does not occur in the positive response) or ``all`` (every toxic response token); the
paper's own rule is not published, so both are our reading. The toxic response's end token is never penalised.

``--format plain`` (default) lays a pair out as ``BOS instruction \\n response EOS``, the layout ``train-lm`` gives a
``prompt,response`` row, which is what a model pre-trained here has seen; ``--format chatml`` uses ChatML turns, for
checkpoints tuned on them. AdamW, warmup and cosine decay, checkpoints, resume, ``--stop-after-steps`` and ``torchrun``
work as in ``train-lm``. ``--dev`` pairs are measured after every epoch: the positives' token loss and perplexity, and
the mean p and −log(1 − p) of the penalised tokens.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any, Dict, List, Optional, Sequence

import torch

from .distill import World, global_batches, resume_or_start, rng_state, seed_everything
from .jsonl import JsonlAppender
from .lm_data import DecoderTokenizer, copy_tokenizer_files
from .modeling_decoder import load_pretrained, save_pretrained
from .progress import Progress, summary
from .pt_align import (FORMATS, PENALISED_RULES, EncodedPair, PairFormat, batch_tensors, encode_pair, loss_sums,
                       pt_align_loss, read_pairs)
from .train_lm import epoch_order, epoch_steps, optimizer_and_schedule

CHECKPOINT = "checkpoint.pt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pairs", required=True, nargs="+", help="JSONL files of pairs: instruction, positive, negative")
    parser.add_argument("--dev", nargs="+", default=[], help="JSONL pairs measured after every epoch")
    parser.add_argument("--init-from", required=True, help="the model to align: a Llama/Qwen2/GPT-2 Hugging Face directory")
    parser.add_argument("--tokenizer", help="a tokenizer directory (default: --init-from's)")
    parser.add_argument("--output", required=True, help="output directory: the model, log.jsonl, checkpoint.pt")
    parser.add_argument("--unlikelihood-weight", "--lambda", dest="unlikelihood_weight", type=float, default=1.0,
                        help="λ, the weight of the toxic tokens' unlikelihood (default 1; 0 is the MLE-only control)")
    parser.add_argument("--penalised", choices=PENALISED_RULES, default="absent",
                        help="S: absent = toxic tokens whose id is not in the positive response (default); all = every "
                             "toxic token")
    parser.add_argument("--format", choices=FORMATS, default="plain",
                        help="plain: BOS instruction \\n response EOS (train-lm's layout); chatml: ChatML turns")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per sequence, prompt included (longer ones are cut)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, help="stop the schedule after this many optimiser steps")
    parser.add_argument("--batch-size", type=int, default=8, help="pairs per optimiser step (all processes, all accumulation steps)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimiser step in each process")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--min-lr-ratio", type=float, default=0.1)
    parser.add_argument("--warmup-ratio", type=float, default=0.05)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save-steps", type=int, default=100, help="write checkpoint.pt every N optimiser steps (and after every epoch)")
    parser.add_argument("--stop-after-steps", type=int, help="write the checkpoint and stop after this many optimiser steps")
    parser.add_argument("--log-steps", type=int, default=10)
    parser.add_argument("--eval-batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads per process (0 = torch default)")
    parser.add_argument("--limit", type=int, help="use only the first N pairs")
    parser.add_argument("--overwrite", action="store_true", help="start over even if --output holds a checkpoint")


def encode_pairs(paths: Sequence[str], fmt: PairFormat, max_length: int, rule: str, limit: Optional[int],
                 label: str) -> List[EncodedPair]:
    pairs = read_pairs(paths, limit)
    out: List[EncodedPair] = []
    with Progress(f"tokenizing {label}", len(pairs)) as bar:
        for pair in pairs:
            encoded = encode_pair(pair, fmt, max_length, rule)
            if encoded is not None:
                out.append(encoded)
            bar.update()
    return out


def evaluate(model: torch.nn.Module, pairs: Sequence[EncodedPair], batch_size: int, pad_id: int) -> Dict[str, float]:
    """Per token over ``pairs``: the positives' loss and perplexity, the penalised tokens' mean p and −log(1 − p)."""
    model.eval()
    nll = unlikelihood = probability = 0.0
    positive = penalised = 0
    ordered = sorted(pairs, key=lambda p: len(p.ids))
    with torch.no_grad():
        for start in range(0, len(ordered), batch_size):
            ids, mask, positive_mask, penalised_mask = batch_tensors(ordered[start:start + batch_size], pad_id)
            sums = loss_sums(model(ids, attention_mask=mask), ids, positive_mask, penalised_mask)
            nll += float(sums.positive_nll)
            unlikelihood += float(sums.unlikelihood)
            probability += float(sums.penalised_probability)
            positive += sums.positive_tokens
            penalised += sums.penalised_tokens
    model.train()
    loss = nll / max(1, positive)
    return {"positive_loss": loss, "positive_perplexity": math.exp(min(loss, 700.0)), "positive_tokens": positive,
            "penalised_probability": probability / max(1, penalised),
            "penalised_unlikelihood": unlikelihood / max(1, penalised), "penalised_tokens": penalised}


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
        raise SystemExit(f"align-pt: --batch-size {args.batch_size} must be divisible by processes x --grad-accum "
                         f"({world.size} x {args.grad_accum})")
    if not (args.unlikelihood_weight >= 0.0 and math.isfinite(args.unlikelihood_weight)):
        raise SystemExit(f"align-pt: --unlikelihood-weight {args.unlikelihood_weight} must be finite and not negative")
    seed_everything(args.seed)
    started = time.monotonic()
    tokenizer_dir = args.tokenizer or args.init_from
    tokenizer = DecoderTokenizer.load(tokenizer_dir)
    model = load_pretrained(args.init_from).train()
    if tokenizer.vocab_size > model.config.vocab_size:
        raise SystemExit(f"align-pt: the tokenizer has {tokenizer.vocab_size} ids, the model {model.config.vocab_size} embedding rows")
    if args.max_length > model.config.context:
        raise SystemExit(f"align-pt: --max-length {args.max_length} exceeds the model's context of {model.config.context}")
    fmt = PairFormat(tokenizer, args.format)
    train = encode_pairs(args.pairs, fmt, args.max_length, args.penalised, args.limit, "pairs")
    dev = encode_pairs(args.dev, fmt, args.max_length, args.penalised, None, "dev") if args.dev else []
    if len(train) < args.batch_size:
        raise SystemExit(f"align-pt: {len(train)} usable pairs, fewer than one batch of {args.batch_size} "
                         "(a pair needs a prompt shorter than --max-length and a non-empty negative)")
    pad_id = tokenizer.eos_id if tokenizer.eos_id is not None else 0
    weight = args.unlikelihood_weight

    steps_per_epoch, total_steps = epoch_steps(len(train), args)
    optimizer, scheduler = optimizer_and_schedule(model, args, total_steps)

    checkpoint_path = os.path.join(args.output, CHECKPOINT)
    state: Dict[str, Any] = resume_or_start(args.output, CHECKPOINT, model, optimizer, scheduler,
                                            {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "history": []},
                                            args.overwrite, world.main, "align-pt")
    ddp_model: torch.nn.Module = model
    if world.distributed:
        ddp_model = torch.nn.parallel.DistributedDataParallel(model)
    log = JsonlAppender(os.path.join(args.output, "log.jsonl")) if world.main else None
    micro = args.batch_size // (world.size * args.grad_accum)
    if world.main and state["global_step"] == 0:
        log.write({"event": "start", "pairs": len(train), "dev": len(dev), "steps": total_steps,
                   "penalised_tokens": sum(len(p.penalised) for p in train),
                   "negative_tokens": sum(len(p.negative_ids) - p.prompt_length for p in train),
                   "parameters": sum(p.numel() for p in model.parameters()), "processes": world.size,
                   "args": vars(args)})

    def save_checkpoint() -> None:
        if not world.main:
            return
        tmp = checkpoint_path + ".tmp"
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state(), "state": state}, tmp)
        os.replace(tmp, checkpoint_path)

    stopped = False
    model.train()
    while state["global_step"] < total_steps and not stopped:
        epoch = state["epoch"]
        batches = global_batches(epoch_order(len(train), args.seed, epoch)[:steps_per_epoch * args.batch_size],
                                 args.batch_size, train, args.seed, epoch)
        steps_this_epoch = min(steps_per_epoch, total_steps - epoch * steps_per_epoch)
        running = {"loss": 0.0, "positive_loss": 0.0, "unlikelihood": 0.0, "steps": 0}
        with Progress(f"epoch {epoch + 1}/{args.epochs}", steps_this_epoch) as bar:
            bar.update(state["step_in_epoch"])
            for step in range(state["step_in_epoch"], steps_this_epoch):
                if args.stop_after_steps and state["global_step"] >= args.stop_after_steps:
                    stopped = True
                    break
                batch = [train[i] for i in batches[step]]
                positive_tokens = sum(p.positive_targets for p in batch)  # the whole global batch's
                penalised_tokens = sum(len(p.penalised) for p in batch)
                share = batch[world.rank * len(batch) // world.size:(world.rank + 1) * len(batch) // world.size]
                optimizer.zero_grad(set_to_none=True)
                totals = torch.zeros(2, dtype=torch.float64)  # Σ −log p(y⁺), Σ −log(1 − p(y⁻)) over S
                for k in range(args.grad_accum):
                    # λ = 0 reads no negative: the control skips their forward pass.
                    ids, mask, positive, penalised = batch_tensors(share[k * micro:(k + 1) * micro], pad_id,
                                                                   with_negatives=weight > 0)
                    sums = loss_sums(ddp_model(ids, attention_mask=mask), ids, positive, penalised)
                    # DDP averages gradients over processes: scale up by their count to get the global normalisation.
                    loss = pt_align_loss(sums, weight, positive_tokens) * world.size
                    if world.distributed and k < args.grad_accum - 1:
                        with ddp_model.no_sync():  # type: ignore[attr-defined]
                            loss.backward()
                    else:
                        loss.backward()
                    totals += torch.stack([sums.positive_nll.detach().double(), sums.unlikelihood.detach().double()])
                if world.distributed:
                    torch.distributed.all_reduce(totals)
                if args.max_grad_norm > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
                state["global_step"] += 1
                state["step_in_epoch"] = step + 1
                positive_loss = float(totals[0]) / positive_tokens
                unlikelihood = float(totals[1]) / max(1, penalised_tokens) if weight > 0 else float("nan")
                running["loss"] += positive_loss + (weight * float(totals[1]) / positive_tokens if weight > 0 else 0.0)
                running["positive_loss"] += positive_loss
                running["unlikelihood"] += unlikelihood
                running["steps"] += 1
                bar.update()
                if world.main and (state["global_step"] % args.log_steps == 0 or step + 1 == steps_this_epoch):
                    n = running.pop("steps")
                    log.write({"event": "step", "epoch": epoch + 1, "step": state["global_step"],
                               **{k: (v / n if not math.isnan(v) else None) for k, v in running.items()},
                               "lr": scheduler.get_last_lr()[0]})
                    running = {"loss": 0.0, "positive_loss": 0.0, "unlikelihood": 0.0, "steps": 0}
                if state["global_step"] % args.save_steps == 0 and step + 1 < steps_this_epoch:
                    save_checkpoint()
        if stopped:
            save_checkpoint()
            break
        record: Dict[str, Any] = {"event": "eval", "epoch": epoch + 1, "step": state["global_step"]}
        if world.main and dev:
            record.update({f"dev_{k}": v for k, v in evaluate(model, dev, args.eval_batch_size, pad_id).items()})
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
            print(summary("align-pt", stopped_at=state["global_step"], steps=total_steps, seconds=seconds))
            log.close()
            return 0
        save_pretrained(args.output, model)
        copy_tokenizer_files(tokenizer_dir, args.output)
        last = state["history"][-1] if state["history"] else {}
        dev_fields = {k: v for k, v in last.items() if k.startswith("dev_")}
        log.write({"event": "end", "steps": state["global_step"], "seconds": seconds, **dev_fields})
        log.close()
        with open(os.path.join(args.output, "training_summary.json"), "w", encoding="utf-8") as f:
            json.dump({"steps": state["global_step"], "pairs": len(train), "unlikelihood_weight": weight,
                       "penalised": args.penalised, "format": args.format, "history": state["history"]}, f, indent=2)
        print(summary("align-pt", steps=state["global_step"], pairs=len(train), unlikelihood_weight=weight,
                      penalised=args.penalised, **{k: dev_fields[k] for k in ("dev_positive_perplexity",
                                                                              "dev_penalised_probability") if k in dev_fields},
                      seconds=seconds))
    return 0
