"""PT-ALIGN: the loss against hand computations and at extreme probabilities, the penalised-token rules, λ = 0 as plain
MLE, a tiny model moving the right way, the pair maker's choices and determinism with fake guards, the runtime CLI
guard adapter against a fake executable, and clear errors on bad input."""

import argparse
import hashlib
import json
import math
import shutil
import stat
import textwrap

import pytest
import torch
from torch.nn import functional as F

from conftest import REPO_ROOT
from edgeguard_train.__main__ import main
from edgeguard_train.align_pt import evaluate
from edgeguard_train.distill import load_checkpoint
from edgeguard_train.guard_scorers import GuardError, RuntimeCliGuard, guard_from_args, parse_verdict_lines
from edgeguard_train.llm_backends import LLMBackend
from edgeguard_train.lm_data import DecoderTokenizer
from edgeguard_train.modeling_decoder import DecoderConfig, DecoderLM, load_pretrained, save_pretrained
from edgeguard_train.pt_align import (DEFAULT_SEEDS, MAX_SEEDS, Pair, PairFormat, batch_tensors,
                                      encode_pair, log1m_exp, loss_sums, penalised_positions, pt_align_loss,
                                      read_pairs, read_seeds)
from edgeguard_train.pt_align_pairs import (choose_pair, instruction_seed, sample_responses, sample_seed,
                                            sampled_pairs, written_pairs)

TOKENIZER = REPO_ROOT / "tests" / "data" / "tokenizers" / "edgeguard-bpe-small"
PAIRS = [
    ("how do I hurt him", "no, talk to someone instead", "hit him hard with a rock"),
    ("tell me about cats", "cats are small and like to sleep", "cats are stupid and you are too"),
    ("write a note to my neighbour", "hello, could we talk about the noise", "move out or we will hurt you"),
    ("how do I make a bomb", "no, that would hurt people", "mix the stuff and light it"),
    ("say something about dogs", "dogs are loyal and kind", "dogs are dirty and so are you"),
    ("what is the sun", "the sun is a hot star", "the sun is a lie you idiot"),
    ("help me with my exam", "read the notes and rest well", "you will fail, you are stupid"),
    ("how do I kill a process", "use kill with its id", "kill them all and laugh"),
]


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def model_dir(tmp_path):
    torch.manual_seed(3)
    config = DecoderConfig.from_dict({"model_type": "llama", "vocab_size": 512, "hidden_size": 32, "intermediate_size": 64,
                                      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                                      "max_position_embeddings": 64, "tie_word_embeddings": True})
    model = DecoderLM(config)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.02)
    directory = tmp_path / "base"
    save_pretrained(str(directory), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER / name, directory / name)
    return directory


@pytest.fixture
def pairs_file(tmp_path):
    return _write_jsonl(tmp_path / "pairs.jsonl", [{"instruction": i, "positive": p, "negative": n} for i, p, n in PAIRS])


# --- the loss --------------------------------------------------------------------------------------

def test_loss_terms_equal_a_hand_computation_on_a_toy():
    # Two sequences of width 3 over a vocabulary of 3: row 0 the positive, row 1 the negative.
    logits = torch.tensor([[[1.0, 2.0, 0.5], [0.0, -1.0, 3.0], [0.0, 0.0, 0.0]],
                           [[2.0, 0.0, 1.0], [-2.0, 1.5, 0.5], [0.0, 0.0, 0.0]]])
    ids = torch.tensor([[0, 1, 2], [0, 2, 1]])
    positive = torch.tensor([[True, True], [False, False]])
    penalised = torch.tensor([[False, False], [False, True]])  # only the negative's last token

    def p(row, token):
        return math.exp(row[token]) / sum(math.exp(v) for v in row)

    nll = -math.log(p([1.0, 2.0, 0.5], 1)) - math.log(p([0.0, -1.0, 3.0], 2))
    p_negative = p([-2.0, 1.5, 0.5], 1)
    unlikelihood = -math.log(1.0 - p_negative)
    sums = loss_sums(logits, ids, positive, penalised)
    assert float(sums.positive_nll) == pytest.approx(nll, rel=1e-6)
    assert float(sums.unlikelihood) == pytest.approx(unlikelihood, rel=1e-12)
    assert float(sums.penalised_probability) == pytest.approx(p_negative, rel=1e-12)
    assert (sums.positive_tokens, sums.penalised_tokens) == (2, 1)
    loss = pt_align_loss(sums, 0.7, 2)
    assert float(loss) == pytest.approx((nll + 0.7 * unlikelihood) / 2, rel=1e-6)


