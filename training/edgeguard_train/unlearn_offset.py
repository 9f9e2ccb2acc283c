"""Offset unlearning (δ-unlearning): train S′ so that ℓ_B + α(ℓ_S′ − ℓ_S₀) forgets a forget set and keeps a retain set.

δ-unlearning (Huang et al., "Offset Unlearning for Large Language Models", TMLR 2025) leaves the large model B
untouched. A small model S₀ with B's vocabulary is copied to S′, and only S′ is trained. The logits the losses see,
and that the runtime decodes with (``edgeguard generate --offset B S′ S₀ --alpha A``), are
``ℓ_B + α·(ℓ_S′ − ℓ_S₀)``. The difference is taken first, so before any step (S′ = S₀) they are B's logits bit for
bit. B and S₀ run under ``no_grad`` with ``requires_grad`` off: they are only read.

Losses on the combined logits, per global batch of ``--batch-size`` forget and ``--retain-batch-size`` retain
documents (``BOS text EOS``, as ``train-lm`` reads them):

- ``--loss ga``: gradient ascent, the forget documents' next-token log-likelihood averaged over their tokens
  (minimising it raises their loss);
- ``--loss npo`` (default): negative preference optimisation, ``(2/β)·log(1 + (π_θ/π_ref)^β)`` per forget document,
  ``π`` the document's probability (the sum of its tokens' log-probabilities), averaged over documents; the
  reference is the combined model before training, which is B itself. It is computed as
  ``(2/β)·softplus(β·(log π_θ − log π_ref))``, which neither overflows nor loses the small ratios;
- plus ``--retain-weight`` × the retain documents' next-token cross-entropy averaged over their tokens.

Forget and retain documents are drawn as two endless seeded streams (a new permutation per pass), so a step's batch
depends only on its number, and ``--epochs`` counts passes over the forget set. AdamW, warmup, cosine decay,
clipping, checkpoints, ``--stop-after-steps`` and ``torchrun`` work as in ``train-lm`` (only S′ is wrapped by DDP;
every process holds its own B and S₀). ``--dev`` files get the combined model's loss and perplexity, and
``--eval-facts`` (``make-facts-world``'s ``facts.jsonl``) its exact-match recall per split, before and after.

Writes S′ as a Hugging Face directory with the tokenizer files, ``offset.json`` (the base and S₀ directories and α:
what the decoder needs), ``log.jsonl``, ``checkpoint.pt`` and, with ``--eval-facts``, ``facts_recall.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .distill import World, resume_or_start, rng_state, seed_everything
from .jsonl import JsonlAppender
from .lm_data import DecoderTokenizer, add_text_arguments, copy_tokenizer_files, parse_fields, parse_where, read_texts
from .modeling_decoder import DecoderLM, load_pretrained, save_pretrained
from .progress import Progress, summary
from .train_lm import Document, documents, epoch_order, evaluate, optimizer_and_schedule, pad, predicted_tokens

CHECKPOINT = "checkpoint.pt"
LOSSES = ("ga", "npo")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", required=True, help="the large model B (Hugging Face directory); only read")
    parser.add_argument("--small", required=True, help="the small model S₀ (Hugging Face directory, B's vocabulary); "
                        "S′ starts as its copy, S₀ itself is only read")
    parser.add_argument("--tokenizer", help="directory with tokenizer.json (default: --small's, else --base's)")
    parser.add_argument("--forget", required=True, nargs="+", help="JSONL or .txt files of the text to forget")
    parser.add_argument("--retain", nargs="+", default=[], help="JSONL or .txt files of the text to keep")
    add_text_arguments(parser)
    parser.add_argument("--forget-where", action="append", default=[], metavar="FIELD=VALUE", help="--where for the --forget rows only")
    parser.add_argument("--retain-where", action="append", default=[], metavar="FIELD=VALUE", help="--where for the --retain rows only")
    parser.add_argument("--dev", nargs="+", default=[], help="JSONL or .txt files whose loss and perplexity under the combined "
                        "model are measured before and after (same --text-fields and --where)")
    parser.add_argument("--eval-facts", help="make-facts-world's facts.jsonl: exact-match recall per split before and after")
    parser.add_argument("--output", required=True, help="output directory: S′ as a Hugging Face directory, offset.json, log.jsonl, checkpoint.pt")
    parser.add_argument("--alpha", type=float, default=1.0, help="offset strength α in ℓ_B + α(ℓ_S′ − ℓ_S₀)")
    parser.add_argument("--loss", choices=LOSSES, default="npo", help="forget loss: ga (gradient ascent) or npo (default)")
    parser.add_argument("--npo-beta", type=float, default=0.1, help="NPO's β (default 0.1)")
    parser.add_argument("--retain-weight", type=float, default=1.0, help="weight of the retain cross-entropy (0: forget loss only)")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per document including BOS and EOS (longer ones are cut)")
    parser.add_argument("--epochs", type=int, default=1, help="passes over the forget set")
    parser.add_argument("--max-steps", type=int, help="optimiser steps (default: --epochs passes over the forget set)")
    parser.add_argument("--batch-size", type=int, default=8, help="forget documents per optimiser step (all processes)")
    parser.add_argument("--retain-batch-size", type=int, help="retain documents per optimiser step (default --batch-size)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimiser step in each process")
    parser.add_argument("--lr", type=float, default=5e-5, help="peak learning rate")
    parser.add_argument("--min-lr-ratio", type=float, default=0.1, help="the cosine decay ends at this share of --lr")
    parser.add_argument("--warmup-ratio", type=float, default=0.05, help="share of the steps spent warming up linearly")
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="AdamW decay on matrices (default 0: decay pulls S′ towards zero, not towards S₀)")
    parser.add_argument("--max-grad-norm", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--save-steps", type=int, default=100, help="write checkpoint.pt every N optimiser steps (and at the end)")
    parser.add_argument("--stop-after-steps", type=int, help="write the checkpoint and stop once this many optimiser steps are done "
                        "(a later run without it continues)")
    parser.add_argument("--log-steps", type=int, default=10)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads per process (0 = torch default)")
    parser.add_argument("--overwrite", action="store_true", help="start over even if --output holds a checkpoint")


# --- the combined model --------------------------------------------------------------------------

def load_frozen(directory: str) -> DecoderLM:
    """A model that is only read: evaluation mode, no parameter asks for a gradient."""
    if not os.path.exists(os.path.join(directory, "config.json")):
        raise SystemExit(f"unlearn-offset: {directory} holds no config.json (a Hugging Face model directory is needed)")
    model = load_pretrained(directory)
    model.requires_grad_(False)
    return model.eval()


def check_vocabularies(base: DecoderLM, small: DecoderLM, base_name: str = "--base", small_name: str = "--small") -> None:
    """The offset adds logits token by token, so both models must score the same vocabulary."""
    if base.config.vocab_size != small.config.vocab_size:
        raise SystemExit(f"unlearn-offset: the base model {base_name} has a vocabulary of {base.config.vocab_size} ids and "
                         f"the small model {small_name} one of {small.config.vocab_size}: the offset ℓ_B + α(ℓ_S′ − ℓ_S₀) "
                         "needs models that share one vocabulary")


def token_table(directory: str) -> Optional[Dict[str, Any]]:
    """The token-to-id table of a directory's ``tokenizer.json`` (its model's vocabulary and the added tokens)."""
    path = os.path.join(directory, "tokenizer.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    model = data.get("model") or {}
    return {"vocab": model.get("vocab"), "added": sorted((t.get("id"), t.get("content")) for t in data.get("added_tokens") or [])}


def check_tokenizers(base_dir: str, small_dir: str) -> None:
    """Equal vocabulary sizes are not enough: id i must be the same token for B and S₀, or the offset moves another
    token's logit. Checked when both directories carry a tokenizer."""
    base, small = token_table(base_dir), token_table(small_dir)
    if base is not None and small is not None and base != small:
        raise SystemExit(f"unlearn-offset: the tokenizers of {base_dir} and {small_dir} map tokens to different ids: "
                         "the offset ℓ_B + α(ℓ_S′ − ℓ_S₀) needs models that share one tokenizer")


