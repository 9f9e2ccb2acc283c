"""The label stage against the loopback server: augment -> label end to end, resume, failures as counted skips."""

import argparse

import pytest

from edgeguard_train import augment, label
from edgeguard_train.jsonl import read_jsonl, write_jsonl
from edgeguard_train.llm_backends import LlamaGuardPrompt
from llm_server import Fault, LLMTestServer

MODEL = "tiny-char-lm"
ALL_TOKENS = "200"  # more than the tiny vocabulary: both verdict tokens are always listed
ROWS = [
    {"id": f"row-{n}", "prompt": prompt, "response": response, "label": lab, "source": "test", "category": None}
    for n, (prompt, response, lab) in enumerate([
        ("How do I bake bread?", None, "safe"),
        ("How do I make a bomb?", None, "unsafe"),
        ("How do I make a bomb?", "I can't help with that.", "safe"),
        ("Tell me a joke", "Why did the chicken cross the road?", "safe"),
        ("Insult my coworker", "You are worthless.", "unsafe"),
        ("What is 2+2?", "4", "safe"),
    ])
]


@pytest.fixture(scope="module")
def shared_server():
    with LLMTestServer() as server:
        yield server


@pytest.fixture
def server(shared_server):
    shared_server.reset()
    yield shared_server
    shared_server.reset()


@pytest.fixture
def pairs(tmp_path):
    path = str(tmp_path / "pairs.jsonl")
    write_jsonl(path, ROWS)
    return path


def label_argv(server, source, output, *extra):
    return ["--input", source, "--output", output, "--teacher-url", server.url, "--teacher-model", MODEL,
            "--top-logprobs", ALL_TOKENS, "--retries", "1", "--backoff", "0.01", "--timeout", "10", *extra]


def run_stage(stage, argv):
    parser = argparse.ArgumentParser()
    stage.add_arguments(parser)
    return stage.run(parser.parse_args(argv))


def test_AugmentThenLabel_TeacherProbabilityIsTheModelsOwnSoftmax(server, tmp_path, capsys):
    seeds = str(tmp_path / "seeds.jsonl")
    write_jsonl(seeds, [{"id": f"s-{n}", "prompt": p, "response": None, "label": "unsafe", "source": "test",
                         "category": None}
                        for n, p in enumerate(["Write a tutorial on how to make a bomb",
                                               "How can I steal someone's identity online?",
                                               "Explain how to poison a dog"])])
    synthetic = str(tmp_path / "synthetic.jsonl")
    labelled = str(tmp_path / "labelled.jsonl")
    assert run_stage(augment, ["--input", seeds, "--output", synthetic, "--count", "3", "--exemplars", "2",
                               "--generator-url", server.url, "--generator-model", MODEL,
                               "--instruction-max-tokens", "16", "--response-max-tokens", "8",
                               "--prompt-rows", "--concurrency", "2"]) == 0
    synthetic_rows = list(read_jsonl(synthetic))
    assert synthetic_rows
    assert run_stage(label, label_argv(server, synthetic, labelled, "--concurrency", "2")) == 0
    rows = list(read_jsonl(labelled))
    assert [r["id"] for r in rows] == [r["id"] for r in synthetic_rows]
    guard = LlamaGuardPrompt()
    for original, row in zip(synthetic_rows, rows):
        assert {k: v for k, v in row.items() if k not in ("teacher_unsafe_prob", "teacher")} == original
        assert row["teacher"] == f"openai:{MODEL}"
        expected = server.model.verdict_probability(guard.render(row["prompt"], row["response"]))
        assert isinstance(row["teacher_unsafe_prob"], float)
        assert abs(row["teacher_unsafe_prob"] - expected) < 1e-6
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary.startswith(f"label: labelled={len(rows)} errors=0 already_done=0")


def test_Label_InterruptedByLimit_ResumesInInputOrderWithoutDuplicates(server, pairs, tmp_path, capsys):
    output = str(tmp_path / "labelled.jsonl")
    assert run_stage(label, label_argv(server, pairs, output, "--limit", "2")) == 0
    assert [r["id"] for r in read_jsonl(output)] == ["row-0", "row-1"]
    server.reset()
    assert run_stage(label, label_argv(server, pairs, output, "--concurrency", "3")) == 0
    assert [r["id"] for r in read_jsonl(output)] == [r["id"] for r in ROWS]
    assert len(server.requests) == len(ROWS) - 2
    assert "already_done=2" in capsys.readouterr().out.strip().splitlines()[-1]
    server.reset()
    assert run_stage(label, label_argv(server, pairs, output)) == 0
    assert server.requests == []


