import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from conftest import TRAINING, run_env
from edgeguard_train.data import Example
from edgeguard_train.distill import (epoch_indices, global_batches, kd_loss, linear_schedule, load_checkpoint,
                                     make_optimizer)
from edgeguard_train.modeling_deberta import DebertaV2ForSequenceClassification, preset_config
from edgeguard_train.safetensors_io import load_file


def test_kd_loss_equals_the_hand_computed_value():
    logits = torch.tensor([[2.0, -1.0]], dtype=torch.float64)
    # Student: p_unsafe = 1 / (1 + e^3); teacher soft label 0.8; hard label unsafe.
    q1 = 1.0 / (1.0 + math.exp(3.0))
    q0 = 1.0 - q1
    ce = -math.log(q1)
    kl = 0.2 * math.log(0.2 / q0) + 0.8 * math.log(0.8 / q1)
    loss = kd_loss(logits, torch.tensor([1]), torch.tensor([0.8], dtype=torch.float64), ce_weight=0.5)
    assert loss.item() == pytest.approx(0.5 * ce + 0.5 * kl, abs=1e-12)
    assert 0.5 * ce + 0.5 * kl == pytest.approx(2.49839, abs=1e-5)  # 0.5 * (3.04859 + 1.94819)


def test_kd_loss_without_soft_labels_is_cross_entropy():
    logits = torch.tensor([[0.3, 1.2], [2.0, -0.5], [0.0, 0.0]], dtype=torch.float64)
    labels = torch.tensor([1, 0, 1])
    nan = torch.full((3,), float("nan"), dtype=torch.float64)
    assert kd_loss(logits, labels, nan).item() == pytest.approx(torch.nn.functional.cross_entropy(logits, labels).item(), abs=1e-12)


def test_kd_loss_mixes_rows_with_and_without_teacher():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.5]], dtype=torch.float64)
    soft = torch.tensor([0.8, float("nan")], dtype=torch.float64)
    both = kd_loss(logits, torch.tensor([1, 0]), soft, 0.5).item()
    first = kd_loss(logits[:1], torch.tensor([1]), soft[:1], 0.5).item()
    assert both == pytest.approx((first + math.log(2.0)) / 2, abs=1e-12)


def _examples(labels):
    return [Example(ids=[1] + [5] * (i % 9) + [2], label=y, soft=float("nan"), source="s", row={}) for i, y in enumerate(labels)]


def test_class_balanced_sampler_draws_both_classes_equally():
    examples = _examples([0] * 900 + [1] * 100)
    drawn = epoch_indices(examples, 20000, seed=1, epoch=0, balance="class")
    unsafe_share = sum(examples[i].label for i in drawn) / len(drawn)
    assert abs(unsafe_share - 0.5) < 0.02
    assert drawn == epoch_indices(examples, 20000, seed=1, epoch=0, balance="class")  # deterministic
    assert drawn != epoch_indices(examples, 20000, seed=1, epoch=1, balance="class")  # new order per epoch
    uniform = epoch_indices(examples, 1000, seed=1, epoch=0, balance="none")
    assert sorted(uniform) == list(range(1000))


def test_global_batches_cover_the_epoch_in_full_batches():
    examples = _examples([0, 1] * 50)
    indices = epoch_indices(examples, 96, seed=2, epoch=0, balance="class")
    batches = global_batches(indices, 8, examples, seed=2, epoch=0)
    assert len(batches) == 12 and all(len(b) == 8 for b in batches)
    assert sorted(i for b in batches for i in b) == sorted(indices)


