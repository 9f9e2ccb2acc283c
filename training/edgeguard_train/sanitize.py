"""Input sanitising: the text a guard model sees, before any tokenizer's own normaliser.

The same function as the runtime's ``EdgeGuard.Text.InputSanitizer.Sanitize`` (checked by the shared vectors in
``tests/data/sanitizer/``), so a model is trained and evaluated on the text the runtime will show it. In order:

1. Lone surrogates become U+FFFD (a high and a low surrogate code point in a row are one character, as in UTF-16).
2. Reading order: where an override (LRO U+202D, RLO U+202E) forces characters to display against their own
   direction, they are put in the order a reader sees them. In an RLO scope the scope's content is reversed,
   except that runs of right-to-left letters (bidi class R/AL) keep their order; in an LRO scope only runs of
   right-to-left letters are reversed. Combining marks stay with their base. Scopes follow the Unicode
   bidirectional algorithm's explicit rules (X1-X8): PDF closes an embedding or override, PDI closes everything
   back to its isolate, a paragraph separator closes everything, depth is capped at 125. Nested scopes are units
   of their parent. Text without LRO/RLO keeps its order. (docs/decisions/0009-input-sanitizing.md)
3. Removed: Default_Ignorable_Code_Point characters (soft hyphen, zero-width characters, word joiner, BOM,
   variation selectors, tag characters, Hangul fillers, ...; all bidi controls are among them) and control
   characters except TAB, LF, VT, FF and CR. NEL (U+0085) becomes LF.
4. Folded: characters whose NFKC form is plain ASCII become that ASCII (fullwidth forms, mathematical
   alphanumerics, letterlike symbols, enclosed alphanumerics, ligatures, Roman numerals, odd spaces, ...).

Text that needs none of this is returned as the same object.
"""

from __future__ import annotations

import itertools
import re
from typing import List, Sequence, Tuple

from . import sanitize_tables as tables

LRE, RLE, PDF, LRO, RLO = 0x202A, 0x202B, 0x202C, 0x202D, 0x202E
LRI, RLI, FSI, PDI = 0x2066, 0x2067, 0x2068, 0x2069
# Bidi class B: each ends a paragraph, and with it every open embedding, override and isolate.
PARAGRAPH_SEPARATORS = frozenset((0x0A, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2029))
# The deepest explicit embedding level of the bidi algorithm (BD2).
MAX_DEPTH = 125
NEXT_LINE = 0x85
REPLACEMENT_CHARACTER = 0xFFFD
KEPT_CONTROLS = frozenset((0x09, 0x0A, 0x0B, 0x0C, 0x0D))

_FOLD = dict(tables.FOLD)


def _ranges_class(ranges: Sequence[Tuple[int, int]]) -> str:
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


# Every character that sanitising changes; text with none of them is returned as it is.
_NEEDS_WORK = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff"
    + _ranges_class(tables.DEFAULT_IGNORABLE)
    + "".join(re.escape(chr(cp)) for cp, _ in tables.FOLD)
    + "]")


def _in_ranges(cp: int, ranges: Sequence[Tuple[int, int]]) -> bool:
    lo, hi = 0, len(ranges)
    while lo < hi:
        mid = (lo + hi) // 2
        if ranges[mid][1] < cp:
            lo = mid + 1
        else:
            hi = mid
    return lo < len(ranges) and ranges[lo][0] <= cp


def is_removed(cp: int) -> bool:
    """Whether sanitising deletes ``cp`` (a default-ignorable or a control other than TAB, LF, VT, FF, CR, NEL)."""
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return cp not in KEPT_CONTROLS and cp != NEXT_LINE
    return _in_ranges(cp, tables.DEFAULT_IGNORABLE)


def _code_points(text: str) -> List[int]:
    """Code points as UTF-16 would see them: a surrogate pair is one character, a lone surrogate is U+FFFD."""
    out: List[int] = []
    i, n = 0, len(text)
    while i < n:
        cp = ord(text[i])
        if 0xD800 <= cp <= 0xDFFF:
            if cp <= 0xDBFF and i + 1 < n and 0xDC00 <= ord(text[i + 1]) <= 0xDFFF:
                cp = 0x10000 + ((cp - 0xD800) << 10) + (ord(text[i + 1]) - 0xDC00)
                i += 1
            else:
                cp = REPLACEMENT_CHARACTER
        out.append(cp)
        i += 1
    return out