def offset_logits(base: torch.Tensor, small: torch.Tensor, reference: torch.Tensor, alpha: float) -> torch.Tensor:
    """``ℓ_B + α·(ℓ_S′ − ℓ_S₀)``, the difference first, so S′ = S₀ (or α = 0) gives ℓ_B exactly."""
    # The runtime's combiner skips a zero offset so that a −0 logit stays −0; here adding the zero is kept, because
    # a torch.where on "difference == 0" would block every gradient at the start, where S′ = S₀ makes all of them 0.
    # −0 + 0 = +0 is the only change that addition makes, and the two compare equal.
    return base + alpha * (small - reference)


class OffsetLM(nn.Module):
    """B, S′ and S₀ as one causal LM whose logits are ``offset_logits``; only ``small`` (S′) is trained."""

    def __init__(self, base: DecoderLM, small: DecoderLM, reference: DecoderLM, alpha: float) -> None:
        super().__init__()
        check_vocabularies(base, reference)
        self.base, self.small, self.reference, self.alpha = base, small, reference, alpha

    def logits(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               small: Optional[nn.Module] = None) -> Tuple[torch.Tensor, torch.Tensor]:
        """The combined logits and B's (the NPO reference); ``small`` stands in for S′ (its DDP wrapper)."""
        with torch.no_grad():
            base = self.base(input_ids, attention_mask=attention_mask)
            reference = self.reference(input_ids, attention_mask=attention_mask)
        trained = (small or self.small)(input_ids, attention_mask=attention_mask)
        return offset_logits(base, trained, reference, self.alpha), base

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.logits(input_ids, attention_mask)[0]

    def train(self, mode: bool = True) -> "OffsetLM":
        # Only S′ changes mode: B and S₀ are read as they are.
        self.small.train(mode)
        return self


