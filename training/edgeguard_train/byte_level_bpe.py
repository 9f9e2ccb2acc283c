"""Byte-level BPE (GPT-2, RoBERTa) in pure Python, id for id what the EdgeGuard runtime and Hugging Face's
``tokenizers`` (``ByteLevel`` pre-tokenizer + ``BPE``) produce; plus a small trainer for test vocabularies.

GPT-2's pre-tokenisation pattern ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``
is applied by hand (no ``regex`` module needed), with ``\\s`` as Unicode's White_Space property, which is what the
Rust implementation uses (JavaScript's ``\\s`` differs on U+0085 and U+FEFF). Text that spells ``<s>``, ``</s>`` or
``<|endoftext|>`` is ordinary text: special ids come only from the row template.
"""

from __future__ import annotations

import collections
import heapq
import json
import os
import unicodedata
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .wordpiece import build_row, is_white_space

_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")
_PIECES_CACHE_SIZE = 1 << 18


def bytes_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (``Ġ`` is the space)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _is_number(ch: str) -> bool:
    return unicodedata.category(ch).startswith("N")


def _is_other(ch: str) -> bool:
    return not (is_white_space(ch) or _is_letter(ch) or _is_number(ch))


def pre_tokenize(text: str) -> List[Tuple[int, int]]:
    """The (start, end) code point spans GPT-2's pattern cuts ``text`` into."""
    spans = []
    i, n = 0, len(text)

    def run(j: int, test) -> int:
        while j < n and test(text[j]):
            j += 1
        return j

    while i < n:
        ch = text[i]
        end = 0
        if ch == "'":
            for c in _CONTRACTIONS:
                if text.startswith(c, i + 1):
                    end = i + 1 + len(c)
                    break
        if not end:
            # ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+': one optional U+0020, then a run of one class.
            start = i + 1 if ch == " " and i + 1 < n else i
            for test in (_is_letter, _is_number, _is_other):
                if test(text[start]):
                    end = run(start, test)
                    break
        if not end:
            # Whitespace: '\s+(?!\S)' leaves the last space of a run before a non-space to the next match; else '\s+'.
            j = run(i, is_white_space)
            end = j if j == n or j - i == 1 else j - 1
        spans.append((i, end))
        i = end
    return spans


