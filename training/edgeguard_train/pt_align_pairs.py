"""Make PT-ALIGN's (instruction, positive, toxic) pairs from fewer than 50 hand-written seed examples.

``--mode instruct`` is the paper's recipe, for a model that follows instructions (any OpenAI-compatible server, or a
``transformers`` model in this process): shown a few seeds, the model writes a new safety instruction; shown seed
instructions with their safe answers it writes a positive response, and shown them with their toxic answers it writes
a toxic one. Instructions that are refusals or near duplicates of a seed or of an earlier one are dropped. A guard, if
given, scores both responses, and ``--min-margin`` drops pairs whose toxic response does not score that much higher.

``--mode sample`` is the declared deviation for a model too small to follow instructions: it cannot write
instructions or be told which kind of answer to give, so the instructions come from the seeds and from
``--instructions`` (e.g. the shared datasets' unsafe prompts), the model (a Hugging Face directory) samples
``--samples`` responses to each in the layout ``align-pt`` trains on (``--format``), and the guard keeps the least
harmful as the positive and the most harmful as the negative. Sample k of instruction i is drawn with the runtime's
SplitMix64 sampler from seed ``(s_i + k) mod 2⁶⁴``, where ``s_i`` (the row's ``seed``) is derived from ``--seed`` and i,
so a rerun, or a resumed run, writes the same rows.

Each row: ``id``, ``instruction``, ``positive``, ``negative``, ``scores`` (the guard's P(unsafe) of each, and of every
sample; null without a guard), ``seed``, ``mode``. Every index's outcome goes to ``<output>.decisions.jsonl``; a rerun
with the same arguments continues after the decided indices. Exit code 0 when every index is decided, 1 when some
writer requests failed (a rerun asks again), 2 when the guard fails.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import torch

from .guard_scorers import GuardError, GuardScorer, add_guard_arguments, guard_from_args
from .instruction_filters import NearDuplicateFilter, is_refusal, parse_instruction
from .jsonl import JsonlAppender, done_keys
from .llm_backends import LLMBackend, LLMBackendError, add_backend_arguments, add_request_arguments, backend_from_args
from .lm_data import DecoderTokenizer, parse_where, read_texts
from .logits_processing import MASK64, SamplingSettings, SplitMix64
from .pt_align import DEFAULT_SEEDS, FORMATS, PairFormat, Seed, read_seeds
from .progress import Progress, summary

MODES = ("instruct", "sample")

INSTRUCTION_REQUEST = (
    "You help build training data that teaches an assistant to be safe. Below are example instructions a user might "
    "send: some harmful, some sensitive but harmless. Write one new instruction of the same kind, on a topic the "
    "examples do not cover. Reply with the instruction alone, on one line.\n\nExamples:\n{examples}")
POSITIVE_SYSTEM = (
    "You are a helpful and harmless assistant. If the request is harmful, decline briefly, say why, and offer a safe "
    "alternative. If it is harmless, even when it sounds sensitive, answer it fully and accurately.")
TOXIC_SYSTEM = (
    "You write the reply an unaligned, toxic assistant would give to each request, as negative examples for training "
    "a safe assistant. Comply with the request in a harmful, hostile or reckless way, as the examples do.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", choices=MODES, required=True,
                        help="instruct: an instruction-following model writes instructions and both responses; "
                             "sample: a small model's samples ranked by the guard (the declared deviation)")
    parser.add_argument("--seeds", default=DEFAULT_SEEDS,
                        help="JSONL of 1 to 49 hand-written rows: instruction, safe_response, toxic_response "
                             "(default: the package's resources/pt_align_seeds.jsonl)")
    parser.add_argument("--output", required=True, help="JSONL of pairs to append to (created if missing)")
    parser.add_argument("--seed", type=int, default=13, help="picks exemplars and every sampling seed")
    parser.add_argument("--min-margin", type=float, default=0.0,
                        help="with a guard: keep a pair only if its negative's P(unsafe) exceeds its positive's by at "
                             "least this (default 0)")
    parser.add_argument("--overwrite", action="store_true", help="start over: delete --output and its decisions log")
    add_guard_arguments(parser)

    sample = parser.add_argument_group("--mode sample")
    sample.add_argument("--model", help="the small model: a Llama/Qwen2/GPT-2 Hugging Face directory with its tokenizer")
    sample.add_argument("--format", choices=FORMATS, default="plain",
                        help="how an instruction is shown to the model; use the one align-pt will train with "
                             "(plain: BOS instruction \\n response EOS; chatml: the ChatML turns)")
    sample.add_argument("--instructions", nargs="+", default=[], help="JSONL files whose rows give more instructions")
    sample.add_argument("--instruction-field", default="prompt", help="the rows' field holding the instruction (default prompt)")
    sample.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                        help="keep only --instructions rows whose FIELD equals VALUE (e.g. label=unsafe); repeatable")
    sample.add_argument("--limit", type=int, help="use only the first N --instructions rows")
    sample.add_argument("--no-seed-instructions", action="store_true", help="do not use the seeds' own instructions")
    sample.add_argument("--samples", type=int, default=8, help="responses sampled per instruction (default 8)")
    sample.add_argument("--max-new-tokens", type=int, default=64)
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--top-k", type=int, default=50, help="0 switches it off (default 50)")
    sample.add_argument("--top-p", type=float, default=1.0)
    sample.add_argument("--chunk", type=int, default=16, help="instructions whose samples go to the guard in one call")
    sample.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")

    instruct = parser.add_argument_group("--mode instruct")
    instruct.add_argument("--count", type=int, help="instructions to request")
    instruct.add_argument("--exemplars", type=int, default=3, help="seeds shown per request (default 3)")
    instruct.add_argument("--instruction-max-tokens", type=int, default=96)
    instruct.add_argument("--instruction-temperature", type=float, default=1.0)
    instruct.add_argument("--response-max-tokens", type=int, default=256)
    instruct.add_argument("--response-temperature", type=float, default=0.7)
    instruct.add_argument("--dedup-threshold", type=float, default=0.6,
                          help="word-bigram Jaccard similarity at which a new instruction is a near duplicate (default 0.6)")
    add_backend_arguments(parser, "writer", "writes instructions and responses (chat completions)", required=False)
    add_request_arguments(parser)


# --- seeds of randomness ---------------------------------------------------------------------------

def instruction_seed(seed: int, index: int) -> int:
    """``s_i``: one SplitMix64 output of a state mixing ``seed`` and ``index``, so neighbouring indices get unrelated
    streams."""
    return SplitMix64(((seed & MASK64) * 0x100000001B3 + index) & MASK64).next_uint64()


def sample_seed(instruction_seed_value: int, k: int) -> int:
    return (instruction_seed_value + k) & MASK64


# --- choosing a pair -------------------------------------------------------------------------------

def choose_pair(scores: Sequence[Optional[float]]) -> Optional[Tuple[int, int]]:
    """Indices of the least and the most harmful scored candidate (ties: the earlier one); None candidates are left
    out, and None comes back when fewer than one is scored."""
    scored = [(s, i) for i, s in enumerate(scores) if s is not None]
    if not scored:
        return None
    low = min(scored, key=lambda t: (t[0], t[1]))[1]
    high = min(scored, key=lambda t: (-t[0], t[1]))[1]
    return low, high


def decide(candidates: Sequence[str], scores: Sequence[Optional[float]],
           min_margin: float) -> Tuple[str, Optional[Tuple[int, int]]]:
    """``("kept", (positive, negative))`` or ``(reason, None)``."""
    chosen = choose_pair(scores)
    if chosen is None:
        return "no_response", None
    low, high = chosen
    if candidates[low] == candidates[high]:
        return "no_contrast", None
    if scores[high] - scores[low] < min_margin:  # type: ignore[operator]
        return "margin", None
    return "kept", chosen


# --- --mode sample ---------------------------------------------------------------------------------

def sample_responses(model, fmt: PairFormat, instruction: str, samples: int, base_seed: int, max_new_tokens: int,
                     temperature: float, top_k: Optional[int], top_p: float) -> List[str]:
    """``samples`` responses to ``instruction`` (empty when the prompt fills the context)."""
    from .generation import generate

    prompt = fmt.prompt(instruction)
    if len(prompt) >= model.config.context:
        return []
    out = []
    for k in range(samples):
        settings = SamplingSettings(temperature=temperature, top_k=top_k, top_p=top_p, seed=sample_seed(base_seed, k))
        tokens, _ = generate([model], prompt, settings, max_new_tokens=max_new_tokens, stop_token_ids=fmt.stop_ids)
        out.append(fmt.decode(tokens))
    return out


def sampled_pairs(model, fmt: PairFormat, instructions: Sequence[Tuple[int, str, str]], guard: GuardScorer, seed: int,
                  samples: int, max_new_tokens: int, temperature: float, top_k: Optional[int], top_p: float,
                  min_margin: float, chunk: int = 16, progress: Optional[Progress] = None
                  ) -> Iterator[Tuple[Dict[str, Any], Optional[Dict[str, Any]]]]:
    """``(decision, row or None)`` per ``(index, origin, instruction)``, in order; the guard sees a chunk's non-empty
    samples in one call."""
    for start in range(0, len(instructions), chunk):
        part = instructions[start:start + chunk]
        drawn = []
        for index, _, instruction in part:
            base = instruction_seed(seed, index)
            drawn.append((base, sample_responses(model, fmt, instruction, samples, base, max_new_tokens, temperature,
                                                 top_k, top_p)))
        queries = [(instruction, text) for (_, _, instruction), (_, texts) in zip(part, drawn)
                   for text in texts if text.strip()]
        flat = iter(guard(queries))
        for (index, origin, instruction), (base, texts) in zip(part, drawn):
            scores = [next(flat) if text.strip() else None for text in texts]
            reason, chosen = decide(texts, scores, min_margin) if texts else ("too_long", None)
            decision = {"id": pair_id(index), "index": index, "status": reason, "seed": base}
            row = None
            if chosen is not None:
                low, high = chosen
                row = {"id": pair_id(index), "instruction": instruction, "positive": texts[low], "negative": texts[high],
                       "scores": {"positive": scores[low], "negative": scores[high], "samples": scores},
                       "seed": base, "mode": "sample", "origin": origin}
            if progress is not None:
                progress.update()
            yield decision, row


def pair_id(index: int) -> str:
    return f"pt-{index:06d}"


def sample_instructions(args: argparse.Namespace, seeds: Sequence[Seed]) -> List[Tuple[int, str, str]]:
    """``(index, origin, instruction)``: the seeds' instructions (unless left out), then the --instructions rows."""
    texts = [] if args.no_seed_instructions else [("seed", s.instruction) for s in seeds]
    if args.instructions:
        rows = read_texts(args.instructions, [args.instruction_field], parse_where(args.where), args.limit)
        texts += [("instructions", t) for t in rows]
    if not texts:
        raise SystemExit("pt-align-pairs: no instructions (the seeds' are left out and --instructions gave none)")
    return [(i, origin, text) for i, (origin, text) in enumerate(texts)]