@pytest.mark.parametrize("p", [1 - 1e-12, 1e-30, 0.5, 0.9, 1e-3])
def test_log_one_minus_p_is_accurate_and_its_gradient_finite(p):
    log_p = torch.tensor(math.log1p(-(1 - p)) if p > 0.5 else math.log(p), dtype=torch.float64, requires_grad=True)
    value = log1m_exp(log_p)
    value.backward()
    assert math.isfinite(float(value)) and math.isfinite(float(log_p.grad))
    assert float(value) == pytest.approx(math.log1p(-p) if p < 0.5 else math.log(1 - p), rel=1e-4)
    if p == 1e-30:
        assert float(value) != 0.0  # log1p keeps the tiny p; a naive log(1 - p) would give exactly 0


def test_unlikelihood_is_finite_when_the_model_is_certain_of_a_toxic_token():
    # p rounds to 1 in float32 and float64 (logit gap 60) and p is about 1e-30 (gap 69): both finite, with finite gradients.
    for row in ([60.0, 0.0, 0.0], [0.0, 69.0, 69.0]):
        logits = torch.tensor([[row, [0.0, 0.0, 0.0]]], requires_grad=True)
        sums = loss_sums(logits, torch.tensor([[1, 0]]), torch.tensor([[False]]), torch.tensor([[True]]))
        sums.unlikelihood.backward()
        assert math.isfinite(float(sums.unlikelihood))
        assert torch.isfinite(logits.grad).all()
    assert float(log1m_exp(torch.tensor(0.0, dtype=torch.float64))) == pytest.approx(math.log(1e-15), rel=1e-3)


def test_lambda_zero_is_exactly_the_mle_loss_and_ignores_the_negatives():
    torch.manual_seed(0)
    logits = torch.randn(4, 6, 11)
    ids = torch.randint(0, 11, (4, 6))
    positive = torch.zeros(4, 5, dtype=torch.bool)
    positive[0, 2:5] = positive[1, 1:3] = True
    penalised = torch.zeros(4, 5, dtype=torch.bool)
    penalised[2, 2:4] = penalised[3, 0] = True
    sums = loss_sums(logits, ids, positive, penalised)
    mle = F.cross_entropy(logits[:, :-1][positive], ids[:, 1:][positive], reduction="sum") / int(positive.sum())
    assert torch.equal(pt_align_loss(sums, 0.0, int(positive.sum())), mle)
    # Other negatives: λ = 0 does not move, λ = 1 does.
    other = logits.clone()
    other[2:] = torch.randn(2, 6, 11)
    changed = loss_sums(other, ids, positive, penalised)
    assert torch.equal(pt_align_loss(changed, 0.0, 5), pt_align_loss(sums, 0.0, 5))
    assert not torch.equal(pt_align_loss(changed, 1.0, 5), pt_align_loss(sums, 1.0, 5))


# --- which tokens are penalised --------------------------------------------------------------------

def test_absent_selects_the_negative_tokens_missing_from_the_positive():
    negative, positive = [5, 7, 9, 7, 11, 3], [7, 3, 5, 8]
    assert penalised_positions(negative, positive, "absent") == [2, 4]
    assert penalised_positions(negative, positive, "all") == [0, 1, 2, 3, 4, 5]
    assert penalised_positions([4, 4], [], "absent") == [0, 1]


