"""BERT-family WordPiece tokenization in pure Python, id for id what the EdgeGuard runtime and Hugging Face's
``tokenizers`` (``BertNormalizer`` + ``BertPreTokenizer`` + ``WordPiece``) produce.

Like the runtime, text that spells ``[SEP]`` or ``[CLS]`` is ordinary text: special ids come only from the
``[CLS] a [SEP] b [SEP]`` layout (token types 0 for ``[CLS] a [SEP]``, 1 for ``b [SEP]``).
"""

from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Sequence, Tuple

from .tokenization import truncate_longest_first

# Unicode's White_Space property (what Rust's char::is_whitespace and .NET's Rune.IsWhiteSpace test); Python's
# str.isspace also counts U+001C..U+001F, which the reference does not.
WHITE_SPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
    + list(range(0x2000, 0x200B))
)

_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def is_white_space(ch: str) -> bool:
    return ord(ch) in WHITE_SPACE


def _is_control(ch: str) -> bool:
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch).startswith("C")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


@dataclass(frozen=True)
class WordPieceSettings:
    """``BertNormalizer`` / ``WordPiece`` options, with ``BertTokenizer``'s (uncased) defaults."""

    lower_case: bool = True
    strip_accents: Optional[bool] = None  # None: as lower_case
    tokenize_chinese_chars: bool = True
    clean_text: bool = True
    continuing_subword_prefix: str = "##"
    max_input_chars_per_word: int = 100
    unk_token: str = "[UNK]"
    cls_token: str = "[CLS]"
    sep_token: str = "[SEP]"
    pad_token: str = "[PAD]"
    mask_token: str = "[MASK]"


