"""Text for decoder language models: which JSONL fields and rows make a training text (or the lines of a ``.txt``
file), mixing in a fraction of another file's rows, and the decoder tokenizer of a Hugging Face directory
(``tokenizer.json`` + ``tokenizer_config.json``, as ``train-bpe`` writes them and the runtime's ``hf-tokenizer-json``
reads them)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .byte_level_bpe import ByteLevelBpeTokenizer
from .jsonl import read_jsonl

# The files of a decoder tokenizer directory that travel with a model (the runtime reads these names).
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja")


def add_text_arguments(parser: argparse.ArgumentParser) -> None:
    """``--text-fields`` and ``--where``: what text a JSONL row gives."""
    parser.add_argument("--text-fields", default="prompt,response",
                        help="comma-separated row fields whose strings, joined by a newline, are a row's text; "
                             "fields that are missing, null or blank are left out (default prompt,response)")
    parser.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE",
                        help="keep only rows whose FIELD equals VALUE (e.g. label=safe, source=hatecheck); repeatable: "
                             "values of one field are alternatives, different fields must all match")


def parse_where(values: Sequence[str], flag: str = "--where") -> Dict[str, List[str]]:
    """``FIELD=VALUE`` filters as field -> accepted values."""
    result: Dict[str, List[str]] = {}
    for value in values:
        field, sep, accepted = value.partition("=")
        if not sep or not field:
            raise SystemExit(f"{flag} {value!r} is not FIELD=VALUE")
        result.setdefault(field, []).append(accepted)
    return result


def parse_fields(text: str) -> List[str]:
    fields = [f.strip() for f in text.split(",") if f.strip()]
    if not fields:
        raise SystemExit(f"--text-fields {text!r} names no field")
    return fields


def row_matches(row: Dict[str, Any], where: Dict[str, List[str]]) -> bool:
    # A JSON null compares as "null", a number or boolean as its JSON spelling.
    return all((json.dumps(row.get(field)) if not isinstance(row.get(field), str) else row[field]) in accepted
               for field, accepted in where.items())


def row_text(row: Dict[str, Any], fields: Sequence[str]) -> Optional[str]:
    """The row's text: its non-blank string ``fields`` joined by a newline, or None when there is none."""
    parts = [row[f] for f in fields if isinstance(row.get(f), str) and row[f].strip()]
    return "\n".join(parts) if parts else None


def is_plain_text(path: str) -> bool:
    """A ``.txt`` file holds one text per line; every other file is JSONL rows."""
    return path.endswith(".txt")


def read_lines(path: str) -> List[str]:
    """The non-blank lines of a plain text file, without their line ends."""
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\r\n") for line in f if line.strip()]


def read_texts(paths: Sequence[str], fields: Sequence[str], where: Dict[str, List[str]],
               limit: Optional[int] = None) -> List[str]:
    """The texts of the rows of ``paths`` that match ``where``, in file order (at most ``limit``); a ``.txt`` file
    gives its non-blank lines (``fields`` and ``where`` select JSONL rows, so a filter on a text file is refused)."""
    texts: List[str] = []
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"{path}: no such file")
        if is_plain_text(path):
            if where:
                raise SystemExit(f"{path}: a plain text file (one text per line) has no fields to filter with --where")
            for line in read_lines(path):
                texts.append(line)
                if limit is not None and len(texts) >= limit:
                    return texts
            continue
        for row in read_jsonl(path):
            if not row_matches(row, where):
                continue
            text = row_text(row, fields)
            if text is not None:
                texts.append(text)
                if limit is not None and len(texts) >= limit:
                    return texts
    return texts


def mixed_in(texts: Sequence[str], fraction: float, seed: int) -> List[str]:
    """``round(fraction * len(texts))`` of ``texts``, chosen by ``seed`` and kept in file order."""
    if not 0.0 <= fraction <= 1.0:
        raise SystemExit(f"--mix-fraction {fraction} is not in [0, 1]")
    count = int(round(fraction * len(texts)))
    chosen = sorted(random.Random(seed).sample(range(len(texts)), count))
    return [texts[i] for i in chosen]


@dataclass
class DecoderTokenizer:
    """A byte-level BPE tokenizer with the BOS and EOS ids its ``tokenizer_config.json`` names."""

    bpe: ByteLevelBpeTokenizer
    bos_id: Optional[int]
    eos_id: Optional[int]
    directory: str

    @staticmethod
    def load(directory: str) -> "DecoderTokenizer":
        path = os.path.join(directory, "tokenizer.json")
        if not os.path.exists(path):
            raise SystemExit(f"{directory}: no tokenizer.json (train-bpe writes one)")
        bpe = ByteLevelBpeTokenizer.from_tokenizer_json(path)
        bos = eos = None
        config_path = os.path.join(directory, "tokenizer_config.json")
        if os.path.exists(config_path):
            with open(config_path, encoding="utf-8") as f:
                config = json.load(f)

            def token_id(field: str) -> Optional[int]:
                value = config.get(field)
                if isinstance(value, dict):
                    value = value.get("content")
                if value is None:
                    return None
                if value not in bpe.vocab:
                    raise SystemExit(f"{config_path}: {field} {value!r} is no token of tokenizer.json")
                return bpe.vocab[value]

            bos, eos = token_id("bos_token"), token_id("eos_token")
        return DecoderTokenizer(bpe, bos, eos, directory)

    @property
    def vocab_size(self) -> int:
        return self.bpe.vocab_size

    def text(self, ids: Sequence[int]) -> str:
        """The text of generated ``ids``: special tokens (EOS) and ids beyond the tokenizer (padded embeddings) leave none."""
        return self.bpe.decode([i for i in ids if i < self.vocab_size])

    def document(self, text: str, max_length: int) -> List[int]:
        """``BOS text EOS`` (each when the tokenizer has one), cut to ``max_length`` ids; a cut row keeps its BOS."""
        ids = ([self.bos_id] if self.bos_id is not None else []) + self.bpe.encode(text)
        if self.eos_id is not None:
            ids.append(self.eos_id)
        return ids[:max_length]


def copy_tokenizer_files(source: str, destination: str) -> List[str]:
    """Copies the decoder tokenizer files ``source`` holds into ``destination``; returns their names."""
    copied = []
    for name in TOKENIZER_FILES:
        path = os.path.join(source, name)
        if os.path.exists(path) and os.path.abspath(path) != os.path.abspath(os.path.join(destination, name)):
            shutil.copyfile(path, os.path.join(destination, name))
            copied.append(name)
    return copied
