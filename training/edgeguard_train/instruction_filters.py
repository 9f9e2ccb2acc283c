"""Turning a jailbroken generator's continuation into one harmful instruction, and deciding whether to keep it.

HarmAug prefills the generator's reply with an affirmative prefix; what the model writes after it is
usually the instruction on one line, sometimes quoted, numbered, or followed by commentary, and
sometimes a refusal despite the prefix. These functions are pure so the filtering can be pinned by
tests on crafted generations, independent of any model.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

AFFIRMATIVE_PREFIX = "I have an idea for a prompt:"

# First-person refusal phrases; matched case-insensitively anywhere in the parsed instruction.
# Phrases that a harmful instruction could itself contain ("not appropriate", "against the law")
# are deliberately absent.
REFUSAL_PATTERNS: Sequence[str] = (
    "i can't", "i cannot", "i can not", "i won't", "i will not", "i'm sorry", "i am sorry",
    "i apologize", "i apologise", "as an ai", "as a language model", "as an assistant",
    "i'm not able to", "i am not able to", "i'm unable", "i am unable", "i must decline",
    "i do not feel comfortable", "i don't feel comfortable", "i'm not comfortable",
    "cannot fulfill", "can't fulfill", "cannot assist", "can't assist", "cannot help", "can't help",
    "cannot provide", "can't provide", "cannot create", "can't create", "cannot generate", "can't generate",
    "i'm just an ai", "not able to provide", "i must respectfully", "i refuse",
)

_OPENING_QUOTES = {'"': '"', "\u201c": "\u201d", "'": "'", "\u2018": "\u2019", "\u00ab": "\u00bb", "`": "`"}
# Numbering ("1.", "(2)"), bullets and markdown ("-", "*", "**", "#", ">"), labels ("Prompt:", "Harmful prompt 2:").
_LIST_MARKER = re.compile(
    r"^\s*(?:\(?\d{1,3}[.):]|[-*\u2022>#]+|(?:new |harmful )?(?:prompt|instruction|request)\s*\d*\s*:)\s*",
    re.IGNORECASE)
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201c\u201d]{3,})[\"\u201d]")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def parse_instruction(generated: str, prefix: str = AFFIRMATIVE_PREFIX) -> str:
    """The instruction in a continuation of ``prefix``: quoted text, else the first non-empty line.

    Numbering, bullets, a ``Prompt:`` label and surrounding quotes are stripped. Returns ``""``
    when nothing is left (the caller counts it as empty).
    """
    text = generated.strip()
    if text.lower().startswith(prefix.lower()):
        text = text[len(prefix):].strip()
    text = _strip_markers(text)
    if text[:1] in _OPENING_QUOTES:
        closing = _OPENING_QUOTES[text[0]]
        end = text.find(closing, 1)
        if end > 1:
            return _clean(text[1:end])
    line = next((ln for ln in (l.strip() for l in text.splitlines()) if ln), "")
    line = _strip_markers(line)
    quoted = [m.group(1) for m in _QUOTED.finditer(line) if len(m.group(1).split()) >= 2]
    if quoted:
        return _clean(max(quoted, key=len))
    return _clean(line)


def _strip_markers(text: str) -> str:
    previous = None
    while previous != text:
        previous = text
        text = _LIST_MARKER.sub("", text, count=1).strip()
    return text


def _clean(text: str) -> str:
    text = " ".join(text.split())
    while len(text) >= 2 and text[0] in _OPENING_QUOTES and text[-1] in (_OPENING_QUOTES[text[0]], text[0]):
        text = text[1:-1].strip()
    return text.strip(" \"'\u201c\u201d\u2018\u2019`")


def is_refusal(text: str, patterns: Sequence[str] = REFUSAL_PATTERNS) -> bool:
    """Whether ``text`` reads as the model declining (typographic apostrophes count as straight ones)."""
    lowered = text.lower().replace("\u2019", "'")
    return any(p in lowered for p in patterns)


def normalise(text: str) -> str:
    """NFKC, case-folded, every run of non-alphanumerics one space: the dataset's own normalisation."""
    return _NON_ALNUM.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def word_ngrams(text: str, n: int) -> FrozenSet[Tuple[str, ...]]:
    """The word n-grams of the normalised text; a text shorter than ``n`` words is one n-gram of all its words."""
    words = normalise(text).split()
    if not words:
        return frozenset()
    if len(words) < n:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


class NearDuplicateFilter:
    """Keeps a set of texts and says whether a new one is too close to any of them.

    Closeness is the Jaccard similarity of normalised word n-grams; a text is a near duplicate when
    it reaches ``threshold`` against any kept text. Word bigrams at 0.6 catch a changed or added word
    in a short instruction ("make a bomb" / "build a bomb") but let two instructions that share a
    template ("Write a tutorial on how to ...") through when their subjects differ. An inverted index
    from n-gram to texts keeps a lookup proportional to the texts sharing an n-gram, not to all texts.
    Not thread-safe: the augment stage consults it from one thread, in index order, so the result is
    deterministic.
    """

    def __init__(self, n: int = 2, threshold: float = 0.6) -> None:
        if n < 1:
            raise ValueError(f"n-gram size must be at least 1, got {n}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
        self.n = n
        self.threshold = threshold
        self._texts: List[str] = []
        self._sizes: List[int] = []
        self._index: Dict[Tuple[str, ...], List[int]] = {}

    def __len__(self) -> int:
        return len(self._texts)

    def add(self, text: str) -> None:
        grams = word_ngrams(text, self.n)
        number = len(self._texts)
        self._texts.append(text)
        self._sizes.append(len(grams))
        for gram in grams:
            self._index.setdefault(gram, []).append(number)

    def add_all(self, texts: Sequence[str]) -> None:
        for text in texts:
            self.add(text)

    def closest(self, text: str) -> Tuple[float, Optional[str]]:
        """The highest Jaccard similarity to a kept text, and that text (``(0.0, None)`` if none shares an n-gram)."""
        grams = word_ngrams(text, self.n)
        shared: Counter = Counter()
        for gram in grams:
            shared.update(self._index.get(gram, ()))
        best, best_text = 0.0, None
        for number, overlap in shared.items():
            similarity = overlap / (len(grams) + self._sizes[number] - overlap)
            if similarity > best:
                best, best_text = similarity, self._texts[number]
        return best, best_text

    def is_duplicate(self, text: str) -> bool:
        return self.closest(text)[0] >= self.threshold

    def keep_if_new(self, text: str) -> bool:
        """Adds ``text`` and returns True unless it is a near duplicate of a kept text."""
        if self.is_duplicate(text):
            return False
        self.add(text)
        return True

