"""train-lm: a tiny Llama learns, a stopped run resumes to the same weights, the saved directory loads back with the
same logits, and the text selection and mixing take the rows they say."""

import json
import math
import os
import subprocess

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT, TRAINING, run_env
from edgeguard_train.lm_data import mixed_in, parse_where, read_texts
from edgeguard_train.modeling_decoder import load_pretrained
from edgeguard_train.safetensors_io import load_file
from edgeguard_train.distill import load_checkpoint
from edgeguard_train.train_lm import cosine_schedule

TOKENIZER = REPO_ROOT / "tests" / "data" / "tokenizers" / "edgeguard-bpe-small"
# Short repetitive sentences: a 2-layer model learns them in a few dozen steps.
SENTENCES = ["the cat sat on the mat", "a dog ran in the park", "the sun is hot today", "we like to read books",
             "birds fly over the sea", "my tea is too cold"]


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "train.jsonl"
    rows = [{"id": f"r{i}", "prompt": SENTENCES[i % len(SENTENCES)], "response": None, "label": "safe"} for i in range(48)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def command(corpus, output, *extra):
    return ["/usr/bin/python3", "-m", "edgeguard_train", "train-lm", "--train", str(corpus), "--dev", str(corpus),
            "--tokenizer", str(TOKENIZER), "--output", str(output), "--hidden-size", "32", "--layers", "2", "--heads", "4",
            "--kv-heads", "2", "--max-length", "16", "--batch-size", "8", "--epochs", "6", "--lr", "1e-2",
            "--threads", "1", "--log-steps", "1", "--save-steps", "5", *extra]


def _run(*args):
    return subprocess.run(list(args), env=run_env(), cwd=str(TRAINING), capture_output=True, text=True, check=True)


def _events(output):
    return [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]


def test_tiny_model_learns_and_its_directory_loads_back_with_the_same_logits(corpus, tmp_path):
    output = tmp_path / "lm"
    _run(*command(corpus, output))
    steps = [e for e in _events(output) if e["event"] == "step"]
    assert len(steps) == 36  # 48 documents / 8 per batch x 6 epochs
    assert steps[-1]["loss"] < 0.6 * steps[0]["loss"]
    assert steps[0]["loss"] == pytest.approx(math.log(512), rel=0.05)  # a new model guesses uniformly over 512 ids
    evals = [e for e in _events(output) if e["event"] == "eval"]
    assert evals[-1]["dev_loss"] < evals[0]["dev_loss"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(os.listdir(output))

    config = json.loads((output / "config.json").read_text())
    assert config["model_type"] == "llama" and config["num_key_value_heads"] == 2 and config["tie_word_embeddings"]
    assert "lm_head.weight" not in load_file(str(output / "model.safetensors"))  # tied: absent, as save_pretrained writes it
    loaded = load_pretrained(str(output))
    trained = load_checkpoint(str(output / "checkpoint.pt"))["model"]
    reference = load_pretrained(str(output))
    reference.load_state_dict(trained)
    ids = torch.tensor([[0, 5, 9, 100, 37, 2]])
    with torch.no_grad():
        assert torch.equal(loaded(ids), reference(ids))
    # The logits the dev loss was measured with are the saved model's: recompute its dev loss.
    from edgeguard_train.lm_data import DecoderTokenizer
    from edgeguard_train.train_lm import documents, evaluate
    docs = documents(read_texts([str(corpus)], ["prompt"], {}), DecoderTokenizer.load(str(output)), 16, "dev")
    assert evaluate(loaded, docs, 16, 0)["loss"] == pytest.approx(evals[-1]["dev_loss"], rel=1e-6)


def test_stopped_run_resumes_to_the_same_weights(corpus, tmp_path):
    reference = tmp_path / "reference"
    _run(*command(corpus, reference))
    resumed = tmp_path / "resumed"
    first = _run(*command(corpus, resumed, "--stop-after-steps", "7"))
    assert "stopped_at=7" in first.stdout
    assert not (resumed / "model.safetensors").exists()
    assert load_checkpoint(str(resumed / "checkpoint.pt"))["state"]["global_step"] == 7
    again = _run(*command(corpus, resumed, "--stop-after-steps", "7"))  # already there: no step is taken
    assert "stopped_at=7" in again.stdout
    assert load_checkpoint(str(resumed / "checkpoint.pt"))["state"]["global_step"] == 7
    second = _run(*command(corpus, resumed))
    assert "resuming at epoch 2, step 7" in second.stdout
    a, b = load_file(str(reference / "model.safetensors")), load_file(str(resumed / "model.safetensors"))
    assert a.keys() == b.keys()
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) == 0.0
    losses = lambda out: [e["loss"] for e in _events(out) if e["event"] == "step"]
    assert losses(resumed) == losses(reference)


def test_init_from_continues_a_model_and_mix_adds_the_fraction(corpus, tmp_path):
    base = tmp_path / "base"
    _run(*command(corpus, base, "--epochs", "1"))
    harmful = tmp_path / "harmful.jsonl"
    harmful.write_text("".join(json.dumps({"prompt": f"bad text {i}", "label": "unsafe" if i % 4 else "safe"}) + "\n"
                               for i in range(40)), encoding="utf-8")
    tuned = tmp_path / "tuned"
    result = _run("/usr/bin/python3", "-m", "edgeguard_train", "train-lm", "--train", str(corpus), "--init-from", str(base),
                  "--output", str(tuned), "--mix", str(harmful), "--mix-fraction", "0.5", "--mix-where", "label=unsafe",
                  "--max-length", "16", "--batch-size", "8", "--max-steps", "2", "--lr", "1e-4", "--threads", "1")
    assert "mixed_in=15" in result.stdout  # half of the 30 unsafe rows
    start = next(e for e in _events(tuned) if e["event"] == "start")
    assert start["documents"] == 48 + 15 and start["steps"] == 2
    a, b = load_file(str(base / "model.safetensors")), load_file(str(tuned / "model.safetensors"))
    assert a.keys() == b.keys() and any(not np.array_equal(a[k], b[k]) for k in a)
    assert (tuned / "tokenizer.json").read_bytes() == (TOKENIZER / "tokenizer.json").read_bytes()


def test_text_selection_and_mixing(tmp_path):
    path = tmp_path / "rows.jsonl"
    rows = [{"prompt": "p1", "response": "r1", "label": "safe", "source": "a"},
            {"prompt": "p2", "response": None, "label": "unsafe", "source": "b"},
            {"prompt": "  ", "response": "r3", "label": "unsafe", "source": "c"},
            {"prompt": "p4", "response": "", "label": "safe", "source": "c"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert read_texts([str(path)], ["prompt", "response"], {}) == ["p1\nr1", "p2", "r3", "p4"]
    assert read_texts([str(path)], ["response"], {}) == ["r1", "r3"]
    assert read_texts([str(path)], ["prompt"], parse_where(["label=unsafe"])) == ["p2"]
    assert read_texts([str(path)], ["prompt"], parse_where(["source=a", "source=c"])) == ["p1", "p4"]
    assert read_texts([str(path)], ["prompt", "response"], parse_where(["source=c", "label=safe"])) == ["p4"]
    texts = [f"t{i}" for i in range(100)]
    chosen = mixed_in(texts, 0.1, seed=3)
    assert len(chosen) == 10 and chosen == sorted(chosen, key=texts.index) and chosen == mixed_in(texts, 0.1, seed=3)
    assert chosen != mixed_in(texts, 0.1, seed=4)
    assert mixed_in(texts, 0.0, 1) == [] and mixed_in(texts, 1.0, 1) == texts
    with pytest.raises(SystemExit, match="FIELD=VALUE"):
        parse_where(["label"])


def test_schedule_warms_up_then_decays_by_cosine_to_the_floor():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = cosine_schedule(optimizer, warmup=4, total=14, min_ratio=0.1)
    rates = []
    for _ in range(14):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[4] == pytest.approx(1.0)
    assert rates[9] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(rates[3:], rates[4:]))
    assert scheduler.get_last_lr()[0] == pytest.approx(0.1)


def test_snapshots_write_the_model_every_n_steps_with_its_dev_loss(corpus, tmp_path):
    output = tmp_path / "lm"
    result = _run(*command(corpus, output, "--epochs", "2", "--snapshot-steps", "4", "--eval-steps", "3"))
    snapshots = [e for e in _events(output) if e["event"] == "snapshot"]
    assert [e["step"] for e in snapshots] == [4, 8, 12]  # 6 steps per epoch, 12 in all
    assert result.stdout.count("snapshot: step=") == 3
    assert [e["step"] for e in _events(output) if e["event"] == "eval"] == [3, 6, 9, 12]  # every 3 and each epoch end
    last = snapshots[-1]
    assert last["path"] == str(output / "step-12") and last["dev_loss"] == next(
        e["dev_loss"] for e in _events(output) if e["event"] == "eval" and e["step"] == 12)
    # The last snapshot is the final model; an earlier one is a different model whose dev loss is its own.
    final, at_12 = load_file(str(output / "model.safetensors")), load_file(str(output / "step-12" / "model.safetensors"))
    assert all(np.array_equal(final[k], at_12[k]) for k in final)
    at_4 = load_pretrained(str(output / "step-4"))
    from edgeguard_train.lm_data import DecoderTokenizer
    from edgeguard_train.train_lm import documents, evaluate
    docs = documents(read_texts([str(corpus)], ["prompt"], {}), DecoderTokenizer.load(str(output / "step-4")), 16, "dev")
    assert evaluate(at_4, docs, 16, 0)["loss"] == pytest.approx(snapshots[0]["dev_loss"], rel=1e-6)
    assert snapshots[0]["dev_loss"] > snapshots[-1]["dev_loss"]


def test_a_distilled_text_file_fine_tunes_a_target(corpus, tmp_path):
    base = tmp_path / "base"
    _run(*command(corpus, base, "--epochs", "1"))
    samples = tmp_path / "samples.jsonl"  # distill-detox's rows: the text field is the document
    samples.write_text("".join(json.dumps({"seed": i, "text": SENTENCES[i % 3] + " today", "tokens": [1, 2], "finish_reason": "stop"})
                               + "\n" for i in range(16)), encoding="utf-8")
    tuned = tmp_path / "tuned"
    result = _run("/usr/bin/python3", "-m", "edgeguard_train", "train-lm", "--init-from", str(base), "--train", str(samples),
                  "--text-fields", "text", "--dev", str(samples), "--output", str(tuned), "--lr", "5e-5", "--batch-size", "8",
                  "--max-length", "16", "--epochs", "2", "--snapshot-steps", "2", "--threads", "1")
    assert "documents=16" in result.stdout
    assert [e["step"] for e in _events(tuned) if e["event"] == "snapshot"] == [2, 4]
    with pytest.raises(subprocess.CalledProcessError) as refused:
        _run(*command(corpus, tmp_path / "bad", "--eval-steps", "0"))
    assert "--eval-steps 0 must be at least 1" in refused.value.stderr