def test_encoded_pair_places_the_penalised_positions_after_the_prompt_and_batches_them(model_dir):
    fmt = PairFormat(DecoderTokenizer.load(str(model_dir)), "plain")
    pair = Pair("say something about dogs", "dogs are loyal and kind", "dogs are dirty and so are you")
    encoded = encode_pair(pair, fmt, 64, "absent")
    prompt = fmt.prompt(pair.instruction)
    assert prompt[0] == fmt.tokenizer.bos_id and encoded.prompt_length == len(prompt)
    positive_response = fmt.response(pair.positive)
    negative_response = fmt.response(pair.negative)
    assert encoded.positive_ids == prompt + positive_response + [fmt.end_id]
    assert encoded.negative_ids == prompt + negative_response  # no end token: a toxic reply's end is not penalised
    expected = [len(prompt) + i for i, t in enumerate(negative_response) if t not in positive_response]
    assert encoded.penalised == expected and 0 < len(expected) < len(negative_response)  # "dogs are" is shared
    ids, mask, positive, penalised = batch_tensors([encoded], 0)
    # Position j predicts token j + 1: the masks pick exactly the response targets and the penalised negative tokens.
    assert ids[0, 1:][positive[0]].tolist() == positive_response + [fmt.end_id]
    assert ids[1, 1:][penalised[1]].tolist() == [encoded.negative_ids[i] for i in expected]
    assert not positive[1].any() and not penalised[0].any()
    assert encode_pair(pair, fmt, len(prompt), "all") is None  # no room for a response


def test_chatml_format_wraps_the_turns(model_dir):
    fmt = PairFormat(DecoderTokenizer.load(str(model_dir)), "chatml")
    vocab = fmt.tokenizer.bpe.vocab
    prompt = fmt.prompt("hi")
    assert prompt[0] == vocab["<|im_start|>"] and fmt.end_id == vocab["<|im_end|>"]
    assert fmt.tokenizer.bpe.decode(prompt) == "user\nhi\nassistant\n"  # special tokens are not decoded


# --- training ----------------------------------------------------------------------------------------

def _align(pairs, model_dir, output, *extra):
    argv = ["align-pt", "--pairs", str(pairs), "--dev", str(pairs), "--init-from", str(model_dir), "--output", str(output),
            "--max-length", "48", "--batch-size", "4", "--epochs", "4", "--lr", "3e-3", "--warmup-ratio", "0",
            "--threads", "1", "--log-steps", "1", "--save-steps", "3", *extra]
    assert main(argv) == 0
    return [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]


def _dev_metrics(model_dir, pairs, rule="absent"):
    fmt = PairFormat(DecoderTokenizer.load(str(model_dir)), "plain")
    encoded = [encode_pair(p, fmt, 48, rule) for p in read_pairs([str(pairs)])]
    return evaluate(load_pretrained(str(model_dir)), encoded, 8, 0)


def test_a_few_steps_lower_the_penalised_tokens_and_raise_the_positives(model_dir, pairs_file, tmp_path):
    # A toxic model first: MLE on the toxic responses, so their tokens are likely (at p ~ 1/vocabulary, as in a random
    # model, −log(1 − p) ~ p and the unlikelihood has almost nothing to push on).
    swapped = _write_jsonl(tmp_path / "swapped.jsonl", [{"instruction": i, "positive": n, "negative": p} for i, p, n in PAIRS])
    _align(swapped, model_dir, tmp_path / "toxic", "--unlikelihood-weight", "0", "--lr", "1e-2", "--epochs", "30")
    toxic = tmp_path / "toxic"
    before = _dev_metrics(toxic, pairs_file)
    events = _align(pairs_file, toxic, tmp_path / "aligned", "--unlikelihood-weight", "1")
    after = _dev_metrics(tmp_path / "aligned", pairs_file)
    assert after["positive_loss"] < before["positive_loss"] - 0.5
    assert after["penalised_probability"] < before["penalised_probability"]
    # The MLE-only control, same data and steps, also learns the positives, but pushes the toxic tokens down less.
    _align(pairs_file, toxic, tmp_path / "mle", "--unlikelihood-weight", "0")
    control = _dev_metrics(tmp_path / "mle", pairs_file)
    assert control["positive_loss"] < before["positive_loss"] - 0.5
    assert after["penalised_probability"] < control["penalised_probability"]
    assert after["penalised_unlikelihood"] < control["penalised_unlikelihood"]
    steps = [e for e in events if e["event"] == "step"]
    assert len(steps) == 8 and all(math.isfinite(e["unlikelihood"]) for e in steps)
    evals = [e for e in events if e["event"] == "eval"]
    assert evals[-1]["dev_positive_loss"] == pytest.approx(after["positive_loss"], rel=1e-6)


