"""make-antidote-golden: the committed golden (tests/fixtures/antidote) is what the module writes, byte for byte, and the
Python sampling it records is what random.Random gives."""

import filecmp
import json
import random

from conftest import REPO_ROOT
from edgeguard_train import antidote_golden

GOLDEN = REPO_ROOT / "tests" / "fixtures" / "antidote"


def test_golden_folder_is_what_the_generator_writes(tmp_path):
    antidote_golden.write(str(tmp_path), str(REPO_ROOT))
    for name in (antidote_golden.FILE_NAME, antidote_golden.CALIBRATION):
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), f"{name} drifted; rerun make-antidote-golden"
    for spec in antidote_golden.MODELS:
        written = sorted(p.name for p in (tmp_path / spec.name).iterdir())
        assert written == sorted(p.name for p in (GOLDEN / spec.name).iterdir())
        for name in written:
            assert filecmp.cmp(tmp_path / spec.name / name, GOLDEN / spec.name / name, shallow=False), f"{spec.name}/{name} drifted"


def test_golden_covers_both_sampling_strategies_and_every_run():
    document = json.loads((GOLDEN / antidote_golden.FILE_NAME).read_text(encoding="utf-8"))
    assert document["format"] == antidote_golden.FORMAT
    runs = {(r["model"], r["linears"], r["mode"]) for r in document["runs"]}
    assert runs == {(m.name, l, mode) for m in antidote_golden.MODELS for l in ("qkv", "all") for mode in ("wanda", "magnitude")}
    # random.sample keeps a pool when n <= 21 + 4 ** ceil(log4(3k)) (85 for k = 12), else a set of picks.
    sizes = {(c["population"], c["k"]) for c in document["sampling"]}
    assert (85, 12) in sizes and (86, 12) in sizes and (1000, 128) in sizes
    for case in document["sampling"]:
        assert case["sorted_sample"] == sorted(random.Random(case["seed"]).sample(range(case["population"]), case["k"]))
    for run in document["runs"]:
        assert run["rows_available"] > run["rows_used"] == 12, "the runs draw their rows by the seed"