class ByteLevelBpeTokenizer:
    """GPT-2-style BPE over ``vocab.json`` + ``merges.txt`` (or a ``tokenizer.json``), with a row template."""

    def __init__(self, tokens: Sequence[str], merges: Sequence[Tuple[str, str]], *, add_prefix_space: bool = False,
                 special_tokens: Sequence[str] = (), template: Optional[Tuple[List[int], List[int], List[int], int]] = None):
        self.tokens = list(tokens)
        self.vocab = {t: i for i, t in enumerate(self.tokens)}
        self.ranks = {pair: rank for rank, pair in enumerate(merges)}
        self.add_prefix_space = add_prefix_space
        self.special_ids = {self.vocab[t] for t in special_tokens if t in self.vocab}
        missing = [c for c in BYTE_TO_CHAR.values() if c not in self.vocab]
        if missing:
            raise ValueError(f"the vocabulary lacks the byte symbol {missing[0]!r}; byte-level BPE needs all 256")
        if template is None:
            if "<s>" in self.vocab and "</s>" in self.vocab:
                bos, eos = self.vocab["<s>"], self.vocab["</s>"]
                template = ([bos], [eos, eos], [eos], 0)
            else:
                template = ([], [], [], 1)  # GPT-2: concatenation, the second sequence marked 1 as Hugging Face does
        self.template = template
        # Pre-token (as byte symbols) -> its BPE pieces: a corpus repeats its words, and merging is the slow part.
        self._pieces_cache: Dict[str, List[str]] = {}

    @classmethod
    def from_files(cls, vocab_json: str, merges_txt: str, **kwargs) -> "ByteLevelBpeTokenizer":
        with open(vocab_json, encoding="utf-8") as f:
            vocab = json.load(f)
        tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
        with open(merges_txt, encoding="utf-8") as f:
            merges = [tuple(line.split(" ")) for line in f.read().splitlines() if line and not line.startswith("#version")]
        specials = kwargs.pop("special_tokens", [t for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>") if t in vocab])
        return cls(tokens, merges, special_tokens=specials, **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path: str) -> "ByteLevelBpeTokenizer":
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        model = data["model"]
        if model.get("type", "BPE") != "BPE":
            raise ValueError(f"{path}: model {model.get('type')} is not BPE")
        tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        pre = data.get("pre_tokenizer") or {}
        specials = [t["content"] for t in data.get("added_tokens", []) if t.get("special")]
        post = data.get("post_processor") or {}
        template = None
        if post.get("type") == "RobertaProcessing":
            bos, eos = post["cls"][1], post["sep"][1]
            template = ([bos], [eos, eos], [eos], 0)
        elif post.get("type") in ("ByteLevel", None):
            template = ([], [], [], 1)
        return cls(tokens, merges, add_prefix_space=bool(pre.get("add_prefix_space", False)), special_tokens=specials,
                   template=template)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def _bpe(self, symbols: List[str]) -> List[str]:
        while len(symbols) > 1:
            best = min(range(len(symbols) - 1), key=lambda k: (self.ranks.get((symbols[k], symbols[k + 1]), 1 << 62), k))
            pair = (symbols[best], symbols[best + 1])
            if pair not in self.ranks:
                break
            merged, k = [], 0
            while k < len(symbols):
                if k < len(symbols) - 1 and (symbols[k], symbols[k + 1]) == pair:
                    merged.append(symbols[k] + symbols[k + 1])
                    k += 2
                else:
                    merged.append(symbols[k])
                    k += 1
            symbols = merged
        return symbols

    def encode_with_offsets(self, text: str) -> List[Tuple[int, int, int]]:
        """(id, UTF-16 start, UTF-16 end) per token; a token made of part of a character covers the whole character."""
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
        shift = 0
        if self.add_prefix_space and text and not text.startswith(" "):
            text, shift = " " + text, 1
        utf16 = [0]
        for c in text:
            utf16.append(utf16[-1] + (2 if ord(c) > 0xFFFF else 1))
        out = []
        for start, end in pre_tokenize(text):
            chars, owners = [], []
            for k in range(start, end):
                for b in text[k].encode("utf-8"):
                    chars.append(BYTE_TO_CHAR[b])
                    owners.append(k)
            at = 0
            key = "".join(chars)
            pieces = self._pieces_cache.get(key)
            if pieces is None:
                pieces = self._bpe(chars)
                if len(self._pieces_cache) < _PIECES_CACHE_SIZE:
                    self._pieces_cache[key] = pieces
            for piece in pieces:
                first, last = owners[at], owners[at + len(piece) - 1]
                at += len(piece)
                lo = max(utf16[first] - shift, 0)
                hi = utf16[last + 1] - shift
                out.append((self.vocab[piece], lo, max(hi, lo)))
        return out

    def encode(self, text: str) -> List[int]:
        return [i for i, _, _ in self.encode_with_offsets(text)]

    def decode(self, ids: Sequence[int]) -> str:
        data = bytes(CHAR_TO_BYTE[c] for i in ids if i not in self.special_ids for c in self.tokens[i])
        return data.decode("utf-8", errors="replace")

    def encode_pair(self, prompt: str, response: Optional[str], max_length: int) -> Tuple[List[int], List[int]]:
        prefix, middle, suffix, second_type = self.template
        return build_row(prefix, middle, suffix, second_type, self.encode(prompt),
                         None if response is None else self.encode(response), max_length)


def _pair_order_key(pair: Tuple[str, str]) -> Tuple[int, ...]:
    """Among pairs of equal count the one with the smallest key is merged first: the lowest code points of ``"a b"``,
    and of two spellings one of which starts the other, the longer (the sentinel sorts after every code point)."""
    return tuple(ord(c) for c in pair[0] + " " + pair[1]) + (0x110000,)


def word_counts(texts: Iterable[str]) -> "collections.Counter[Tuple[str, ...]]":
    """Every pre-token of ``texts`` as its byte symbols, with how often it occurs."""
    words: collections.Counter = collections.Counter()
    for text in texts:
        for start, end in pre_tokenize(text):
            words[tuple(BYTE_TO_CHAR[b] for b in text[start:end].encode("utf-8", errors="replace"))] += 1
    return words


def train(texts: Iterable[str], merges_count: int, special_tokens: Sequence[str],
          words: Optional["collections.Counter[Tuple[str, ...]]"] = None,
          progress: Optional[Callable[[], None]] = None) -> Tuple[List[str], List[Tuple[str, str]]]:
    """Learns ``merges_count`` merges from ``texts`` (most frequent pair first, ties by ``_pair_order_key``): the token
    list is the special tokens, the 256 byte symbols, then one token per merge. A merge that would spell a special token
    is skipped, so no text can become a special id. ``words`` (``word_counts``) replaces ``texts`` when given;
    ``progress`` is called once per merge.

    Pair counts are kept up to date incrementally: a merge recounts only the words that hold its pair, and a heap with
    stale entries skipped on pop finds the next pair, so a merge costs the size of the words it touches, not of the
    corpus.
    """
    if words is None:
        words = word_counts(texts)
    tokens = list(special_tokens) + [BYTE_TO_CHAR[b] for b in sorted(BYTE_TO_CHAR, key=lambda b: ord(BYTE_TO_CHAR[b]))]
    specials = set(special_tokens)
    symbols: List[List[str]] = []
    counts: List[int] = []
    pair_counts: Dict[Tuple[str, str], int] = collections.defaultdict(int)
    pair_words: Dict[Tuple[str, str], set] = collections.defaultdict(set)
    for word, count in words.items():
        if len(word) < 2:
            continue
        index = len(symbols)
        symbols.append(list(word))
        counts.append(count)
        for pair in zip(word, word[1:]):
            pair_counts[pair] += count
            pair_words[pair].add(index)
    heap = [(-count, _pair_order_key(pair), pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)
    merges: List[Tuple[str, str]] = []
    while len(merges) < merges_count and heap:
        negative, _, pair = heapq.heappop(heap)
        if pair_counts.get(pair, 0) != -negative or -negative <= 0 or pair[0] + pair[1] in specials:
            continue  # stale (the count changed since this entry was pushed), gone, or would spell a special token
        merges.append(pair)
        merged_symbol = pair[0] + pair[1]
        tokens.append(merged_symbol)
        changed: Dict[Tuple[str, str], int] = collections.defaultdict(int)
        for index in pair_words.pop(pair, ()):
            word, count = symbols[index], counts[index]
            if len(word) < 2:
                continue
            for old in zip(word, word[1:]):
                changed[old] -= count
            out, k = [], 0
            while k < len(word):
                if k < len(word) - 1 and word[k] == pair[0] and word[k + 1] == pair[1]:
                    out.append(merged_symbol)
                    k += 2
                else:
                    out.append(word[k])
                    k += 1
            symbols[index] = out
            for new in zip(out, out[1:]):
                changed[new] += count
                pair_words[new].add(index)
        for changed_pair, delta in changed.items():
            if delta == 0:
                continue
            total = pair_counts.get(changed_pair, 0) + delta
            if total > 0:
                pair_counts[changed_pair] = total
                heapq.heappush(heap, (-total, _pair_order_key(changed_pair), changed_pair))
            else:
                pair_counts.pop(changed_pair, None)
        pair_counts.pop(pair, None)
        if progress is not None:
            progress()
    return tokens, merges


def tokenizer_json(tokens: Sequence[str], merges: Sequence[Tuple[str, str]], special_tokens: Sequence[str], *,
                   roberta: bool) -> Dict[str, Any]:
    """A Hugging Face ``tokenizer.json``: ByteLevel pre-tokenizer (GPT-2's pattern), BPE, the ``special_tokens`` as
    special added tokens, and RoBERTa's ``<s> … </s>`` template (``roberta``) or none (the ``ByteLevel`` post-processor)."""
    vocab = {t: i for i, t in enumerate(tokens)}
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": t == "<mask>", "rstrip": False,
              "normalized": False, "special": True} for t in special_tokens if t in vocab]
    post = ({"type": "RobertaProcessing", "sep": ["</s>", vocab["</s>"]], "cls": ["<s>", vocab["<s>"]],
             "trim_offsets": True, "add_prefix_space": False} if roberta
            else {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": True})
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [f"{a} {b}" for a, b in merges]},
    }


def write_files(directory: str, tokens: Sequence[str], merges: Sequence[Tuple[str, str]], *, roberta: bool) -> None:
    """``vocab.json``, ``merges.txt`` and a ``tokenizer.json`` (ByteLevel, BPE, RoBERTa or no template)."""
    os.makedirs(directory, exist_ok=True)
    vocab = {t: i for i, t in enumerate(tokens)}
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] if roberta else ["<|endoftext|>"]
    with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(tokens, merges, specials, roberta=roberta), f, ensure_ascii=False, indent=1)
