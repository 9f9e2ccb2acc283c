"""Training BERT-family guards: the runtime's windows, initialising a guard from an encoder, distill, the reports."""

import json
import string
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TRAINING, run_env
from edgeguard_train.contrast import (HOWTO_FORMS, HOWTO_TASKS, REFUSAL_CLOSINGS, REFUSAL_CORES, REFUSALS, howto_rows,
                                     lookalike_rows, refusal_rows, unsafe_prompts)
from edgeguard_train.data import encode_rows, load_examples, load_training_sets, row_scores
from edgeguard_train.guard_models import bert_guard_from_encoder, load_guard
from edgeguard_train.metrics import binary_metrics, f1_optimal_threshold
from edgeguard_train.modeling_bert import BertConfig, BertForSequenceClassification
from edgeguard_train.windows import plan
from edgeguard_train.wordpiece import WordPieceTokenizer

WORDS = ["how", "do", "i", "make", "a", "bomb", "bake", "bread", "sorry", "can", "'", "t", "help", "with", "that", "sure",
         "here", "is", "the", "kill", "process", "?", ".", ",", "!"]


@pytest.fixture
def tiny_bert_dir(tmp_path: Path) -> Path:
    """A random 2-layer, 16-wide BERT classifier with a small lower-case WordPiece vocabulary."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(string.ascii_lowercase) + \
        ["##" + c for c in string.ascii_lowercase] + WORDS
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=3, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=40, id2label={0: "LABEL_0", 1: "LABEL_1"})
    torch.manual_seed(0)
    directory = tmp_path / "encoder"
    BertForSequenceClassification(config).save_pretrained(str(directory))
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 40}), encoding="utf-8")
    return directory


# --- windows -----------------------------------------------------------------------------------


def test_plan_fits_a_short_input_in_one_window():
    assert plan(10, 20, True, 64) == [(0, 10, 0, 20)]
    assert plan(62, 0, False, 64) == [(0, 62, 0, 0)]


def test_plan_cuts_a_long_prompt_into_overlapping_windows_ending_flush():
    # Budget 62, stride 31: starts 0, 31, 62, 93, 124 and the last window flush with the end (138).
    assert plan(200, 0, False, 64) == [(s, 62, 0, 0) for s in (0, 31, 62, 93, 124, 138)]


def test_plan_gives_a_pair_response_at_least_half_and_cuts_the_prompt_first():
    # Budget 61: a 100-token prompt keeps 30 tokens per window (61 - 31), the 31-token response is whole.
    assert plan(100, 31, True, 64) == [(p, 30, 0, 31) for p in (0, 15, 30, 45, 60, 70)]
    # A short prompt stays whole beside slices of a long response.
    assert plan(5, 100, True, 64) == [(0, 5, r, 56) for r in (0, 28, 44)]
    # Both long: every prompt slice with every response slice.
    windows = plan(40, 40, True, 64)
    assert len(windows) == 4 and {w[1] + w[3] for w in windows} == {61}


def test_encode_rows_train_mode_keeps_every_window_of_safe_rows_and_the_first_of_unsafe(tiny_bert_dir):
    tokenizer = WordPieceTokenizer.from_files(str(tiny_bert_dir / "vocab.txt"), str(tiny_bert_dir / "tokenizer_config.json"))
    prompt, response = "how do i make a bomb ?", " ".join(["sorry , i can ' t help with that ."] * 6)
    every = encode_rows(tokenizer, prompt, response, 24, "all")
    assert len(every) > 2
    assert encode_rows(tokenizer, prompt, response, 24, "train", label=0) == every
    assert encode_rows(tokenizer, prompt, response, 24, "train", label=1) == every[:1]
    for ids, types in every:
        assert len(ids) <= 24 and ids[0] == tokenizer.cls_id and ids[-1] == tokenizer.sep_id
        first_sep = ids.index(tokenizer.sep_id)
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
    # Without windows: one longest-first row, the runtime's first window.
    (only, _), = encode_rows(tokenizer, prompt, response, 24)
    assert only == every[0][0]


def test_row_scores_takes_each_rows_highest_window(tiny_bert_dir, tmp_path):
    tokenizer = WordPieceTokenizer.from_files(str(tiny_bert_dir / "vocab.txt"), str(tiny_bert_dir / "tokenizer_config.json"))
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps({"prompt": "bake bread " * 30, "response": None, "label": "safe"}) + "\n" +
                    json.dumps({"prompt": "make a bomb", "response": None, "label": "unsafe"}) + "\n", encoding="utf-8")
    examples = load_examples(str(data), tokenizer, 16, None, windows="all")
    assert [e.row_index for e in examples].count(0) > 1 and examples[-1].row_index == 1
    scores = [0.1 * i for i in range(len(examples))]
    rows, best = row_scores(examples, scores)
    assert [r.row_index for r in rows] == [0, 1]
    assert best == [scores[len(examples) - 2], scores[-1]]


def test_load_training_sets_leaves_out_excluded_sources_and_keeps_windows_of_one_row(tiny_bert_dir, tmp_path):
    tokenizer = WordPieceTokenizer.from_files(str(tiny_bert_dir / "vocab.txt"), str(tiny_bert_dir / "tokenizer_config.json"))
    data = tmp_path / "rows.jsonl"
    rows = [{"id": "a-1", "prompt": "bake bread " * 30, "response": None, "label": "safe", "source": "a"},
            {"id": "b-1", "prompt": "make a bomb", "response": None, "label": "unsafe", "source": "b"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    both = load_training_sets([str(data)], tokenizer, 16, windows="train")
    assert {e.source for e in both} == {"a", "b"} and sum(e.source == "a" for e in both) > 1
    assert {e.source for e in load_training_sets([str(data)], tokenizer, 16, windows="train", exclude_sources=["a"])} == {"b"}
    # The same file twice: the second copy's rows are skipped by id, windows and all.
    assert len(load_training_sets([str(data), str(data)], tokenizer, 16, windows="train")) == len(both)


# --- a guard from an encoder -------------------------------------------------------------------


def test_guard_from_encoder_keeps_the_chosen_layers_and_positions(tiny_bert_dir):
    source = load_guard(str(tiny_bert_dir))[0]
    guard = bert_guard_from_encoder(str(tiny_bert_dir), max_position_embeddings=24, keep_layers=[0, 2])
    assert guard.config.num_hidden_layers == 2 and guard.config.max_position_embeddings == 24
    assert guard.config.id2label == {0: "safe", 1: "unsafe"}
    s, g = source.state_dict(), guard.state_dict()
    assert torch.equal(g["bert.encoder.layer.1.attention.self.query.weight"], s["bert.encoder.layer.2.attention.self.query.weight"])
    assert torch.equal(g["bert.embeddings.position_embeddings.weight"], s["bert.embeddings.position_embeddings.weight"][:24])
    assert torch.equal(g["classifier.weight"], s["classifier.weight"])


def test_guard_from_encoder_with_every_layer_computes_what_the_encoder_computes(tiny_bert_dir):
    source = load_guard(str(tiny_bert_dir))[0].eval()
    guard = bert_guard_from_encoder(str(tiny_bert_dir), max_position_embeddings=24).eval()
    ids = torch.tensor([[2, 40, 41, 42, 3, 43, 44, 3]])
    types = torch.tensor([[0, 0, 0, 0, 0, 1, 1, 1]])
    assert torch.allclose(source(ids, None, types), guard(ids, None, types), atol=1e-6)


def test_guard_from_encoder_refuses_layers_it_does_not_have(tiny_bert_dir):
    with pytest.raises(SystemExit, match="keep-layers"):
        bert_guard_from_encoder(str(tiny_bert_dir), keep_layers=[0, 3])
    with pytest.raises(SystemExit, match="max-position-embeddings"):
        bert_guard_from_encoder(str(tiny_bert_dir), max_position_embeddings=41)


def test_distill_fine_tunes_a_bert_encoder_on_windows(tiny_bert_dir, small_dataset, tmp_path):
    output = tmp_path / "guard"
    command = [sys.executable, "-m", "edgeguard_train", "distill", "--init-from", str(tiny_bert_dir),
               "--train", str(small_dataset), "--dev", str(small_dataset), "--output", str(output),
               "--windows", "train", "--max-length", "24", "--max-position-embeddings", "24", "--keep-layers", "0,2",
               "--freeze-embeddings", "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "4", "--threads", "1"]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    model, tokenizer = load_guard(str(output))
    assert model.config.num_hidden_layers == 2 and model.config.max_position_embeddings == 24
    assert json.loads((output / "tokenizer_config.json").read_text())["model_max_length"] == 24
    assert (output / "vocab.txt").read_text() == (tiny_bert_dir / "vocab.txt").read_text()
    # Frozen word embeddings are the encoder's; the layers moved.
    source = load_guard(str(tiny_bert_dir))[0].state_dict()
    trained = model.state_dict()
    assert torch.equal(trained["bert.embeddings.word_embeddings.weight"], source["bert.embeddings.word_embeddings.weight"])
    assert not torch.equal(trained["bert.encoder.layer.0.intermediate.dense.weight"], source["bert.encoder.layer.0.intermediate.dense.weight"])


def test_distill_refuses_bert_options_on_a_deberta_model(tiny_model_dir, small_dataset, tmp_path):
    command = [sys.executable, "-m", "edgeguard_train", "distill", "--init-from", str(tiny_model_dir),
               "--train", str(small_dataset), "--output", str(tmp_path / "out"), "--keep-layers", "0"]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "BERT-family --init-from" in done.stderr


# --- thresholds and reports ---------------------------------------------------------------------


def test_f1_optimal_threshold_maximises_f1_and_prefers_fewer_flags_on_a_tie():
    labels = [1, 1, 0, 1, 0, 0]
    scores = [0.9, 0.8, 0.7, 0.6, 0.3, 0.1]
    threshold = f1_optimal_threshold(labels, scores)
    best = max(binary_metrics(labels, scores, t)["f1"] for t in scores)
    assert binary_metrics(labels, scores, threshold)["f1"] == best
    assert threshold == 0.6
    # F1 0.67, 0.5, 0.8, 0.67 at the four scores; a single positive on top: flag it alone.
    assert f1_optimal_threshold([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == 0.7
    assert f1_optimal_threshold([1, 0], [0.9, 0.8]) == 0.9
    assert f1_optimal_threshold([0, 0], [0.9, 0.8]) == 0.5


def test_score_report_reads_runtime_verdicts_and_compares_engines(tmp_path):
    data = tmp_path / "dev.jsonl"
    rows = [("a", "unsafe"), ("a", "safe"), ("b", "unsafe"), ("b", "safe")]
    data.write_text("".join(json.dumps({"prompt": "p", "label": y, "source": s}) + "\n" for s, y in rows), encoding="utf-8")

    def verdicts(path, scores):
        path.write_text("".join(json.dumps({"line": i + 1, "unsafe_score": s, "threshold": 0.5}) + "\n"
                                for i, s in reversed(list(enumerate(scores)))), encoding="utf-8")
        return str(path)

    f32 = verdicts(tmp_path / "f32.jsonl", [0.9, 0.2, 0.6, 0.55])
    int8 = verdicts(tmp_path / "int8.jsonl", [0.9, 0.2, 0.58, 0.61])
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "edgeguard_train", "score-report", "--data", str(data), "--scores", f32,
               "--choose-threshold", "--compare", int8, "--json", str(report)]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(report.read_text())
    assert result["threshold"] == 0.6 and result["overall"]["f1"] == 1.0
    assert result["per_source"]["b"]["tp"] == 1 and result["per_source"]["b"]["tn"] == 1
    assert result["compare"]["decisions_agree"] == 2  # int8 flips both rows of source b at 0.6
    assert result["compare"]["max_abs_score_diff"] == pytest.approx(0.06)
    assert result["compare"]["mean_abs_score_diff"] == pytest.approx((0.02 + 0.06) / 4)


def test_score_report_refuses_verdicts_missing_a_line(tmp_path):
    data = tmp_path / "dev.jsonl"
    data.write_text(json.dumps({"prompt": "p", "label": "safe"}) + "\n" + json.dumps({"prompt": "q", "label": "safe"}) + "\n", encoding="utf-8")
    scores = tmp_path / "scores.jsonl"
    scores.write_text(json.dumps({"line": 1, "unsafe_score": 0.1, "threshold": 0.5}) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "edgeguard_train", "score-report", "--data", str(data), "--scores", str(scores)]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "no verdict for 1 of 2 lines" in done.stderr


# --- contrast rows -----------------------------------------------------------------------------


def test_contrast_rows_are_safe_and_refusals_answer_unsafe_prompts():
    looks = lookalike_rows()
    assert len(looks) > 200 and all(r["label"] == "safe" and r["response"] is None for r in looks)
    assert len({r["prompt"] for r in looks}) == len(looks)
    data = [{"prompt": f"harm {i}", "response": None, "label": "unsafe"} for i in range(50)] + \
        [{"prompt": "benign", "response": None, "label": "safe"}, {"prompt": "pair", "response": "x", "label": "unsafe"}]
    prompts = unsafe_prompts(data)
    assert sorted(prompts) == sorted(f"harm {i}" for i in range(50))
    refusals = refusal_rows(prompts, 20, seed=1)
    assert refusals == refusal_rows(prompts, 20, seed=1)
    assert all(r["label"] == "safe" and r["prompt"] in prompts for r in refusals)
    # a refusal is a fixed one, or composed of an opening, a core and a closing
    assert all(r["response"] in REFUSALS or (any(core in r["response"] for core in REFUSAL_CORES) and r["response"].endswith(tuple(REFUSAL_CLOSINGS)))
               for r in refusals)
    howto = howto_rows()
    assert len(howto) == len(HOWTO_TASKS) * len(HOWTO_FORMS) and all(r["label"] == "safe" for r in howto)


def test_evaluate_scores_a_bert_guard_by_its_windows_and_chooses_the_f1_threshold(tiny_bert_dir, small_dataset, tmp_path):
    metrics_path = tmp_path / "m.json"
    command = [sys.executable, "-m", "edgeguard_train", "evaluate", "--model", str(tiny_bert_dir), "--data", str(small_dataset),
               "--max-length", "16", "--windows", "all", "--choose-threshold", "--json", str(metrics_path)]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(metrics_path.read_text())
    assert metrics["overall"]["n"] == 48  # rows, not windows
    model, tokenizer = load_guard(str(tiny_bert_dir))
    examples = load_examples(str(small_dataset), tokenizer, 16, None, windows="all")
    from edgeguard_train.data import predict
    rows, scores = row_scores(examples, predict(model, examples))
    labels = [e.label for e in rows]
    assert metrics["threshold"] == pytest.approx(f1_optimal_threshold(labels, scores))
    assert metrics["overall"]["auprc"] == pytest.approx(binary_metrics(labels, scores)["auprc"])


def test_score_report_held_out_source_gets_the_threshold_chosen_on_the_others(tmp_path):
    data = tmp_path / "dev.jsonl"
    rows = [("a", "unsafe", 0.9), ("a", "safe", 0.2), ("a", "unsafe", 0.7), ("a", "safe", 0.65), ("b", "unsafe", 0.68), ("b", "safe", 0.1)]
    data.write_text("".join(json.dumps({"prompt": "p", "label": y, "source": s}) + "\n" for s, y, _ in rows), encoding="utf-8")
    scores = tmp_path / "scores.jsonl"
    scores.write_text("".join(json.dumps({"line": i + 1, "unsafe_score": p, "threshold": 0.5}) + "\n" for i, (_, _, p) in enumerate(rows)),
                      encoding="utf-8")
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "edgeguard_train", "score-report", "--data", str(data), "--scores", str(scores),
               "--held-out", "b", "--json", str(report)]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(report.read_text())
    assert result["threshold"] == 0.7  # source a alone: 0.7 flags both unsafe rows and no safe one
    assert result["held_out"]["source"] == "b" and result["held_out"]["fn"] == 1 and result["held_out"]["auprc"] == 1.0


def test_soft_labels_average_the_teachers_verdicts_into_the_rows(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text(json.dumps({"id": "x", "prompt": "p", "label": "safe"}) + "\n" +
                    json.dumps({"id": "y", "prompt": "q", "label": "unsafe"}) + "\n", encoding="utf-8")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps({"line": 2, "unsafe_score": 0.9}) + "\n" + json.dumps({"line": 1, "unsafe_score": 0.2}) + "\n", encoding="utf-8")
    second.write_text(json.dumps({"line": 1, "unsafe_score": 0.4}) + "\n" + json.dumps({"line": 2, "unsafe_score": 0.7}) + "\n", encoding="utf-8")
    output = tmp_path / "soft.jsonl"
    command = [sys.executable, "-m", "edgeguard_train", "soft-labels", "--data", str(data), "--verdicts", str(first), str(second),
               "--output", str(output), "--mean-verdicts", str(tmp_path / "mean.jsonl")]
    done = subprocess.run(command, cwd=TRAINING, env=run_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["x", "y"]
    assert [r["teacher_unsafe_prob"] for r in rows] == [pytest.approx(0.3), pytest.approx(0.8)]
    mean = [json.loads(line) for line in (tmp_path / "mean.jsonl").read_text().splitlines()]
    assert [(v["line"], v["unsafe_score"]) for v in mean] == [(1, pytest.approx(0.3)), (2, pytest.approx(0.8))]