def test_bias_and_layernorm_are_not_decayed():
    model = DebertaV2ForSequenceClassification(preset_config("edge", vocab_size=300, num_hidden_layers=1))
    decay, no_decay = make_optimizer(model, 1e-3, 0.01).param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    assert all(names[id(p)].endswith("bias") or "LayerNorm" in names[id(p)] for p in no_decay["params"])
    assert all(not names[id(p)].endswith("bias") and "LayerNorm" not in names[id(p)] for p in decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


def test_schedule_warms_up_linearly_then_decays_to_zero():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    schedule = linear_schedule(optimizer, warmup=4, total=12)
    rates = []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[4:] == pytest.approx([1.0, 7 / 8, 6 / 8, 5 / 8, 4 / 8, 3 / 8, 2 / 8, 1 / 8])


def distill_command(model_dir, data, output, *extra):
    return [sys.executable, "-m", "edgeguard_train", "distill", "--init-from", str(model_dir), "--train", str(data),
            "--dev", str(data), "--output", str(output), "--max-length", "48", "--batch-size", "8",
            "--lr", "1e-3", "--threads", "1", "--log-steps", "1", *extra]


def _weights(directory):
    return load_file(os.path.join(str(directory), "model.safetensors"))


def test_resume_after_kill_gives_the_same_model(tiny_model_dir, small_dataset, tmp_path):
    args = ["--epochs", "2", "--steps-per-epoch", "30", "--save-steps", "1"]
    reference = tmp_path / "reference"
    subprocess.run(distill_command(tiny_model_dir, small_dataset, reference, *args), check=True, env=run_env(),
                   cwd=str(TRAINING), capture_output=True)

    killed = tmp_path / "killed"
    process = subprocess.Popen(distill_command(tiny_model_dir, small_dataset, killed, *args), env=run_env(),
                               cwd=str(TRAINING), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = killed / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and '"step": 5,' in log.read_text():
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()
    saved = load_checkpoint(str(killed / "checkpoint.pt"))
    assert 0 < saved["state"]["global_step"] < 60, "the kill must land mid-run for this test to mean anything"

    resumed = subprocess.run(distill_command(tiny_model_dir, small_dataset, killed, *args), env=run_env(),
                             cwd=str(TRAINING), capture_output=True, text=True, check=True)
    assert "resuming" in resumed.stdout
    a, b = _weights(reference), _weights(killed)
    assert a.keys() == b.keys()
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) == 0.0
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "eval"] == [1, 2]
    assert events[-1]["event"] == "end"


def test_distill_learns_and_keeps_the_best_epoch(tiny_model_dir, small_dataset, tmp_path):
    output = tmp_path / "run"
    result = subprocess.run(distill_command(tiny_model_dir, small_dataset, output, "--epochs", "3", "--steps-per-epoch", "25",
                                            "--dropout", "0"),
                            env=run_env(), cwd=str(TRAINING), capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1].startswith("distill: steps=75")
    events = [json.loads(line) for line in (output / "log.jsonl").read_text().splitlines()]
    steps = [e for e in events if e["event"] == "step"]
    assert np.mean([e["loss"] for e in steps[-10:]]) < np.mean([e["loss"] for e in steps[:10]])
    evals = [e for e in events if e["event"] == "eval"]
    best = max(evals, key=lambda e: e["f1"])
    summary = json.loads((output / "training_summary.json").read_text())
    assert summary["best"]["f1"] == best["f1"]
    assert all(k in best for k in ("f1", "precision", "recall", "auprc", "accuracy"))
    for name in ("config.json", "model.safetensors", "spm.model"):
        assert (output / name).exists()


def test_training_sets_skip_ids_seen_in_an_earlier_file(tmp_path):
    from conftest import tokenizer_dir
    from edgeguard_train.data import load_examples, load_training_sets
    from edgeguard_train.tokenization import DebertaTokenizer

    tokenizer = DebertaTokenizer(str(tokenizer_dir("spm-unigram-2k") / "spm.model"))
    full = tmp_path / "full.jsonl"
    full.write_text("".join(json.dumps({"id": f"r{i}", "prompt": f"text {i}", "response": None,
                                        "label": "unsafe" if i % 2 else "safe"}) + "\n" for i in range(6)))
    every_third = load_examples(str(full), tokenizer, 32, every=3)
    assert [e.row["id"] for e in every_third] == ["r0", "r3"]
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(dict(e.row, teacher_unsafe_prob=0.25)) + "\n" for e in every_third))
    merged = load_training_sets([str(labelled), str(full)], tokenizer, 32)
    assert [e.row["id"] for e in merged] == ["r0", "r3", "r1", "r2", "r4", "r5"]
    assert [e.soft for e in merged[:2]] == [0.25, 0.25] and all(math.isnan(e.soft) for e in merged[2:])


def test_oversampled_source_is_drawn_k_times_as_often_within_its_class():
    examples = [Example(ids=[1, 2], label=0, soft=float("nan"), source="contrast" if i < 100 else "other", row={}) for i in range(1000)]
    examples += _examples([1] * 500)
    drawn = epoch_indices(examples, 40000, seed=3, epoch=0, balance="class", oversample={"contrast": 4.0})
    safe = [i for i in drawn if examples[i].label == 0]
    contrast_share = sum(examples[i].source == "contrast" for i in safe) / len(safe)
    # 100 rows at weight 4 against 900 at weight 1: 400 / 1300 of the safe draws.
    assert abs(contrast_share - 400 / 1300) < 0.02
    assert abs(len(safe) / len(drawn) - 0.5) < 0.02
