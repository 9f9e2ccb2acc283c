import json
import socket
import subprocess
import sys

import numpy as np
import pytest

from conftest import TRAINING, run_env
from edgeguard_train.safetensors_io import load_file
from test_distill import distill_command


def free_port() -> str:
    """A TCP port nothing listens on now, so a torchrun test does not depend on a fixed port being free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_two_gloo_processes_equal_one_process_with_the_same_global_batch(tiny_model_dir, small_dataset, tmp_path):
    # Dropout off: its masks are per-process random draws, the only thing DDP cannot reproduce.
    args = ["--epochs", "1", "--steps-per-epoch", "6", "--dropout", "0", "--save-steps", "100"]
    single = tmp_path / "single"
    subprocess.run(distill_command(tiny_model_dir, small_dataset, single, *args), check=True, env=run_env(),
                   cwd=str(TRAINING), capture_output=True)

    double = tmp_path / "double"
    command = distill_command(tiny_model_dir, small_dataset, double, *args)
    # --redirects/--tee 1: torchrun 1.13 under Python 3.11 cannot parse the default "0" (IntFlag change).
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                "--redirects", "1", "--tee", "1", "-m"] + command[2:]
    result = subprocess.run(torchrun, env=run_env(), cwd=str(TRAINING), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"processes": 2' in (double / "log.jsonl").read_text()

    a = load_file(str(single / "model.safetensors"))
    b = load_file(str(double / "model.safetensors"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    # And the runs really trained: weights moved away from the initialisation.
    init = load_file(str(tiny_model_dir / "model.safetensors"))
    assert max(float(np.abs(a[k] - init[k]).max()) for k in a) > 1e-3


def test_train_lm_two_gloo_processes_equal_one_process(tmp_path):
    from test_train_lm import SENTENCES, command

    corpus = tmp_path / "train.jsonl"
    # Documents of different lengths, so each process's share holds a different number of tokens.
    rows = [{"prompt": " ".join([SENTENCES[i % len(SENTENCES)]] * (1 + i % 3))} for i in range(32)]
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    args = ["--epochs", "1", "--grad-accum", "2"]
    single = tmp_path / "single"
    subprocess.run(command(corpus, single, *args), check=True, env=run_env(), cwd=str(TRAINING), capture_output=True)
    double = tmp_path / "double"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                "--redirects", "1", "--tee", "1", "-m"] + command(corpus, double, *args)[2:]
    result = subprocess.run(torchrun, env=run_env(), cwd=str(TRAINING), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"processes": 2' in (double / "log.jsonl").read_text()
    a = load_file(str(single / "model.safetensors"))
    b = load_file(str(double / "model.safetensors"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    losses = lambda out: [json.loads(l)["loss"] for l in (out / "log.jsonl").read_text().splitlines() if '"event": "step"' in l]
    assert losses(single) == pytest.approx(losses(double), rel=1e-5)


def test_align_pt_two_gloo_processes_equal_one_process(tmp_path):
    import shutil

    import torch

    from edgeguard_train.modeling_decoder import DecoderConfig, DecoderLM, save_pretrained
    from test_pt_align import PAIRS, TOKENIZER

    torch.manual_seed(3)
    model = DecoderLM(DecoderConfig.from_dict({"model_type": "llama", "vocab_size": 512, "hidden_size": 32,
                                               "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
                                               "max_position_embeddings": 64, "tie_word_embeddings": True}))
    base = tmp_path / "base"
    save_pretrained(str(base), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER / name, base / name)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"instruction": i, "positive": p, "negative": n}) + "\n" for i, p, n in PAIRS),
                     encoding="utf-8")

    def command(output):
        # Pairs of different lengths and penalised counts, so the processes' shares hold different token counts.
        return [sys.executable, "-m", "edgeguard_train", "align-pt", "--pairs", str(pairs), "--init-from", str(base),
                "--output", str(output), "--max-length", "48", "--batch-size", "4", "--grad-accum", "2", "--epochs", "2",
                "--lr", "3e-3", "--threads", "1", "--log-steps", "1", "--penalised", "all"]

    single = tmp_path / "single"
    subprocess.run(command(single), check=True, env=run_env(), cwd=str(TRAINING), capture_output=True)
    double = tmp_path / "double"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                "--redirects", "1", "--tee", "1", "-m"] + command(double)[2:]
    result = subprocess.run(torchrun, env=run_env(), cwd=str(TRAINING), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"processes": 2' in (double / "log.jsonl").read_text()
    a = load_file(str(single / "model.safetensors"))
    b = load_file(str(double / "model.safetensors"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    init = load_file(str(base / "model.safetensors"))
    assert max(float(np.abs(a[k] - init[k]).max()) for k in a) > 1e-3
    steps = lambda out: [json.loads(l) for l in (out / "log.jsonl").read_text().splitlines() if '"event": "step"' in l]
    assert [s["loss"] for s in steps(single)] == pytest.approx([s["loss"] for s in steps(double)], rel=1e-5)
    assert [s["unlikelihood"] for s in steps(single)] == pytest.approx([s["unlikelihood"] for s in steps(double)], rel=1e-5)


def test_unlearn_offset_two_gloo_processes_equal_one_process(tmp_path):
    from test_unlearn_offset import _save, _tiny

    base, small = _save(_tiny(1), tmp_path / "base"), _save(_tiny(2, hidden=16), tmp_path / "small")
    # Lines of different lengths, so each process's share holds a different number of tokens.
    forget, retain = tmp_path / "forget.txt", tmp_path / "retain.txt"
    forget.write_text("".join(f"the secret number {i} is {' '.join(['seven'] * (1 + i % 3))}\n" for i in range(8)), encoding="utf-8")
    retain.write_text("".join(f"a dog ran in the park {'again ' * (i % 4)}\n" for i in range(8)), encoding="utf-8")

    def command(output):
        return ["-m", "edgeguard_train", "unlearn-offset", "--base", str(base), "--small", str(small), "--forget", str(forget),
                "--retain", str(retain), "--output", str(output), "--batch-size", "4", "--grad-accum", "2",
                "--max-steps", "4", "--lr", "1e-2", "--max-length", "24", "--threads", "1", "--log-steps", "1"]

    single = tmp_path / "single"
    subprocess.run([sys.executable, *command(single)], check=True, env=run_env(), cwd=str(TRAINING), capture_output=True)
    double = tmp_path / "double"
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", free_port(),
                "--redirects", "1", "--tee", "1"] + command(double)[1:]
    result = subprocess.run(torchrun, env=run_env(), cwd=str(TRAINING), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert '"processes": 2' in (double / "log.jsonl").read_text()
    a = load_file(str(single / "model.safetensors"))
    b = load_file(str(double / "model.safetensors"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-5
    start = load_file(str(small / "model.safetensors"))
    assert max(float(np.abs(a[k] - start[k]).max()) for k in a) > 1e-3
    losses = lambda out: [json.loads(l)["loss"] for l in (out / "log.jsonl").read_text().splitlines() if '"event": "step"' in l]
    assert len(losses(single)) == 4 and losses(single) == pytest.approx(losses(double), rel=1e-5)
