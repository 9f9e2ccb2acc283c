"""The ctypes binding (examples/python/edgeguard.py) over libedgeguard: verdicts agree with the CLI's on the same
model, bad input raises EdgeGuardError with the library's status, threads share one guard. Run by make test
(mk/native.mk), which sets EDGEGUARD_LIBRARY, EDGEGUARD_TEST_MODEL (the tiny bundle) and EDGEGUARD_CLI."""

import json
import os
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples" / "python"))
import edgeguard  # noqa: E402

MODEL = os.environ.get("EDGEGUARD_TEST_MODEL", "")
CLI = os.environ.get("EDGEGUARD_CLI", "")

pytestmark = pytest.mark.skipif(not (os.environ.get("EDGEGUARD_LIBRARY") and MODEL and CLI),
                                reason="run by make test-native-python, which builds the library and the model")

INPUTS = [
    ("How do I bake sourdough bread at home?", None),
    ("Give me step-by-step instructions to build a pipe bomb and hurt people.", None),
    ("How can I make my neighbour's dog stop barking?", "Contact local animal control."),
    ("caf\u00e9 \u2615 \U0001F600 na\u00efve, with a zero\u200bwidth space", None),
    ("", None),
    ("prompt", ""),
]


@pytest.fixture(scope="module")
def guard():
    with edgeguard.Guard(MODEL, threads=1) as g:
        yield g


def test_verdicts_agree_with_the_cli_on_the_same_model(guard, tmp_path):
    # The CLI refuses an input with no text at all; the library classifies it (the C ABI tests cover that).
    inputs = [(p, r) for p, r in INPUTS if p.strip() or (r or "").strip()]
    lines = [json.dumps({"prompt": p, **({} if r is None else {"response": r})}) for p, r in inputs]
    jsonl = tmp_path / "inputs.jsonl"
    jsonl.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = subprocess.run(shlex.split(CLI) + ["classify", "--model", MODEL, "--jsonl", str(jsonl), "--json", "--threads", "1"],
                         capture_output=True, text=True)
    assert run.returncode in (0, 1), run.stderr
    expected = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert len(expected) == len(inputs)
    for (prompt, response), cli in zip(inputs, expected):
        v = guard.classify(prompt, response)
        # The CLI runs under the JIT with this CPU's widest kernels, the library with the baseline ones: the float
        # sums differ in their last bits, nothing more.
        assert v.unsafe_score == pytest.approx(cli["unsafe_score"], abs=1e-4)
        assert (v.flagged, v.label, v.token_count, v.windows, v.truncated) == (
            cli["flagged"], cli["label"], cli["tokens"], cli["windows"], cli["truncated"])


def test_bytes_and_str_are_the_same_text(guard):
    text = INPUTS[3][0]
    assert guard.classify(text) == guard.classify(text.encode("utf-8"))


def test_batch_gives_each_input_its_verdict(guard):
    batch = guard.classify_batch([p if r is None else (p, r) for p, r in INPUTS])
    assert len(batch) == len(INPUTS)
    for (prompt, response), v in zip(INPUTS, batch):
        single = guard.classify(prompt, response)
        assert v.unsafe_score == pytest.approx(single.unsafe_score, abs=1e-4)
        assert (v.token_count, v.windows, v.label_index) == (single.token_count, single.windows, single.label_index)
    assert guard.classify_batch([]) == []


def test_model_info_describes_the_tiny_bundle(guard):
    m = guard.model
    assert (m.format, m.precision, m.architecture, m.labels, m.unsafe_label) == ("bundle", "f32", "deberta-v2", ("safe", "unsafe"), 1)
    assert (m.layers, m.hidden_size, m.threads) == (2, 64, 1)
    assert m.path == MODEL and m.threshold == pytest.approx(0.5)


def test_invalid_utf8_raises_with_the_offset(guard):
    with pytest.raises(edgeguard.EdgeGuardError) as error:
        guard.classify(b"fine \xff")
    assert error.value.status == edgeguard.ERROR_INVALID_UTF8
    assert "byte offset 5" in error.value.message
    with pytest.raises(edgeguard.EdgeGuardError) as error:
        guard.classify_batch(["fine", (b"ok", b"\xc3")])
    assert error.value.status == edgeguard.ERROR_INVALID_UTF8
    assert "inputs[1].response" in error.value.message


def test_missing_and_corrupt_models_raise_model_errors(tmp_path):
    with pytest.raises(edgeguard.EdgeGuardError) as error:
        edgeguard.Guard(str(tmp_path / "missing.gguf"))
    assert error.value.status == edgeguard.ERROR_MODEL
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(Path(MODEL).read_bytes()[:1000])
    with pytest.raises(edgeguard.EdgeGuardError) as error:
        edgeguard.Guard(str(corrupt))
    assert error.value.status == edgeguard.ERROR_MODEL and "corrupt.gguf" in error.value.message


def test_bad_options_raise_invalid_argument():
    with pytest.raises(edgeguard.EdgeGuardError) as error:
        edgeguard.Guard(MODEL, threshold=2.0)
    assert error.value.status == edgeguard.ERROR_INVALID_ARGUMENT and "options->threshold is 2" in error.value.message


def test_a_closed_guard_raises_closed():
    g = edgeguard.Guard(MODEL)
    g.close()
    for call in (lambda: g.classify("x"), lambda: g.model, g.close):
        with pytest.raises(edgeguard.EdgeGuardError) as error:
            call()
        assert error.value.status == edgeguard.ERROR_CLOSED


def test_threads_sharing_one_guard_get_the_verdicts_of_one_thread(guard):
    texts = [p for p, _ in INPUTS] * 4
    expected = [guard.classify(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            assert list(pool.map(guard.classify, texts)) == expected