class WordPieceTokenizer:
    """Greedy longest-match-first WordPiece over a ``vocab.txt`` token list, with BERT's basic tokenization."""

    def __init__(self, tokens: Sequence[str], settings: Optional[WordPieceSettings] = None) -> None:
        self.tokens = list(tokens)
        self.settings = settings or WordPieceSettings()
        self.vocab: Dict[str, int] = {}
        for i, token in enumerate(self.tokens):
            self.vocab[token] = i  # a repeated line maps to its last id, as load_vocab does
        s = self.settings
        missing = [t for t in (s.unk_token, s.cls_token, s.sep_token, s.pad_token, s.mask_token) if t not in self.vocab]
        if missing:
            raise ValueError(f"the WordPiece vocabulary has no {missing[0]!r} token, which a BERT-style model needs")
        self.unk_id = self.vocab[s.unk_token]
        self.cls_id = self.vocab[s.cls_token]
        self.sep_id = self.vocab[s.sep_token]
        self.pad_id = self.vocab[s.pad_token]
        self.mask_id = self.vocab[s.mask_token]
        self._strip_accents = s.lower_case if s.strip_accents is None else s.strip_accents

    @classmethod
    def from_files(cls, vocab_file: str, tokenizer_config: Optional[str] = None) -> "WordPieceTokenizer":
        """``vocab.txt`` (one token per line, id = line number) and optionally ``tokenizer_config.json``."""
        with open(vocab_file, encoding="utf-8") as f:
            tokens = f.read().splitlines()
        settings = WordPieceSettings()
        if tokenizer_config is not None and os.path.isfile(tokenizer_config):
            with open(tokenizer_config, encoding="utf-8") as f:
                config = json.load(f)

            def token(name: str, default: str) -> str:
                value = config.get(name)
                if isinstance(value, dict):
                    value = value.get("content")
                return value if isinstance(value, str) else default

            settings = replace(
                settings,
                lower_case=config.get("do_lower_case", settings.lower_case),
                strip_accents=config.get("strip_accents"),
                tokenize_chinese_chars=config.get("tokenize_chinese_chars", True),
                unk_token=token("unk_token", settings.unk_token),
                cls_token=token("cls_token", settings.cls_token),
                sep_token=token("sep_token", settings.sep_token),
                pad_token=token("pad_token", settings.pad_token),
                mask_token=token("mask_token", settings.mask_token),
            )
        return cls(tokens, settings)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def _normalize(self, text: str) -> List[Tuple[str, int, int]]:
        """``BertNormalizer``: normalised characters, each with the [start, end) of the input character it came from."""
        s = self.settings
        out: List[Tuple[str, int, int]] = []
        at = 0
        for ch in text:
            start, end = at, at + (2 if ord(ch) > 0xFFFF else 1)  # UTF-16 positions, as the runtime reports them
            at = end
            if 0xD800 <= ord(ch) <= 0xDFFF:
                ch = "\ufffd"  # a lone surrogate reads as U+FFFD
            if s.clean_text:
                if ch in ("\0", "\ufffd") or _is_control(ch):
                    continue
                if is_white_space(ch):
                    out.append((" ", start, end))
                    continue
            if s.tokenize_chinese_chars and _is_chinese(ch):
                out.extend(((" ", start, end), (ch, start, end), (" ", start, end)))
                continue
            parts = ch
            if self._strip_accents:
                parts = "".join(c for c in unicodedata.normalize("NFD", ch) if unicodedata.category(c) != "Mn")
            for part in parts:
                lowered = part.lower() if s.lower_case else part  # per character: no final-sigma rule
                out.extend((c, start, end) for c in lowered)
        return out

    def _words(self, text: str) -> List[List[Tuple[str, int, int]]]:
        """``BertPreTokenizer``: split on whitespace, punctuation characters stand alone."""
        words: List[List[Tuple[str, int, int]]] = []
        current: List[Tuple[str, int, int]] = []
        for item in self._normalize(text):
            ch = item[0]
            if is_white_space(ch) or _is_punctuation(ch):
                if current:
                    words.append(current)
                    current = []
                if not is_white_space(ch):
                    words.append([item])
            else:
                current.append(item)
        if current:
            words.append(current)
        return words

    def _word_pieces(self, word: List[Tuple[str, int, int]]) -> List[Tuple[int, int, int]]:
        s = self.settings
        chars = "".join(c for c, _, _ in word)
        whole = [(self.unk_id, word[0][1], word[-1][2])]
        if len(chars) > s.max_input_chars_per_word:
            return whole
        pieces = []
        start = 0
        while start < len(chars):
            end = len(chars)
            found = None
            while start < end:
                piece = chars[start:end]
                if start > 0:
                    piece = s.continuing_subword_prefix + piece
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return whole
            pieces.append((found, word[start][1], word[end - 1][2]))
            start = end
        return pieces

    def encode_with_offsets(self, text: str) -> List[Tuple[int, int, int]]:
        """(id, UTF-16 start, UTF-16 end) per token, no special tokens."""
        return [piece for word in self._words(text) for piece in self._word_pieces(word)]

    def encode(self, text: str) -> List[int]:
        """The ids of ``text`` without special tokens; special-token spellings stay text."""
        return [i for i, _, _ in self.encode_with_offsets(text)]

    def decode(self, ids: Sequence[int]) -> str:
        """Pieces joined by spaces, ``##`` pieces glued on, special tokens dropped, transformers' clean-up applied."""
        prefix = self.settings.continuing_subword_prefix
        skip = {self.cls_id, self.sep_id, self.pad_id, self.mask_id}
        text = ""
        for i in ids:
            if i in skip:
                continue
            token = self.tokens[i]
            if not text:
                text = token
            elif token.startswith(prefix):
                text += token[len(prefix):]
            else:
                text += " " + token
        return clean_up_tokenization(text)

    def encode_pair(self, prompt: str, response: Optional[str], max_length: int) -> Tuple[List[int], List[int]]:
        """``[CLS] prompt [SEP]`` or ``[CLS] prompt [SEP] response [SEP]`` (longest-first truncation) and token types."""
        return build_row([self.cls_id], [self.sep_id], [self.sep_id], 1, self.encode(prompt),
                         None if response is None else self.encode(response), max_length)


def clean_up_tokenization(text: str) -> str:
    """transformers' ``clean_up_tokenization``."""
    for dirty, clean in ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
                         (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re")):
        text = text.replace(dirty, clean)
    return text


def build_row(prefix: Sequence[int], middle: Sequence[int], suffix: Sequence[int], second_type: int,
              first: Sequence[int], second: Optional[Sequence[int]], max_length: int) -> Tuple[List[int], List[int]]:
    """A pair template's row: ``prefix a suffix`` or ``prefix a middle b suffix``, truncated longest-first, with token
    types 0 for ``prefix a middle`` and ``second_type`` for ``b suffix`` (the runtime's PairTemplate)."""
    has_second = second is not None
    specials = len(prefix) + len(suffix) + (len(middle) if has_second else 0)
    if max_length < specials:
        raise ValueError(f"max_length {max_length} is below the {specials} special tokens")
    keep_a, keep_b = truncate_longest_first(len(first), len(second or ()), max_length - specials)
    if not has_second:
        ids = list(prefix) + list(first[:keep_a]) + list(suffix)
        return ids, [0] * len(ids)
    head = list(prefix) + list(first[:keep_a]) + list(middle)
    tail = list(second[:keep_b]) + list(suffix)  # type: ignore[index]
    return head + tail, [0] * len(head) + [second_type] * len(tail)