# --- losses --------------------------------------------------------------------------------------

def sequence_log_probs(logits: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each row's log-probability of its own next tokens, summed over its real positions (the padding left out)."""
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return torch.where(mask[:, 1:].bool(), log_probs, torch.zeros_like(log_probs)).sum(dim=1)


def npo_losses(policy: torch.Tensor, reference: torch.Tensor, beta: float) -> torch.Tensor:
    """``(2/β)·log(1 + (π_θ/π_ref)^β)`` per sequence from the sequences' log-probabilities, as a softplus of the
    log-ratio: exp of a long sequence's log-ratio would overflow or vanish in float32."""
    return (2.0 / beta) * F.softplus(beta * (policy - reference))


def forget_loss_sum(loss: str, policy: torch.Tensor, reference: torch.Tensor, beta: float) -> torch.Tensor:
    """The forget term summed over the batch's sequences: GA's is the log-likelihood itself (its tokens' sum)."""
    if loss == "ga":
        return policy.sum()
    return npo_losses(policy, reference, beta).sum()


# --- data ----------------------------------------------------------------------------------------

def stream_batch(count: int, size: int, step: int, seed: int) -> List[int]:
    """Items ``[step·size, (step+1)·size)`` of an endless stream of seeded permutations of ``range(count)``."""
    out: List[int] = []
    position = step * size
    while len(out) < size:
        passes, offset = divmod(position + len(out), count)
        out.extend(epoch_order(count, seed, passes)[offset:offset + size - len(out)])
    return out


def texts_of(paths: Sequence[str], fields: Sequence[str], where: Sequence[str], extra: Sequence[str], flag: str) -> List[str]:
    """One side's texts: ``--where`` and that side's own filters together select its JSONL rows."""
    return read_texts(paths, fields, parse_where(list(where) + list(extra), flag))


# --- the run -------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    world = World()
    try:
        return _run(args, world)
    finally:
        world.close()


def _validate(args: argparse.Namespace, world: World) -> None:
    if not math.isfinite(args.alpha) or args.alpha == 0.0:
        raise SystemExit(f"unlearn-offset: --alpha {args.alpha} must be finite and not 0 (α = 0 leaves S′ out of the logits)")
    if not args.npo_beta > 0.0:
        raise SystemExit(f"unlearn-offset: --npo-beta {args.npo_beta} must be positive")
    if not args.retain_weight >= 0.0:
        raise SystemExit(f"unlearn-offset: --retain-weight {args.retain_weight} must be 0 or more")
    if args.retain_weight > 0.0 and not args.retain:
        raise SystemExit("unlearn-offset: --retain-weight > 0 needs --retain files (or --retain-weight 0)")
    for flag, size in (("--batch-size", args.batch_size), ("--retain-batch-size", args.retain_batch_size)):
        if size % (world.size * args.grad_accum):
            raise SystemExit(f"unlearn-offset: {flag} {size} must be divisible by processes x --grad-accum "
                             f"({world.size} x {args.grad_accum})")


def _run(args: argparse.Namespace, world: World) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.retain_batch_size is None:
        args.retain_batch_size = args.batch_size
    if args.retain_weight == 0.0 and not args.retain:
        args.retain_batch_size = 0
    _validate(args, world)
    seed_everything(args.seed)
    started = time.monotonic()

    base, reference = load_frozen(args.base), load_frozen(args.small)
    check_vocabularies(base, reference, args.base, args.small)
    check_tokenizers(args.base, args.small)
    small = load_pretrained(args.small).train()
    offset = OffsetLM(base, small, reference, args.alpha)
    tokenizer_dir = args.tokenizer or (args.small if os.path.exists(os.path.join(args.small, "tokenizer.json")) else args.base)
    tokenizer = DecoderTokenizer.load(tokenizer_dir)
    if tokenizer.vocab_size > base.config.vocab_size:
        raise SystemExit(f"unlearn-offset: the tokenizer ({tokenizer_dir}) has {tokenizer.vocab_size} ids, the models "
                         f"{base.config.vocab_size} logits")
    context = min(base.config.context, small.config.context)
    if args.max_length > context:
        raise SystemExit(f"unlearn-offset: --max-length {args.max_length} exceeds the models' context of {context}")

    fields = parse_fields(args.text_fields)
    forget = documents(texts_of(args.forget, fields, args.where, args.forget_where, "--forget-where"), tokenizer,
                       args.max_length, "forget")
    retain = documents(texts_of(args.retain, fields, args.where, args.retain_where, "--retain-where"), tokenizer,
                       args.max_length, "retain") if args.retain else []
    dev = documents(read_texts(args.dev, fields, parse_where(args.where)), tokenizer, args.max_length, "dev") if args.dev else []
    if len(forget) < args.batch_size:
        raise SystemExit(f"unlearn-offset: {len(forget)} forget documents, fewer than one batch of {args.batch_size} "
                         "(check --forget, --text-fields and --where, or lower --batch-size)")
    if len(retain) < args.retain_batch_size:
        raise SystemExit(f"unlearn-offset: {len(retain)} retain documents, fewer than one batch of {args.retain_batch_size} "
                         "(check --retain, --text-fields and --where, or lower --retain-batch-size)")
    facts = None
    if args.eval_facts:
        from .facts_world import read_facts
        facts = read_facts(args.eval_facts)
    pad_id = tokenizer.eos_id if tokenizer.eos_id is not None else 0

    total_steps = args.max_steps or math.ceil(args.epochs * len(forget) / args.batch_size)
    optimizer, scheduler = optimizer_and_schedule(small, args, total_steps)
    checkpoint_path = os.path.join(args.output, CHECKPOINT)
    state: Dict[str, Any] = resume_or_start(args.output, CHECKPOINT, small, optimizer, scheduler,
                                            {"epoch": 0, "global_step": 0, "before": {}}, args.overwrite, world.main,
                                            "unlearn-offset")

    ddp_small: nn.Module = small
    if world.distributed:
        ddp_small = torch.nn.parallel.DistributedDataParallel(small)
    log = JsonlAppender(os.path.join(args.output, "log.jsonl")) if world.main else None

    def measure(when: str) -> Dict[str, Any]:
        """The combined model's losses and recall (main process only)."""
        record: Dict[str, Any] = {"event": "eval", "when": when, "step": state["global_step"]}
        for name, docs in (("forget", forget), ("retain", retain), ("dev", dev)):
            if docs:
                record.update({f"{name}_{k}": v for k, v in evaluate(offset, docs, args.eval_batch_size, pad_id).items()})
        if facts is not None:
            from .facts_world import fact_recall
            from .logits_processing import Combiner
            result = fact_recall([base, small, reference], tokenizer, facts, Combiner("offset", alpha=args.alpha),
                                 label=f"recall {when}")
            record["recall"] = {split: entry["recall"] for split, entry in result["splits"].items()}
            record["answers"] = result["answers"]
        return record

    if world.main and state["global_step"] == 0:
        log.write({"event": "start", "forget": len(forget), "retain": len(retain), "dev": len(dev), "steps": total_steps,
                   "trained_parameters": sum(p.numel() for p in small.parameters()), "processes": world.size,
                   "args": vars(args)})
        state["before"] = measure("before")
        log.write({k: v for k, v in state["before"].items() if k != "answers"})
    world.barrier()

    def save_checkpoint() -> None:
        if not world.main:
            return
        tmp = checkpoint_path + ".tmp"
        torch.save({"model": small.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng_state(), "state": state}, tmp)
        os.replace(tmp, checkpoint_path)

    forget_micro = args.batch_size // (world.size * args.grad_accum)
    retain_micro = args.retain_batch_size // (world.size * args.grad_accum)
    running: Dict[str, float] = {}
    stopped = False
    with Progress("unlearning", total_steps) as bar:
        bar.update(state["global_step"])
        while state["global_step"] < total_steps:
            if args.stop_after_steps and state["global_step"] >= args.stop_after_steps:
                stopped = True
                break
            step = state["global_step"]
            forget_batch = [forget[i] for i in stream_batch(len(forget), args.batch_size, step, args.seed)]
            retain_batch = ([retain[i] for i in stream_batch(len(retain), args.retain_batch_size, step, args.seed + 1)]
                            if args.retain_batch_size else [])
            sums = train_step(offset, ddp_small, forget_batch, retain_batch, world, args, forget_micro, retain_micro, pad_id)
            if args.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(small.parameters(), args.max_grad_norm)
            optimizer.step()
            scheduler.step()
            state["global_step"] += 1
            state["epoch"] = state["global_step"] * args.batch_size // len(forget)
            for key, value in sums.items():
                running[key] = running.get(key, 0.0) + value
            running["steps"] = running.get("steps", 0.0) + 1
            bar.update()
            if world.main and (state["global_step"] % args.log_steps == 0 or state["global_step"] == total_steps):
                n = running.pop("steps")
                log.write({"event": "step", "step": state["global_step"], **{k: v / n for k, v in running.items()},
                           "lr": scheduler.get_last_lr()[0]})
                running = {}
            if state["global_step"] % args.save_steps == 0:
                save_checkpoint()
    save_checkpoint()
    world.barrier()

    if not world.main:
        return 0
    seconds = time.monotonic() - started
    if stopped:
        print(summary("unlearn-offset", stopped_at=state["global_step"], steps=total_steps, seconds=seconds))
        log.close()
        return 0
    after = measure("after")
    log.write({k: v for k, v in after.items() if k != "answers"})
    save_pretrained(args.output, small)
    copy_tokenizer_files(tokenizer_dir, args.output)
    with open(os.path.join(args.output, "offset.json"), "w", encoding="utf-8") as f:
        json.dump({"base": os.path.abspath(args.base), "small": os.path.abspath(args.small), "alpha": args.alpha,
                   "loss": args.loss, "npo_beta": args.npo_beta, "retain_weight": args.retain_weight,
                   "steps": state["global_step"]}, f, indent=2)
        f.write("\n")
    before = state["before"]
    if facts is not None:
        with open(os.path.join(args.output, "facts_recall.json"), "w", encoding="utf-8") as f:
            json.dump({"before": before.get("recall"), "after": after["recall"], "answers_before": before.get("answers"),
                       "answers_after": after["answers"]}, f, indent=2)
            f.write("\n")
    log.write({"event": "end", "steps": state["global_step"], "seconds": seconds})
    log.close()
    changes = {f"{k}_before": before[k] for k in ("forget_loss", "retain_loss") if k in before}
    changes.update({f"{k}_after": after[k] for k in ("forget_loss", "retain_loss") if k in after})
    if facts is not None:
        changes.update({f"recall_{s}_{w}": r["recall"].get(s) for w, r in (("before", before), ("after", after))
                        for s in ("forget", "retain") if s in r["recall"]})
    print(summary("unlearn-offset", steps=state["global_step"], **changes, seconds=seconds))
    return 0


def train_step(offset: OffsetLM, small: nn.Module, forget_batch: Sequence[Document], retain_batch: Sequence[Document],
               world: World, args: argparse.Namespace, forget_micro: int, retain_micro: int, pad_id: int) -> Dict[str, float]:
    """Accumulates one optimiser step's gradients into S′; returns the global batch's loss and per-token NLLs."""
    forget_tokens, retain_tokens = predicted_tokens(forget_batch), predicted_tokens(retain_batch)
    # GA averages over the forget tokens, NPO over the forget documents (its unit is a sequence's probability).
    forget_denominator = forget_tokens if args.loss == "ga" else len(forget_batch)
    forget_share = forget_batch[world.rank * len(forget_batch) // world.size:(world.rank + 1) * len(forget_batch) // world.size]
    retain_share = retain_batch[world.rank * len(retain_batch) // world.size:(world.rank + 1) * len(retain_batch) // world.size]
    small.zero_grad(set_to_none=True)
    totals = torch.zeros(4, dtype=torch.float64)  # loss, forget term, forget NLL, retain NLL (sums)
    for k in range(args.grad_accum):
        forget_part = forget_share[k * forget_micro:(k + 1) * forget_micro]
        retain_part = retain_share[k * retain_micro:(k + 1) * retain_micro]
        # One forward per model over both sets: forget rows first, then retain rows.
        ids, mask = pad(list(forget_part) + list(retain_part), pad_id)
        combined, base = offset.logits(ids, mask, small=small)
        policy = sequence_log_probs(combined, ids, mask)
        n = len(forget_part)
        with torch.no_grad():
            reference = sequence_log_probs(base[:n], ids[:n], mask[:n])
        forget_term = forget_loss_sum(args.loss, policy[:n], reference, args.npo_beta)
        retain_nll = -policy[n:].sum()
        loss = forget_term / forget_denominator
        if retain_tokens:
            loss = loss + args.retain_weight * retain_nll / retain_tokens
        # DDP averages gradients over processes: scale up by their count to get the global batch's mean.
        scaled = loss * world.size
        if world.distributed and k < args.grad_accum - 1:
            with small.no_sync():  # type: ignore[attr-defined]
                scaled.backward()
        else:
            scaled.backward()
        totals += torch.tensor([float(loss), float(forget_term), float(-policy[:n].sum()), float(retain_nll)],
                               dtype=torch.float64)
    if world.distributed:
        torch.distributed.all_reduce(totals)
    return {"loss": float(totals[0]), "forget_term": float(totals[1]) / forget_denominator,
            "forget_nll": float(totals[2]) / forget_tokens,
            **({"retain_nll": float(totals[3]) / retain_tokens} if retain_tokens else {})}