class _Scope:
    """An open embedding, override or isolate: its level, forced direction ('L', 'R' or None) and content so far."""

    __slots__ = ("level", "override", "isolate", "units")

    def __init__(self, level: int, override, isolate: bool) -> None:
        self.level = level
        self.override = override
        self.isolate = isolate
        # A unit is a list of code points: a character with its combining marks, or a closed nested scope.
        # A closed scope is a tuple, so it never takes marks and never counts as right-to-left.
        self.units: list = []

    def reading_order(self) -> List[int]:
        def is_rtl(unit) -> bool:
            return isinstance(unit, list) and _in_ranges(unit[0], tables.RIGHT_TO_LEFT)

        runs = [(rtl, list(run)) for rtl, run in itertools.groupby(self.units, key=is_rtl)]
        if self.override == "R":
            ordered = [unit for rtl, run in reversed(runs) for unit in (run if rtl else reversed(run))]
        elif self.override == "L":
            ordered = [unit for rtl, run in runs for unit in (reversed(run) if rtl else run)]
        else:
            ordered = self.units
        return [cp for unit in ordered for cp in unit]


def _least_greater(level: int, odd: bool) -> int:
    return level + 1 if (level % 2 == 0) == odd else level + 2


def reading_order(cps: Sequence[int]) -> List[int]:
    """Code points in reading order (step 2 of the module docstring); the scope controls themselves are dropped."""
    stack = [_Scope(0, None, False)]
    overflow_isolates = overflow_embeddings = valid_isolates = 0

    def close() -> None:
        scope = stack.pop()
        stack[-1].units.append(tuple(scope.reading_order()))

    for cp in cps:
        if cp in (LRE, RLE, LRO, RLO):
            level = _least_greater(stack[-1].level, odd=cp in (RLE, RLO))
            if level <= MAX_DEPTH and overflow_isolates == 0 and overflow_embeddings == 0:
                stack.append(_Scope(level, "R" if cp == RLO else "L" if cp == LRO else None, False))
            elif overflow_isolates == 0:
                overflow_embeddings += 1
        elif cp in (LRI, RLI, FSI):
            # FSI's direction (from its first strong character) changes no reading order, only which level it takes.
            level = _least_greater(stack[-1].level, odd=cp == RLI)
            if level <= MAX_DEPTH and overflow_isolates == 0 and overflow_embeddings == 0:
                valid_isolates += 1
                stack.append(_Scope(level, None, True))
            else:
                overflow_isolates += 1
        elif cp == PDI:
            if overflow_isolates > 0:
                overflow_isolates -= 1
            elif valid_isolates > 0:
                overflow_embeddings = 0
                while not stack[-1].isolate:
                    close()
                close()
                valid_isolates -= 1
        elif cp == PDF:
            if overflow_isolates > 0:
                pass
            elif overflow_embeddings > 0:
                overflow_embeddings -= 1
            elif not stack[-1].isolate and len(stack) >= 2:
                close()
        elif cp in PARAGRAPH_SEPARATORS:
            while len(stack) > 1:
                close()
            overflow_isolates = overflow_embeddings = valid_isolates = 0
            stack[0].units.append([cp])
        else:
            units = stack[-1].units
            if units and isinstance(units[-1], list) and _in_ranges(cp, tables.COMBINING_MARKS):
                units[-1].append(cp)
            else:
                units.append([cp])
    while len(stack) > 1:
        close()
    return stack[0].reading_order()


def sanitize(text: str) -> str:
    """``text`` as a guard model should see it (see the module docstring); the same object when nothing changes."""
    if not _NEEDS_WORK.search(text):
        return text
    cps = _code_points(text)
    if LRO in cps or RLO in cps:
        cps = reading_order(cps)
    out: List[str] = []
    for cp in cps:
        if is_removed(cp):
            continue
        folded = _FOLD.get(cp)
        if folded is not None:
            out.append(folded)
        elif cp == NEXT_LINE:
            out.append("\n")
        else:
            out.append(chr(cp))
    return "".join(out)
