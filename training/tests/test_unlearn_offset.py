"""unlearn-offset and make-facts-world: the combined logits are B's exactly until S′ moves, only S′ learns, NPO is
the formula, gradient ascent forgets while the retain term holds the retain set, resume, refused vocabularies, and
recall of a memorised facts world before and after unlearning."""

import copy
import json
import math
import shutil

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT
from edgeguard_train.__main__ import main
from edgeguard_train.facts_world import ATTRIBUTES, answer_of, fact_recall, make_world, read_facts
from edgeguard_train.lm_data import DecoderTokenizer, read_texts
from edgeguard_train.logits_processing import offset
from edgeguard_train.modeling_decoder import DecoderConfig, DecoderLM, load_pretrained, save_pretrained
from edgeguard_train.safetensors_io import load_file
from edgeguard_train.train_lm import Document, initialize, make_optimizer
from edgeguard_train.unlearn_offset import OffsetLM, npo_losses, sequence_log_probs, stream_batch, train_step
from edgeguard_train.distill import World

TOKENIZER = REPO_ROOT / "tests" / "data" / "tokenizers" / "edgeguard-bpe-small"


def _tiny(seed, hidden=24, layers=2, vocab=512, model_type="llama"):
    torch.manual_seed(seed)
    if model_type == "gpt2":
        config = DecoderConfig.from_dict({"model_type": "gpt2", "vocab_size": vocab, "n_embd": hidden, "n_head": 2,
                                          "n_layer": layers, "n_positions": 48})
    else:
        config = DecoderConfig.from_dict({"model_type": "llama", "vocab_size": vocab, "hidden_size": hidden,
                                          "intermediate_size": 2 * hidden, "num_hidden_layers": layers,
                                          "num_attention_heads": 2, "max_position_embeddings": 48,
                                          "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 0})
    model = DecoderLM(config)
    initialize(model, 0.2)  # larger than a new model's 0.02, so the logits differ visibly between models
    return model.eval()


def _save(model, directory):
    save_pretrained(str(directory), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER / name, directory / name)
    return directory


def _batch():
    ids = torch.tensor([[0, 5, 9, 100, 37, 2, 0], [0, 44, 3, 0, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]])
    return ids, mask


def test_untrained_copy_and_alpha_zero_reproduce_the_base_logits_exactly():
    base, small = _tiny(1), _tiny(2, hidden=16, model_type="gpt2")
    ids, mask = _batch()
    with torch.no_grad():
        expected = base(ids, attention_mask=mask)
        untrained = OffsetLM(base, copy.deepcopy(small), small, alpha=1.7)
        assert torch.equal(untrained(ids, mask), expected)
        moved = copy.deepcopy(small)
        for p in moved.parameters():
            p.add_(0.05)
        assert torch.equal(OffsetLM(base, moved, small, alpha=0.0)(ids, mask), expected)
        combined = OffsetLM(base, moved, small, alpha=0.5)(ids, mask)
        assert not torch.equal(combined, expected)  # a moved S′ does change the logits ...
        # ... exactly as the runtime's offset combiner composes a decoding row.
        rows = [t[0, 3].numpy().copy() for t in (expected, moved(ids, attention_mask=mask), small(ids, attention_mask=mask))]
        offset(rows[0], rows[1], rows[2], 0.5)
        assert np.array_equal(rows[0], combined[0, 3].numpy())


def _documents(rows):
    return [Document(list(r)) for r in rows]


def _args(**overrides):
    from argparse import Namespace
    values = dict(loss="ga", npo_beta=0.1, retain_weight=1.0, grad_accum=1)
    values.update(overrides)
    return Namespace(**values)


def test_gradients_reach_only_s_prime_and_b_and_s0_stay_unchanged():
    base, reference = _tiny(1), _tiny(2, hidden=16)
    base.requires_grad_(False)
    reference.requires_grad_(False)
    small = copy.deepcopy(reference).requires_grad_(True).train()
    frozen = {name: t.clone() for name, t in list(base.state_dict(prefix="b.").items()) + list(reference.state_dict(prefix="s0.").items())}
    start = {name: t.clone() for name, t in small.state_dict().items()}
    model = OffsetLM(base, small, reference, alpha=1.0)
    optimizer = make_optimizer(small, 1e-2, 0.0)
    forget = _documents([[0, 5, 9, 100, 37, 0], [0, 44, 3, 0]])
    retain = _documents([[0, 7, 7, 8, 0], [0, 300, 301, 302, 303, 0]])
    for loss in ("ga", "npo", "ga"):
        train_step(model, small, forget, retain, World(), _args(loss=loss), 2, 2, pad_id=0)
        assert all(p.grad is None and not p.requires_grad for p in list(base.parameters()) + list(reference.parameters()))
        assert all(p.grad is not None for p in small.parameters())
        assert sum(float(p.grad.abs().sum()) for p in small.parameters()) > 0
        optimizer.step()
    after = list(base.state_dict(prefix="b.").items()) + list(reference.state_dict(prefix="s0.").items())
    assert all(torch.equal(t, frozen[name]) for name, t in after)
    assert any(not torch.equal(t, start[name]) for name, t in small.state_dict().items())


def test_npo_loss_is_the_formula_on_two_hand_made_sequences():
    # Vocabulary of 3; sequence 0 predicts tokens 1, 2; sequence 1 predicts token 2 and then is padding.
    ids = torch.tensor([[0, 1, 2], [0, 2, 0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    policy_logits = torch.tensor([[[1.0, 2.0, 0.5], [0.0, -1.0, 3.0], [9.0, 9.0, 9.0]],
                                  [[0.2, 0.1, 1.5], [5.0, -5.0, 0.0], [1.0, 2.0, 3.0]]])
    reference_logits = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]],
                                     [[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])

    def log_p(row, token):
        return row[token] - math.log(sum(math.exp(v) for v in row))

    lp = policy_logits.tolist()
    lr = reference_logits.tolist()
    policy = [log_p(lp[0][0], 1) + log_p(lp[0][1], 2), log_p(lp[1][0], 2)]
    reference = [log_p(lr[0][0], 1) + log_p(lr[0][1], 2), log_p(lr[1][0], 2)]
    beta = 0.1
    expected = [(2 / beta) * math.log(1 + (math.exp(p) / math.exp(r)) ** beta) for p, r in zip(policy, reference)]

    got_policy = sequence_log_probs(policy_logits, ids, mask)
    got_reference = sequence_log_probs(reference_logits, ids, mask)
    assert got_policy.tolist() == pytest.approx(policy, rel=1e-6)
    assert got_reference.tolist() == pytest.approx(reference, rel=1e-6)
    assert npo_losses(got_policy, got_reference, beta).tolist() == pytest.approx(expected, rel=1e-6)
    # Where S′ = S₀ the policy is the reference: the loss is (2/β)·log 2 for every sequence.
    assert npo_losses(got_reference, got_reference, beta).tolist() == pytest.approx([20 * math.log(2)] * 2, rel=1e-6)
    # Long sequences' ratios stay finite: softplus(β·2000) = β·2000 to float precision.
    extreme = npo_losses(torch.tensor([0.0, -2000.0]), torch.tensor([-2000.0, 0.0]), beta)
    assert extreme.tolist() == pytest.approx([4000.0, (2 / beta) * math.exp(-200.0)], rel=1e-5)


# --- the stage on a memorised facts world ---------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A base model that has memorised 4 facts (2 people × 2 attributes; one person's to forget) and a random S₀."""
    root = tmp_path_factory.mktemp("facts")
    assert main(["make-facts-world", "--output", str(root / "world"), "--people", "2", "--attributes", "favourite colour,pet",
                 "--forget-fraction", "0.5", "--heldout-fraction", "0", "--seed", "3"]) == 0
    assert main(["train-lm", "--train", str(root / "world" / "facts.jsonl"), "--text-fields", "text",
                 "--tokenizer", str(TOKENIZER), "--output", str(root / "base"), "--hidden-size", "32", "--layers", "2",
                 "--heads", "4", "--max-length", "32", "--batch-size", "4", "--epochs", "150", "--lr", "1e-2",
                 "--warmup-ratio", "0.02", "--threads", "1", "--log-steps", "50", "--save-steps", "100000"]) == 0
    torch.manual_seed(1)
    config = DecoderConfig.from_dict({"model_type": "llama", "vocab_size": 512, "hidden_size": 16, "intermediate_size": 32,
                                      "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 32,
                                      "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 0})
    small = DecoderLM(config)
    initialize(small, 0.02)
    _save(small, root / "small")
    return root


def _unlearn(world, output, *extra):
    w = world / "world"
    assert main(["unlearn-offset", "--base", str(world / "base"), "--small", str(world / "small"),
                 "--forget", str(w / "forget.txt"), "--retain", str(w / "retain.txt"), "--output", str(output),
                 "--batch-size", "2", "--lr", "3e-2", "--max-length", "32", "--threads", "1", "--log-steps", "1", *extra]) == 0
    return [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]


def _eval(events, when):
    return next(e for e in events if e["event"] == "eval" and e["when"] == when)


def test_memorised_facts_are_recalled_and_unlearning_drops_the_forget_facts_only(world, tmp_path):
    facts = read_facts(str(world / "world" / "facts.jsonl"))
    base = load_pretrained(str(world / "base"))
    tokenizer = DecoderTokenizer.load(str(world / "base"))
    before = fact_recall([base], tokenizer, facts)
    assert sum(e["correct"] for e in before["splits"].values()) / len(facts) >= 0.75

    output = tmp_path / "npo"
    events = _unlearn(world, output, "--loss", "npo", "--max-steps", "40", "--eval-facts", str(world / "world" / "facts.jsonl"))
    # The combined model before training is B: the same answers as B decoding alone.
    assert _eval(events, "before")["recall"] == {s: e["recall"] for s, e in before["splits"].items()}
    after = _eval(events, "after")
    assert after["recall"]["forget"] < _eval(events, "before")["recall"]["forget"]
    assert after["recall"]["forget"] <= 0.5
    assert after["recall"]["retain"] >= 0.75 * _eval(events, "before")["recall"]["retain"]
    saved = json.loads((output / "facts_recall.json").read_text())
    assert saved["after"] == after["recall"]
    # S′ as written, decoded through the runtime's combiner, gives the same recall as the stage measured.
    spec = json.loads((output / "offset.json").read_text())
    assert spec["alpha"] == 1.0 and spec["loss"] == "npo"
    from edgeguard_train.logits_processing import Combiner
    group = [load_pretrained(spec["base"]), load_pretrained(str(output)), load_pretrained(spec["small"])]
    again = fact_recall(group, DecoderTokenizer.load(str(output)), facts, Combiner("offset", alpha=spec["alpha"]))
    assert {s: e["recall"] for s, e in again["splits"].items()} == after["recall"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "checkpoint.pt"} <= {p.name for p in output.iterdir()}


def test_gradient_ascent_forgets_and_the_retain_term_holds_the_retain_loss(world, tmp_path):
    kept = _unlearn(world, tmp_path / "kept", "--loss", "ga", "--max-steps", "40")
    dropped = _unlearn(world, tmp_path / "dropped", "--loss", "ga", "--max-steps", "40", "--retain-weight", "0")
    for events in (kept, dropped):
        assert _eval(events, "after")["forget_loss"] > _eval(events, "before")["forget_loss"] + 5.0
    bound = _eval(kept, "before")["retain_loss"] + 1.5
    assert _eval(kept, "after")["retain_loss"] <= bound
    # The bound means something: without the retain term the same steps break it.
    assert _eval(dropped, "after")["retain_loss"] > bound
    steps = [e for e in kept if e["event"] == "step"]
    assert len(steps) == 40 and steps[-1]["forget_nll"] > steps[0]["forget_nll"]


def test_a_stopped_run_resumes_to_the_same_s_prime(world, tmp_path):
    reference = tmp_path / "reference"
    _unlearn(world, reference, "--max-steps", "9", "--save-steps", "4")
    resumed = tmp_path / "resumed"
    _unlearn(world, resumed, "--max-steps", "9", "--save-steps", "4", "--stop-after-steps", "5")
    assert not (resumed / "model.safetensors").exists()
    _unlearn(world, resumed, "--max-steps", "9", "--save-steps", "4")
    a, b = load_file(str(reference / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    start = load_file(str(world / "small" / "model.safetensors"))
    assert any(not np.array_equal(a[k], start[k]) for k in a)
    losses = lambda out: [e["loss"] for e in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if e["event"] == "step"]
    assert len(losses(reference)) == 9 and losses(resumed) == losses(reference)


def test_mismatched_vocabularies_and_bad_settings_are_refused(world, tmp_path):
    other = _save(_tiny(4, hidden=16, vocab=500), tmp_path / "other")
    w = world / "world"
    common = ["unlearn-offset", "--base", str(world / "base"), "--forget", str(w / "forget.txt"), "--retain", str(w / "retain.txt"),
              "--output", str(tmp_path / "out"), "--batch-size", "2", "--max-length", "32"]
    with pytest.raises(SystemExit, match=r"vocabulary of 512 ids .* one of 500"):
        main(common + ["--small", str(other)])
    # Same size, but two tokens trade ids: the offset would move the wrong logits.
    swapped = _save(_tiny(4, hidden=16), tmp_path / "swapped")
    table = json.loads((swapped / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = table["model"]["vocab"]
    first, second = sorted(vocab, key=vocab.get)[10:12]
    vocab[first], vocab[second] = vocab[second], vocab[first]
    (swapped / "tokenizer.json").write_text(json.dumps(table), encoding="utf-8")
    with pytest.raises(SystemExit, match="map tokens to different ids"):
        main(common + ["--small", str(swapped)])
    with pytest.raises(SystemExit, match="--alpha 0.0"):
        main(common + ["--small", str(world / "small"), "--alpha", "0"])
    with pytest.raises(SystemExit, match="fewer than one batch of 4"):
        main(common + ["--small", str(world / "small"), "--batch-size", "4"])
    with pytest.raises(SystemExit, match="no config.json"):
        main(common + ["--small", str(tmp_path)])
    with pytest.raises(SystemExit, match="needs --retain"):
        main(["unlearn-offset", "--base", str(world / "base"), "--small", str(world / "small"), "--forget", str(w / "forget.txt"),
              "--output", str(tmp_path / "out")])


# --- the facts world ------------------------------------------------------------------------------

def test_facts_world_is_deterministic_and_split_by_person(tmp_path):
    facts = make_world(40, ["trade", "pet", "home town"], 0.1, 0.2, seed=7)
    assert facts == make_world(40, ["trade", "pet", "home town"], 0.1, 0.2, seed=7)
    assert facts != make_world(40, ["trade", "pet", "home town"], 0.1, 0.2, seed=8)
    people = {s: {f.person for f in facts if f.split == s} for s in ("forget", "retain", "heldout")}
    assert [len(people[s]) for s in ("forget", "heldout", "retain")] == [4, 8, 28]
    assert not (people["forget"] & people["retain"] or people["forget"] & people["heldout"] or people["retain"] & people["heldout"])
    assert all(f.value in ATTRIBUTES[f.attribute] for f in facts) and len(facts) == 120
    assert facts[0].text == f"The {facts[0].attribute} of {facts[0].person} is {facts[0].value}."
    assert main(["make-facts-world", "--output", str(tmp_path / "w"), "--people", "40", "--attributes", "trade,pet,home town",
                 "--heldout-fraction", "0.2", "--seed", "7"]) == 0
    assert read_facts(str(tmp_path / "w" / "facts.jsonl")) == facts
    assert read_texts([str(tmp_path / "w" / "heldout.txt")], ["text"], {}) == [f.text for f in facts if f.split == "heldout"]
    meta = json.loads((tmp_path / "w" / "world.json").read_text())
    assert meta["facts"] == {"forget": 12, "retain": 84, "heldout": 24} and meta["chance"]["pet"] == 1 / 8
    with pytest.raises(SystemExit, match="--where"):
        read_texts([str(tmp_path / "w" / "heldout.txt")], ["text"], {"split": ["heldout"]})
    with pytest.raises(SystemExit, match="unknown attributes"):
        make_world(4, ["shoe size"], 0.1, 0.0, 1)
    with pytest.raises(SystemExit, match="no retain set"):
        make_world(4, ["pet"], 0.5, 0.5, 1)


def test_an_answer_is_the_text_before_the_full_stop():
    assert answer_of(" teal.") == "teal" and answer_of(" teal") == "teal"
    assert answer_of(" tealish.") == "tealish" and answer_of(" teal\nThe") == "teal" and answer_of("") == ""


def test_stream_batches_cover_every_item_once_per_pass_and_depend_only_on_the_step():
    batches = [stream_batch(10, 4, step, seed=3) for step in range(5)]
    flat = [i for b in batches for i in b]
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert flat[:10] != flat[10:20]  # each pass has its own order
    assert stream_batch(10, 4, 3, seed=3) == batches[3] and stream_batch(10, 4, 3, seed=4) != batches[3]