def test_stopped_run_resumes_to_the_same_weights(model_dir, pairs_file, tmp_path):
    _align(pairs_file, model_dir, tmp_path / "whole", "--penalised", "all")
    _align(pairs_file, model_dir, tmp_path / "parts", "--penalised", "all", "--stop-after-steps", "5")
    assert not (tmp_path / "parts" / "model.safetensors").exists()
    _align(pairs_file, model_dir, tmp_path / "parts", "--penalised", "all")
    whole = load_checkpoint(str(tmp_path / "whole" / "checkpoint.pt"))["model"]
    parts = load_checkpoint(str(tmp_path / "parts" / "checkpoint.pt"))["model"]
    assert all(torch.equal(whole[k], parts[k]) for k in whole)


def test_gpt2_with_chatml_turns_trains_and_saves(pairs_file, tmp_path):
    torch.manual_seed(4)
    model = DecoderLM(DecoderConfig.from_dict({"model_type": "gpt2", "vocab_size": 512, "n_embd": 24, "n_head": 3,
                                               "n_layer": 2, "n_positions": 64}))
    base = tmp_path / "gpt2"
    save_pretrained(str(base), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER / name, base / name)
    events = _align(pairs_file, base, tmp_path / "out", "--format", "chatml", "--penalised", "all", "--epochs", "1")
    assert [e["event"] for e in events] == ["start", "step", "step", "eval", "end"]
    assert all(math.isfinite(e["loss"]) and math.isfinite(e["unlikelihood"]) for e in events if e["event"] == "step")
    tuned, original = load_pretrained(str(tmp_path / "out")), load_pretrained(str(base))
    assert tuned.config.is_gpt2
    assert any(not torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), original.state_dict().values()))


# --- making pairs ------------------------------------------------------------------------------------

def _hash_score(text):
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF


def fake_guard(calls):
    def guard(pairs):
        calls.append(list(pairs))
        return [_hash_score(response) for _, response in pairs]
    return guard


def test_choose_pair_takes_the_lowest_and_highest_score_and_the_earlier_on_ties():
    assert choose_pair([0.4, 0.1, 0.9, 0.1, 0.9]) == (1, 2)
    assert choose_pair([None, 0.3, None]) == (1, 1)
    assert choose_pair([None, None]) is None


def test_sampled_pairs_pick_min_and_max_of_the_guard_and_repeat_per_seed(model_dir):
    model = load_pretrained(str(model_dir)).eval()
    fmt = PairFormat(DecoderTokenizer.load(str(model_dir)), "plain")
    instructions = [(0, "seed", "how do I hurt him"), (1, "seed", "tell me about cats"), (2, "seed", "what is the sun")]

    def make(seed):
        calls = []
        out = list(sampled_pairs(model, fmt, instructions, fake_guard(calls), seed, 4, 8, 1.0, None, 1.0, 0.0, chunk=2))
        return out, calls

    first, calls = make(7)
    assert [len(c) for c in calls] == [8, 4]  # one guard call per chunk of instructions, every sample scored
    for (index, _, instruction), (decision, row) in zip(instructions, first):
        samples = sample_responses(model, fmt, instruction, 4, instruction_seed(7, index), 8, 1.0, None, 1.0)
        scores = [_hash_score(s) for s in samples]
        assert decision["seed"] == instruction_seed(7, index)
        if row is None:
            assert decision["status"] == "no_contrast" and len(set(samples)) == 1
            continue
        assert row["positive"] == samples[scores.index(min(scores))]
        assert row["negative"] == samples[scores.index(max(scores))]
        assert row["scores"]["samples"] == scores
        assert row["scores"]["positive"] == min(scores) < row["scores"]["negative"] == max(scores)
    assert sum(row is not None for _, row in first) >= 2
    assert make(7)[0] == first
    assert make(8)[0] != first
    # Sample k of an instruction uses seed s_i + k: the first sample alone is the same with fewer samples.
    assert sample_responses(model, fmt, "what is the sun", 1, instruction_seed(7, 2), 8, 1.0, None, 1.0) == \
        sample_responses(model, fmt, "what is the sun", 4, instruction_seed(7, 2), 8, 1.0, None, 1.0)[:1]
    assert sample_seed(2**64 - 1, 1) == 0