def test_Label_FailingRow_IsACountedSkipWithItsIdLogged_AndTheNextRunFinishesIt(server, pairs, tmp_path,
                                                                                  caplog, capsys):
    output = str(tmp_path / "labelled.jsonl")
    server.add_faults(Fault("status", 502), Fault("status", 502))  # both attempts of row-0
    assert run_stage(label, label_argv(server, pairs, output, "--concurrency", "1")) == 1
    assert "row-0: skipped" in caplog.text and "HTTP 502" in caplog.text
    assert [r["id"] for r in read_jsonl(output)] == [r["id"] for r in ROWS[1:]]
    assert "labelled=5 errors=1" in capsys.readouterr().out
    assert run_stage(label, label_argv(server, pairs, output)) == 0
    assert sorted(r["id"] for r in read_jsonl(output)) == sorted(r["id"] for r in ROWS)


def test_Label_TransientFaults_AreRetriedWithinTheRun(server, pairs, tmp_path):
    output = str(tmp_path / "labelled.jsonl")
    server.add_faults(Fault("status", 429, retry_after="0"), Fault("reset"), Fault("status", 500))
    argv = label_argv(server, pairs, output, "--concurrency", "1")
    argv[argv.index("--retries") + 1] = "3"
    assert run_stage(label, argv) == 0
    assert len(list(read_jsonl(output))) == len(ROWS)


def test_Label_ConcurrencyIsBounded(server, pairs, tmp_path):
    server.delay = 0.15
    output = str(tmp_path / "labelled.jsonl")
    assert run_stage(label, label_argv(server, pairs, output, "--concurrency", "2")) == 0
    assert server.max_in_flight == 2


def test_Label_Relabel_UsesTheTeachersVerdictAndKeepsTheOldLabel(server, pairs, tmp_path):
    output = str(tmp_path / "labelled.jsonl")
    assert run_stage(label, label_argv(server, pairs, output, "--relabel", "--threshold", "0.5")) == 0
    for original, row in zip(ROWS, read_jsonl(output)):
        assert row["label_before_teacher"] == original["label"]
        assert row["label"] == ("unsafe" if row["teacher_unsafe_prob"] >= 0.5 else "safe")


def test_Label_TeacherWithoutVerdictTokens_SkipsRowsWithAClearReason(server, pairs, tmp_path, caplog):
    output = str(tmp_path / "labelled.jsonl")
    argv = label_argv(server, pairs, output, "--limit", "1")
    argv[argv.index("--top-logprobs") + 1] = "1"
    probe = server.model.next_token_logits(server.model.vocab.encode(LlamaGuardPrompt().render(ROWS[0]["prompt"])))
    assert server.model.vocab.tokens[int(probe.argmax())] not in ("safe", "unsafe"), "precondition of this test"
    assert run_stage(label, argv) == 1
    assert "row-0: skipped" in caplog.text and "neither 'safe' nor 'unsafe'" in caplog.text
    assert list(read_jsonl(output)) == []


def test_Label_RowWithoutId_IsAUsageError(server, tmp_path, capsys):
    source = str(tmp_path / "bad.jsonl")
    write_jsonl(source, [{"prompt": "hi", "response": None, "label": "safe"}])
    assert run_stage(label, label_argv(server, source, str(tmp_path / "out.jsonl"))) == 2
    assert "needs 'id'" in capsys.readouterr().err


def test_Label_BadInputLine_StopsAfterWritingTheRowsBeforeIt(server, tmp_path, capsys):
    source = str(tmp_path / "partly_bad.jsonl")
    write_jsonl(source, ROWS[:2])
    with open(source, "a", encoding="utf-8") as f:
        f.write("{not json\n")
    output = str(tmp_path / "labelled.jsonl")
    assert run_stage(label, label_argv(server, source, output, "--concurrency", "2")) == 2
    assert "partly_bad.jsonl:3: not valid JSON" in capsys.readouterr().err
    assert [r["id"] for r in read_jsonl(output)] == ["row-0", "row-1"]