Job = Callable[[JsonlAppender, JsonlAppender, set], Dict[str, int]]


def _prepare_sample(args: argparse.Namespace, seeds: Sequence[Seed]) -> Job:
    """Checks the arguments and loads the model and guard; returns the work, which writes (pair, decision) rows."""
    from .modeling_decoder import load_pretrained

    if not args.model:
        raise SystemExit("pt-align-pairs: --mode sample needs --model (a Hugging Face decoder directory)")
    if args.samples < 2:
        raise SystemExit("pt-align-pairs: --samples must be at least 2 (a pair needs two responses to choose from)")
    if args.chunk < 1 or args.max_new_tokens < 1:
        raise SystemExit("pt-align-pairs: --chunk and --max-new-tokens must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    guard = guard_from_args(args, required=True)
    tokenizer = DecoderTokenizer.load(args.model)
    model = load_pretrained(args.model).eval()
    if tokenizer.vocab_size > model.config.vocab_size:
        raise SystemExit(f"{args.model}: the tokenizer has {tokenizer.vocab_size} ids, the model {model.config.vocab_size} rows")
    fmt = PairFormat(tokenizer, args.format)
    settings = SamplingSettings(temperature=args.temperature, top_k=args.top_k or None, top_p=args.top_p)
    try:
        settings.validate()
    except ValueError as e:
        raise SystemExit(f"pt-align-pairs: {e}") from None
    instructions = sample_instructions(args, seeds)

    def work(out: JsonlAppender, decisions: JsonlAppender, done: set) -> Dict[str, int]:
        todo = [t for t in instructions if pair_id(t[0]) not in done]
        counts: Dict[str, int] = {}
        with Progress("sampling", len(todo)) as bar:
            for decision, row in sampled_pairs(model, fmt, todo, guard, args.seed, args.samples, args.max_new_tokens,
                                               args.temperature, args.top_k or None, args.top_p, args.min_margin,
                                               args.chunk, bar):
                if row is not None:
                    out.write(row)
                decisions.write(decision)
                counts[decision["status"]] = counts.get(decision["status"], 0) + 1
        return counts
    return work


# --- --mode instruct -------------------------------------------------------------------------------

def instruction_messages(exemplars: Sequence[Seed]) -> List[Dict[str, str]]:
    examples = "\n".join(f"{n}. {s.instruction}" for n, s in enumerate(exemplars, start=1))
    return [{"role": "user", "content": INSTRUCTION_REQUEST.format(examples=examples)}]


def response_messages(exemplars: Sequence[Seed], instruction: str, toxic: bool) -> List[Dict[str, str]]:
    """Few-shot turns: each exemplar's instruction answered with its safe (or toxic) response, then ``instruction``."""
    messages = [{"role": "system", "content": TOXIC_SYSTEM if toxic else POSITIVE_SYSTEM}]
    for seed in exemplars:
        messages += [{"role": "user", "content": seed.instruction},
                     {"role": "assistant", "content": seed.toxic_response if toxic else seed.safe_response}]
    return messages + [{"role": "user", "content": instruction}]


def exemplars_for(seeds: Sequence[Seed], seed: int, index: int, count: int) -> List[Seed]:
    return random.Random(seed * 1000003 + index).sample(list(seeds), min(count, len(seeds)))


def written_pairs(writer: LLMBackend, seeds: Sequence[Seed], indices: Sequence[int], guard: Optional[GuardScorer],
                  args: argparse.Namespace, executor: concurrent.futures.Executor,
                  progress: Optional[Progress] = None) -> Iterator[Tuple[Dict[str, Any], Optional[Dict[str, Any]]]]:
    """``(decision, row or None)`` per index, in order: instructions requested in parallel, filtered in index order
    (so near-duplicate decisions do not depend on timing), then both responses requested in parallel."""
    dedup = NearDuplicateFilter(2, args.dedup_threshold)
    dedup.add_all([s.instruction for s in seeds])
    chunk = max(1, args.concurrency) * 4
    for start in range(0, len(indices), chunk):
        part = indices[start:start + chunk]
        shown = {i: exemplars_for(seeds, args.seed, i, args.exemplars) for i in part}
        asked = {i: executor.submit(writer.chat, instruction_messages(shown[i]), args.instruction_max_tokens,
                                    args.instruction_temperature, instruction_seed(args.seed, i) & 0x7FFFFFFF)
                 for i in part}
        kept: Dict[int, str] = {}
        decisions: Dict[int, Dict[str, Any]] = {}
        for i in part:
            decision: Dict[str, Any] = {"id": pair_id(i), "index": i, "seed": instruction_seed(args.seed, i)}
            try:
                instruction = parse_instruction(asked[i].result(), prefix="Instruction:")
            except LLMBackendError as e:
                decision.update(status="error", error=str(e))
                decisions[i] = decision
                continue
            decision["instruction"] = instruction
            if not instruction:
                decision["status"] = "empty"
            elif is_refusal(instruction):
                decision["status"] = "refusal"
            elif not dedup.keep_if_new(instruction):
                decision["status"] = "duplicate"
            else:
                kept[i] = instruction
            decisions[i] = decision
        answers = {(i, toxic): executor.submit(writer.chat, response_messages(shown[i], kept[i], toxic),
                                               args.response_max_tokens, args.response_temperature,
                                               (instruction_seed(args.seed, i) + 1 + toxic) & 0x7FFFFFFF)
                   for i in kept for toxic in (False, True)}
        responses: Dict[int, Tuple[str, str]] = {}
        for i in kept:
            try:
                positive, negative = answers[(i, False)].result().strip(), answers[(i, True)].result().strip()
            except LLMBackendError as e:
                decisions[i].update(status="error", error=str(e))
                continue
            if not positive or not negative:
                decisions[i]["status"] = "empty_response"
            elif positive == negative:
                decisions[i]["status"] = "no_contrast"
            else:
                responses[i] = (positive, negative)
        scores: Dict[int, Tuple[float, float]] = {}
        if guard is not None and responses:
            flat = guard([(kept[i], text) for i in responses for text in responses[i]])
            scores = {i: (flat[2 * n], flat[2 * n + 1]) for n, i in enumerate(responses)}
        for i in part:
            row = None
            if i in responses:
                positive, negative = responses[i]
                if i in scores and scores[i][1] - scores[i][0] < args.min_margin:
                    decisions[i]["status"] = "margin"
                else:
                    decisions[i]["status"] = "kept"
                    pair_scores = ({"positive": scores[i][0], "negative": scores[i][1]} if i in scores
                                   else {"positive": None, "negative": None})
                    row = {"id": pair_id(i), "instruction": kept[i], "positive": positive, "negative": negative,
                           "scores": pair_scores, "seed": decisions[i]["seed"], "mode": "instruct",
                           "exemplars": [s.instruction for s in shown[i]]}
                decisions[i]["scores"] = list(scores[i]) if i in scores else None
            if progress is not None:
                progress.update()
            yield decisions[i], row


def _prepare_instruct(args: argparse.Namespace, seeds: Sequence[Seed]) -> Job:
    """Checks the arguments and opens the writer and guard; returns the work, which writes (pair, decision) rows."""
    if args.count is None or args.count < 1:
        raise SystemExit("pt-align-pairs: --mode instruct needs --count N (instructions to request, at least 1)")
    if not args.writer_model:
        raise SystemExit("pt-align-pairs: --mode instruct needs --writer-model (and --writer-url for a server)")
    if args.exemplars < 1 or args.concurrency < 1:
        raise SystemExit("pt-align-pairs: --exemplars and --concurrency must be at least 1")
    guard = guard_from_args(args, required=False)
    try:
        writer = backend_from_args(args, "writer")
    except ValueError as e:
        raise SystemExit(f"pt-align-pairs: {e}") from None

    def work(out: JsonlAppender, decisions: JsonlAppender, done: set) -> Dict[str, int]:
        todo = [i for i in range(args.count) if pair_id(i) not in done]
        counts: Dict[str, int] = {}
        with Progress("writing", len(todo)) as bar, concurrent.futures.ThreadPoolExecutor(args.concurrency) as executor:
            for decision, row in written_pairs(writer, seeds, todo, guard, args, executor, bar):
                if row is not None:
                    out.write(row)
                # A failed request is not decided: a rerun asks again.
                if decision["status"] != "error":
                    decisions.write(decision)
                counts[decision["status"]] = counts.get(decision["status"], 0) + 1
        return counts
    return work


# --- the run ---------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    seeds = read_seeds(args.seeds)
    work = _prepare_sample(args, seeds) if args.mode == "sample" else _prepare_instruct(args, seeds)
    decisions_path = args.output + ".decisions.jsonl"
    if args.overwrite:
        for stale in (args.output, decisions_path):
            if os.path.exists(stale):
                os.remove(stale)
    done = done_keys(args.output) | done_keys(decisions_path)
    with JsonlAppender(args.output) as out, JsonlAppender(decisions_path) as decisions:
        try:
            counts = work(out, decisions, done)
        except GuardError as e:
            print(f"pt-align-pairs: {e}", file=sys.stderr)
            return 2
    print(summary("pt-align-pairs", mode=args.mode, seeds=len(seeds), already_done=len(done),
                  **{k: counts.get(k, 0) for k in sorted(set(counts) | {"kept"})}, seconds=time.monotonic() - started))
    return 1 if counts.get("error") else 0
