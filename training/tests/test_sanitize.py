"""The input sanitiser: the shared vectors (tests/data/sanitizer/) the runtime's C# tests check too, and the generated
files in step with the code."""

import json
import unicodedata

import pytest

from conftest import REPO_ROOT
from edgeguard_train import sanitize_tables
from edgeguard_train.sanitize import is_removed, sanitize
from edgeguard_train.sanitize_generate import (build_tables, evasion_rows, render_csharp, render_python, render_sweep,
                                               sweep)

DATA = REPO_ROOT / "tests" / "data"
CSHARP_TABLES = REPO_ROOT / "src" / "EdgeGuard" / "Text" / "SanitizerTables.cs"


def _input(case):
    """"input", or "input_utf16" (UTF-16 code units, for text with lone surrogates) decoded as the runtime sees it."""
    if "input" in case:
        return case["input"]
    units = case["input_utf16"]
    return b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le", "surrogatepass")


def _cases():
    return json.loads((DATA / "sanitizer" / "cases.json").read_text(encoding="utf-8"))


def test_shared_cases_give_the_expected_text():
    cases = _cases()
    assert len(cases) > 100
    failures = [f"{c['class']}: {c['name']}: got {sanitize(_input(c))!r}" for c in cases if sanitize(_input(c)) != c["expected"]]
    assert not failures, "\n".join(failures)


def test_shared_cases_cover_every_class_of_character():
    classes = {c["class"] for c in _cases()}
    assert classes >= {"unchanged", "default-ignorable", "bidi-control", "bidi-override", "control", "surrogate", "fold"}
    ignorable_cases = {ord(ch) for c in _cases() if c["class"] in ("default-ignorable", "bidi-control", "bidi-override") for ch in c["input"] if is_removed(ord(ch))}
    # At least one character from every Default_Ignorable_Code_Point range.
    for first, last in sanitize_tables.DEFAULT_IGNORABLE:
        assert any(first <= cp <= last for cp in ignorable_cases), f"U+{first:04X}..U+{last:04X}"


def test_sweep_file_is_what_this_sanitizer_writes():
    # The runtime's tests check the C# sanitiser against this file, so it must be this implementation's output.
    assert (DATA / "sanitizer" / "sweep.json").read_text(encoding="utf-8") == render_sweep(sweep())


def test_csharp_tables_are_the_python_tables():
    assert CSHARP_TABLES.read_text(encoding="utf-8") == render_csharp(sanitize_tables)


@pytest.mark.skipif(unicodedata.unidata_version != sanitize_tables.UNICODE_VERSION,
                    reason=f"this Python has Unicode {unicodedata.unidata_version}, the tables {sanitize_tables.UNICODE_VERSION}")
def test_tables_are_the_unicode_data_they_name():
    with open(sanitize_tables.__file__, encoding="utf-8") as f:
        assert f.read() == render_python(build_tables())


def test_default_ignorable_list_has_the_derived_property_size():
    # DerivedCoreProperties.txt 14.0.0 counts 4174 Default_Ignorable_Code_Point code points.
    assert sum(last - first + 1 for first, last in sanitize_tables.DEFAULT_IGNORABLE) == 4174


@pytest.mark.parametrize("text", ["How do I bake bread?", "tabs\tand\nnewlines stay", "café, 中文, עברית, 😀, Ω", ""])
def test_clean_text_is_returned_as_the_same_object(text):
    assert sanitize(text) is text


def test_sanitized_text_is_a_fixed_point():
    for case in json.loads((DATA / "sanitizer" / "sweep.json").read_text(encoding="utf-8"))["strings"]:
        once = sanitize(_input(case))
        assert sanitize(once) is once


def _evasion_rows():
    with open(DATA / "evasion" / "invisible-characters.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_evasion_set_is_what_the_generator_writes():
    assert _evasion_rows() == evasion_rows()


def test_every_evasion_spelling_sanitizes_to_the_clean_text():
    failures = [row["id"] for row in _evasion_rows() if sanitize(row["text"]) != row["clean"]]
    assert not failures

