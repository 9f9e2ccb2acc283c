"""BERT's WordPiece tokenization over a ``vocab.txt``, as Hugging Face's ``BertTokenizer`` splits text.

Basic tokenization first (drop control characters and U+FFFD, whitespace to spaces, spaces around
CJK ideographs, optional lower-casing with accent stripping, split off every punctuation
character), then each word greedily into the longest vocabulary pieces, continuations prefixed
``##``; a word that cannot be covered, or longer than 100 characters, becomes ``[UNK]``. Text
that spells ``[SEP]`` is ordinary text here, as in the EdgeGuard runtime.
"""

from __future__ import annotations

import json
import os
import unicodedata
from typing import Dict, List, Optional, Sequence

MAX_WORD_CHARS = 100


def _is_whitespace(c: str) -> bool:
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_control(c: str) -> bool:
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf")


def _is_punctuation(c: str) -> bool:
    code = ord(c)
    # ASCII symbols such as $ ^ ` are not Unicode punctuation, but BERT splits them off too.
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(code: int) -> bool:
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


class WordPieceTokenizer:
    """Encodes text into vocabulary ids; ``pair`` lays out ``[CLS] a [SEP] b [SEP]`` with BERT's token types."""

    def __init__(self, vocab: Sequence[str], lower_case: bool = True, strip_accents: Optional[bool] = None,
                 tokenize_chinese_chars: bool = True, unk_token: str = "[UNK]") -> None:
        self.vocab: Dict[str, int] = {}
        for i, piece in enumerate(vocab):
            self.vocab.setdefault(piece, i)
        self.lower_case = lower_case
        # Hugging Face: strip_accents unset follows lower-casing.
        self.strip_accents = lower_case if strip_accents is None else strip_accents
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.unk_id = self.vocab[unk_token]
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]

    @classmethod
    def from_directory(cls, directory: str) -> "WordPieceTokenizer":
        """``vocab.txt`` and, when present, ``tokenizer_config.json`` (``do_lower_case``, ``strip_accents``, ...)."""
        with open(os.path.join(directory, "vocab.txt"), "r", encoding="utf-8") as f:
            vocab = f.read().split("\n")
        if vocab and vocab[-1] == "":
            vocab.pop()
        settings = {}
        path = os.path.join(directory, "tokenizer_config.json")
        if os.path.isfile(path):
            with open(path, "r", encoding="utf-8") as f:
                settings = json.load(f)
        unk = settings.get("unk_token", "[UNK]")
        return cls(vocab, lower_case=settings.get("do_lower_case", True), strip_accents=settings.get("strip_accents"),
                   tokenize_chinese_chars=settings.get("tokenize_chinese_chars", True),
                   unk_token=unk["content"] if isinstance(unk, dict) else unk)

    def words(self, text: str) -> List[str]:
        """The basic tokenizer's words."""
        cleaned = []
        for c in text:
            if ord(c) == 0 or c == "\ufffd" or _is_control(c):
                continue
            if _is_whitespace(c):
                cleaned.append(" ")
            elif self.tokenize_chinese_chars and _is_cjk(ord(c)):
                cleaned.append(f" {c} ")
            else:
                cleaned.append(c)
        words: List[str] = []
        for word in "".join(cleaned).split():
            if self.lower_case:
                word = word.lower()
            if self.strip_accents:
                word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
            current = ""
            for c in word:
                if _is_punctuation(c):
                    if current:
                        words.append(current)
                    words.append(c)
                    current = ""
                else:
                    current += c
            if current:
                words.append(current)
        return words

    def _pieces(self, word: str) -> List[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self.unk_id]
        ids = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str) -> List[int]:
        """Ids of ``text`` without special tokens."""
        return [i for word in self.words(text) for i in self._pieces(word)]

    def pair(self, text: str, text_pair: Optional[str] = None):
        """``([CLS] a [SEP] (b [SEP]), token types)``: type 0 through the first [SEP], 1 after it."""
        ids = [self.cls_id] + self.encode(text) + [self.sep_id]
        types = [0] * len(ids)
        if text_pair is not None:
            second = self.encode(text_pair) + [self.sep_id]
            ids += second
            types += [1] * len(second)
        return ids, types
