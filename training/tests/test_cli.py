import importlib.util
import subprocess
import sys

import pytest

from conftest import TRAINING, run_env
from edgeguard_train.__main__ import STAGES


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edgeguard_train", *args], env=run_env(), cwd=str(TRAINING),
                          capture_output=True, text=True, timeout=120)


def test_top_level_help_lists_every_stage():
    result = _cli("--help")
    assert result.returncode == 0
    for stage in ("augment", "label", "distill", "evaluate", "export", "quantize-onnx", "train-tokenizer",
                  "import-onnx-bert", "make-fixture"):
        assert stage in result.stdout


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_help(stage):
    result = _cli(stage, "--help")
    if importlib.util.find_spec(STAGES[stage]) is None:
        # A stage whose module is not installed fails cleanly, naming the stage.
        assert result.returncode == 2 and stage in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert "usage: python3 -m edgeguard_train " + stage in result.stdout


def test_unknown_stage_is_an_error():
    result = _cli("no-such-stage")
    assert result.returncode == 2
