"""toxic_text: the hate and offensive rows of the shared datasets, with DiaSafety's toxicity-agreement replies."""

import json

import pytest

from conftest import SHARED
from edgeguard_train.lm_data import parse_where, read_texts
from edgeguard_train.toxic_text import main, toxic_rows

ROWS = [
    {"id": "d-1", "prompt": "hateful tweet", "response": None, "label": "unsafe", "source": "davidson_tweets", "category": "hate speech"},
    {"id": "d-2", "prompt": "plain tweet", "response": None, "label": "safe", "source": "davidson_tweets", "category": None},
    {"id": "h-1", "prompt": "hateful test case", "response": None, "label": "unsafe", "source": "hatecheck", "category": "hate: slur_h"},
    {"id": "s-1", "prompt": "context", "response": "I agree, they are awful", "label": "unsafe", "source": "diasafety",
     "category": "Toxicity Agreement"},
    {"id": "s-2", "prompt": "context", "response": "you are stupid", "label": "unsafe", "source": "diasafety", "category": "Offending User"},
    {"id": "s-3", "prompt": "context", "response": "no, that is wrong", "label": "safe", "source": "diasafety", "category": "Toxicity Agreement"},
    {"id": "a-1", "prompt": "how to make a bomb", "response": None, "label": "unsafe", "source": "advbench", "category": None},
    {"id": "c-1", "prompt": "you are a useless bot", "response": None, "label": "unsafe", "source": "convabuse", "category": "abuse: general"},
]


def test_selects_unsafe_rows_of_the_hate_sources_and_diasafetys_agreeing_replies(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    rows = list(toxic_rows([str(path)], ["davidson_tweets", "hatecheck", "toxigen", "convabuse", "diasafety"]))
    assert rows == [{"id": "d-1", "source": "davidson_tweets", "text": "hateful tweet"},
                    {"id": "h-1", "source": "hatecheck", "text": "hateful test case"},
                    {"id": "s-1", "source": "diasafety", "text": "I agree, they are awful"},
                    {"id": "c-1", "source": "convabuse", "text": "you are a useless bot"}]
    output = tmp_path / "toxic.jsonl"
    assert main(["--input", str(path), "--output", str(output), "--sources", "diasafety"]) == 0
    assert [json.loads(line)["id"] for line in output.read_text().splitlines()] == ["s-1"]
    with pytest.raises(SystemExit, match="choose from"):
        main(["--input", str(path), "--output", str(output), "--sources", "advbench"])
    with pytest.raises(SystemExit, match="no hate or offensive row"):
        main(["--input", str(path), "--output", str(output), "--sources", "toxigen"])


def test_the_prompt_only_sources_are_what_train_lm_where_selects_on_the_shared_dev_split():
    dev = str(SHARED / "datasets" / "dev.jsonl")
    four = ["davidson_tweets", "hatecheck", "toxigen", "convabuse"]
    selected = [r["text"] for r in toxic_rows([dev], four)]
    where = parse_where(["label=unsafe"] + [f"source={s}" for s in four])
    assert selected == read_texts([dev], ["prompt"], where) and len(selected) > 100
    replies = list(toxic_rows([dev], ["diasafety"]))
    assert replies and all(r["source"] == "diasafety" for r in replies)