FAKE_EDGEGUARD = textwrap.dedent("""\
    #!/usr/bin/python3
    # Prints the runtime's verdict lines for `classify --jsonl -`; the score is a hash of the response.
    import hashlib, json, sys
    args = sys.argv[1:]
    if args[:1] != ["classify"] or args[args.index("--jsonl") + 1] != "-" or "--model" not in args:
        print("edgeguard: unexpected arguments " + " ".join(args), file=sys.stderr)
        sys.exit(2)
    if "broken.gguf" in args:
        print("edgeguard: broken.gguf: not a model file", file=sys.stderr)
        sys.exit(2)
    flagged = False
    for number, line in enumerate(sys.stdin, start=1):
        row = json.loads(line)
        text = row.get("response") or ""
        if "REFUSE-ME" in text:
            print(json.dumps({"id": row["id"], "line": number, "error": "the prompt and response are empty", "model": "/m"}))
            continue
        score = int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
        flagged |= score >= 0.5
        print(json.dumps({"id": row["id"], "line": number, "flagged": score >= 0.5, "unsafe_score": score,
                          "label": "unsafe" if score >= 0.5 else "safe", "threshold": 0.5, "tokens": 9, "windows": 1,
                          "truncated": False, "model": "/m"}))
    sys.exit(1 if flagged else 0)
    """)


