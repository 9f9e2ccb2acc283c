"""Writes nfc.tsv: the Unicode data canonical composition (NFC) needs, for UnicodeNfc.cs, which runs without ICU
(string.Normalize is a no-op for non-ASCII text under EdgeGuard's invariant globalization). Hangul syllables are left
out: their decomposition and composition are algorithmic and computed in UnicodeNfc.cs.

Lines, tab-separated, code points in hex:
  C  cp  class        canonical combining class, for every code point whose class is not 0
  D  cp  cp cp ...    full canonical decomposition (NFD), for every code point that has one
  P  a   b   cp       a primary composite: a followed by b composes to cp (composition exclusions left out)

Run with the Python whose Unicode version the tokenizer should follow:  python3 make_nfc.py > nfc.tsv
"""

import sys
import unicodedata

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def main() -> None:
    out = sys.stdout
    out.write(f"# unicodedata {unicodedata.unidata_version}: combining classes, decompositions, compositions (see make_nfc.py)\n")
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        c = chr(cp)
        ccc = unicodedata.combining(c)
        if ccc:
            out.write(f"C\t{cp:04X}\t{ccc}\n")
        nfd = unicodedata.normalize("NFD", c)
        if nfd != c:
            out.write(f"D\t{cp:04X}\t{' '.join(f'{ord(ch):04X}' for ch in nfd)}\n")
        raw = unicodedata.decomposition(c)
        if raw and not raw.startswith("<"):
            parts = [int(p, 16) for p in raw.split()]
            # A primary composite is what NFC keeps: not excluded, not a singleton, not a non-starter decomposition.
            if len(parts) == 2 and unicodedata.normalize("NFC", nfd) == c:
                out.write(f"P\t{parts[0]:04X}\t{parts[1]:04X}\t{cp:04X}\n")


if __name__ == "__main__":
    main()
