import json
import subprocess
import sys

import numpy as np
import onnx
import torch

from conftest import TRAINING, fixture_dir, run_env
from edgeguard_train.export import export_onnx, onnx_parity
from edgeguard_train.modeling_deberta import DebertaV2ForSequenceClassification
from edgeguard_train.safetensors_io import load_file


def test_onnx_of_the_fixture_matches_pytorch_and_the_fixture(tmp_path):
    model = DebertaV2ForSequenceClassification.from_pretrained(str(fixture_dir("tiny-buckets")))
    path = tmp_path / "model.onnx"
    export_onnx(model, str(path))
    graph = onnx.load(str(path))
    assert [i.name for i in graph.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in graph.graph.output] == ["logits"]
    dims = [d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence"]
    # Shapes other than the traced (2, 7), including one beyond max_position_embeddings.
    assert onnx_parity(model, str(path), shapes=((1, 3), (3, 19), (2, 80))) <= 1e-4

    from edgeguard_train.onnx_numpy import run_model
    with open(fixture_dir("tiny-buckets") / "cases.json", encoding="utf-8") as f:
        case = next(c for c in json.load(f) if c["name"] == "batch3_right_padded")
    logits = run_model(graph, {"input_ids": np.array(case["input_ids"], dtype=np.int64),
                               "attention_mask": np.array(case["attention_mask"], dtype=np.int64)})["logits"]
    assert np.abs(logits - np.array(case["expected_logits"])).max() <= 1e-4


def test_export_cli_writes_the_runtime_files(tiny_model_dir, tmp_path):
    output = tmp_path / "exported"
    result = subprocess.run([sys.executable, "-m", "edgeguard_train", "export", "--model", str(tiny_model_dir),
                             "--output", str(output), "--dtype", "f16"],
                            env=run_env(), cwd=str(TRAINING), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "onnx_max_abs_diff=" in result.stdout
    for name in ("config.json", "model.safetensors", "spm.model", "model.onnx"):
        assert (output / name).exists()
    header_dtypes = {a.dtype for a in load_file(str(output / "model.safetensors")).values()}
    assert header_dtypes == {np.dtype("float16")}
    reloaded = DebertaV2ForSequenceClassification.from_pretrained(str(output))
    original = DebertaV2ForSequenceClassification.from_pretrained(str(tiny_model_dir))
    ids = torch.tensor([[1, 300, 301, 2]])
    with torch.no_grad():
        assert torch.allclose(reloaded(ids), original(ids), atol=1e-2)


def _export(model_dir, output, *flags):
    return subprocess.run([sys.executable, "-m", "edgeguard_train", "export", "--model", str(model_dir),
                           "--output", str(output), *flags],
                          env=run_env(), cwd=str(TRAINING), capture_output=True, text=True)


def test_export_parity_can_be_shortened_or_skipped(tiny_model_dir, tmp_path):
    shortened = _export(tiny_model_dir, tmp_path / "short", "--parity-shapes", "2x4")
    assert shortened.returncode == 0, shortened.stderr[-2000:]
    assert "onnx_max_abs_diff=" in shortened.stdout
    skipped = _export(tiny_model_dir, tmp_path / "skipped", "--no-parity")
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "parity=skipped" in skipped.stdout and "onnx_max_abs_diff" not in skipped.stdout
    onnx.checker.check_model(str(tmp_path / "skipped" / "model.onnx"))
    malformed = _export(tiny_model_dir, tmp_path / "malformed", "--parity-shapes", "3by19")
    assert malformed.returncode == 2 and "BATCHxLENGTH" in malformed.stderr