@pytest.fixture
def fake_edgeguard(tmp_path):
    path = tmp_path / "edgeguard"
    path.write_text(FAKE_EDGEGUARD, encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_cli_guard_reads_the_runtime_verdict_lines(fake_edgeguard):
    guard = RuntimeCliGuard(str(fake_edgeguard), "guard.gguf")
    texts = [("q", "a calm answer"), ("q", "a hostile answer"), ("q", "third")]
    assert guard(texts) == [_hash_score(r) for _, r in texts]  # exit code 1 (something flagged) is not an error
    assert guard([]) == []
    with pytest.raises(GuardError, match="input 1 was not classified"):
        guard([("q", "fine"), ("q", "REFUSE-ME")])
    with pytest.raises(GuardError, match="exited with 2: edgeguard: broken.gguf: not a model file"):
        RuntimeCliGuard(str(fake_edgeguard), "broken.gguf")([("q", "x")])


def test_torch_guard_scores_as_evaluate_does_with_windows(tiny_model_dir, tmp_path):
    from edgeguard_train.evaluate import evaluate_rows
    from edgeguard_train.guard_scorers import TorchGuard

    texts = [("how do I hurt him", "hit him hard " * 40), ("tell me about cats", "cats sleep a lot"),
             ("what is the sun", None)]
    data = _write_jsonl(tmp_path / "rows.jsonl", [{"prompt": p, "response": r, "label": "safe"} for p, r in texts])
    guard = TorchGuard(str(tiny_model_dir), max_length=32)
    scores = guard(texts)
    model, tokenizer = guard.model, guard.tokenizer
    expected = evaluate_rows(model, tokenizer, str(data), 32, windows="all")["scores"]
    assert scores == pytest.approx(expected, abs=1e-12) and len(scores) == 3
    assert all(0.0 <= s <= 1.0 for s in scores) and guard([]) == []


def test_verdict_parser_refuses_missing_repeated_and_malformed_lines():
    line = '{"id": %d, "line": %d, "flagged": false, "unsafe_score": %s, "label": "safe"}'
    assert parse_verdict_lines(line % (1, 2, "0.25") + "\n" + line % (0, 1, "0.75") + "\n", 2) == [0.75, 0.25]
    with pytest.raises(GuardError, match="no verdict for 1 of 2"):
        parse_verdict_lines(line % (0, 1, "0.5"), 2)
    with pytest.raises(GuardError, match="scored twice"):
        parse_verdict_lines(line % (0, 1, "0.5") + "\n" + line % (0, 2, "0.5"), 1)
    with pytest.raises(GuardError, match="not JSON"):
        parse_verdict_lines("FLAGGED label=unsafe", 1)
    with pytest.raises(GuardError, match=r"no unsafe_score in \[0, 1\]"):
        parse_verdict_lines(line % (0, 1, "1.5"), 1)
    with pytest.raises(GuardError, match="id 3, not one of the 0..0"):
        parse_verdict_lines(line % (3, 1, "0.5"), 1)


def test_sample_stage_with_the_cli_guard_writes_the_same_pairs_again_and_resumes(model_dir, fake_edgeguard, tmp_path):
    instructions = _write_jsonl(tmp_path / "prompts.jsonl", [
        {"prompt": "how do I hurt him", "label": "unsafe"}, {"prompt": "tell me about cats", "label": "safe"},
        {"prompt": "write a threat", "label": "unsafe"}])

    def stage(output, *extra):
        return main(["pt-align-pairs", "--mode", "sample", "--model", str(model_dir), "--instructions", str(instructions),
                     "--where", "label=unsafe", "--no-seed-instructions", "--samples", "3", "--max-new-tokens", "6",
                     "--guard-cli", str(fake_edgeguard), "--guard-model", "guard.gguf", "--output", str(output),
                     "--threads", "1", *extra])

    assert stage(tmp_path / "a.jsonl") == 0
    assert stage(tmp_path / "b.jsonl") == 0
    a = (tmp_path / "a.jsonl").read_text()
    assert a == (tmp_path / "b.jsonl").read_text() and a
    rows = [json.loads(line) for line in a.splitlines()]
    assert {r["instruction"] for r in rows} <= {"how do I hurt him", "write a threat"}
    for row in rows:
        assert set(row) >= {"instruction", "positive", "negative", "scores", "seed"}
        assert row["scores"]["positive"] == _hash_score(row["positive"]) <= row["scores"]["negative"]
    decisions = (tmp_path / "a.jsonl.decisions.jsonl").read_text().splitlines()
    assert len(decisions) == 2
    assert stage(tmp_path / "a.jsonl") == 0  # everything decided: nothing more written
    assert (tmp_path / "a.jsonl").read_text() == a
    assert len((tmp_path / "a.jsonl.decisions.jsonl").read_text().splitlines()) == 2


class ScriptedWriter(LLMBackend):
    """Answers chat requests from the last user message: a new instruction, a refusal, or the kind of response asked."""

    name = "scripted"

    def __init__(self):
        self.requests = 0

    def complete(self, prompt, max_tokens, temperature=0.0, stop=None, seed=None):
        raise AssertionError("the instruct mode uses chat")

    def chat(self, messages, max_tokens, temperature=0.0, seed=None):
        self.requests += 1
        last = messages[-1]["content"]
        if last.startswith("You help build"):
            replies = ["Instruction: How do I pick a lock on my neighbour's door?", "I'm sorry, I can't help with that.",
                       "How do I pick the lock on my neighbour's door?", "Write an insult about tall people."]
            return replies[seed % len(replies)] if seed is not None else replies[0]
        toxic = messages[0]["content"].startswith("You write the reply an unaligned")
        return f"{'TOXIC' if toxic else 'SAFE'} reply to: {last}"

    def unsafe_probability(self, prompt, response=None):
        raise AssertionError("not a teacher")


def test_instruct_mode_writes_instructions_and_both_responses_and_filters_refusals_and_duplicates():
    import concurrent.futures

    seeds = read_seeds(DEFAULT_SEEDS)
    args = argparse.Namespace(seed=1, exemplars=2, instruction_max_tokens=32, instruction_temperature=1.0,
                              response_max_tokens=32, response_temperature=0.7, dedup_threshold=0.6, concurrency=2,
                              min_margin=0.0)
    guard = lambda pairs: [0.9 if r.startswith("TOXIC") else 0.1 for _, r in pairs]  # noqa: E731
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        out = list(written_pairs(ScriptedWriter(), seeds, list(range(12)), guard, args, executor))
    statuses = [d["status"] for d, _ in out]
    assert set(statuses) <= {"kept", "refusal", "duplicate"} and "refusal" in statuses and "duplicate" in statuses
    rows = [r for _, r in out if r is not None]
    assert len(rows) == statuses.count("kept") >= 2
    assert len({r["instruction"] for r in rows}) == len(rows)  # near duplicates are dropped
    for row in rows:
        assert row["positive"] == f"SAFE reply to: {row['instruction']}"
        assert row["negative"] == f"TOXIC reply to: {row['instruction']}"
        assert row["scores"] == {"positive": 0.1, "negative": 0.9} and len(row["exemplars"]) == 2
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        assert list(written_pairs(ScriptedWriter(), seeds, list(range(12)), guard, args, executor)) == out


# --- bad input ---------------------------------------------------------------------------------------

def test_the_shipped_seeds_are_few_cover_harms_and_benign_sensitive_prompts():
    seeds = read_seeds(DEFAULT_SEEDS)
    assert 0 < len(seeds) <= MAX_SEEDS < 50
    categories = {s.category for s in seeds}
    assert {"hate", "violence", "self-harm", "fraud", "malware", "privacy", "misinformation",
            "benign-sensitive"} <= categories
    assert len({s.instruction for s in seeds}) == len(seeds)


def test_bad_input_gets_clear_errors(tmp_path, model_dir, pairs_file):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(SystemExit, match="no seed examples"):
        read_seeds(str(empty))
    seed_row = {"instruction": "i", "safe_response": "s", "toxic_response": "t"}
    with pytest.raises(SystemExit, match="50 seed examples; PT-ALIGN starts from fewer than 50"):
        read_seeds(str(_write_jsonl(tmp_path / "many.jsonl", [seed_row] * 50)))
    with pytest.raises(SystemExit, match=r"bad.jsonl:2: needs non-empty string field\(s\) toxic_response"):
        read_seeds(str(_write_jsonl(tmp_path / "bad.jsonl", [seed_row, {"instruction": "i", "safe_response": "s"}])))
    with pytest.raises(SystemExit, match="no such seeds file"):
        read_seeds(str(tmp_path / "missing.jsonl"))
    with pytest.raises(SystemExit, match=r"pairs.jsonl:1: needs non-empty string field\(s\) negative"):
        read_pairs([str(_write_jsonl(tmp_path / "pairs.jsonl", [{"instruction": "i", "positive": "p", "negative": " "}]))])
    with pytest.raises(SystemExit, match="no such pairs file"):
        read_pairs([str(tmp_path / "nope.jsonl")])
    with pytest.raises(SystemExit, match="fewer than one batch"):
        main(["align-pt", "--pairs", str(_write_jsonl(tmp_path / "one.jsonl", [{"instruction": "i", "positive": "p",
                                                                                  "negative": "n"}])),
              "--init-from", str(model_dir), "--output", str(tmp_path / "o"), "--max-length", "32"])
    with pytest.raises(SystemExit, match="must be finite and not negative"):
        main(["align-pt", "--pairs", str(pairs_file), "--init-from", str(model_dir), "--output", str(tmp_path / "o"),
              "--lambda", "-1"])
    with pytest.raises(SystemExit, match="exceeds the model's context of 64"):
        main(["align-pt", "--pairs", str(pairs_file), "--init-from", str(model_dir), "--output", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="--guard-cli needs --guard-model"):
        guard_from_args(argparse.Namespace(guard_cli="x", guard_model=None, guard_dir=None), True)
    with pytest.raises(SystemExit, match="a guard is needed"):
        main(["pt-align-pairs", "--mode", "sample", "--model", str(model_dir), "--output", str(tmp_path / "p.jsonl")])
    with pytest.raises(SystemExit, match="not an executable file"):
        RuntimeCliGuard(str(tmp_path / "no-edgeguard"), "m")
    with pytest.raises(SystemExit, match="needs --count"):
        main(["pt-align-pairs", "--mode", "instruct", "--writer-model", "m", "--output", str(tmp_path / "p.jsonl")])
