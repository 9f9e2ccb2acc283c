"""Writes accent-stripping.tsv: what Hugging Face's BERT tokenizer turns each character into when it strips
accents (unicodedata.normalize("NFD", c) without the nonspacing marks, category Mn), for every character that
changes. Hangul syllables are left out: their decomposition is algorithmic and computed in AccentStripping.cs;
so are nonspacing marks themselves, which the tokenizer's normaliser drops anyway.

Each line: the code point, a tab, the code points it becomes (hex, space-separated). Run with the Python whose
Unicode version the tokenizer should follow:  python3 make_accent_stripping.py > accent-stripping.tsv
"""

import sys
import unicodedata

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def main() -> None:
    out = sys.stdout
    out.write(f"# unicodedata {unicodedata.unidata_version}: code point -> NFD without Mn (see make_accent_stripping.py)\n")
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF or HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        c = chr(cp)
        if unicodedata.category(c) == "Mn":
            continue
        stripped = "".join(ch for ch in unicodedata.normalize("NFD", c) if unicodedata.category(ch) != "Mn")
        if stripped != c:
            out.write(f"{cp:04X}\t{' '.join(f'{ord(ch):04X}' for ch in stripped)}\n")


if __name__ == "__main__":
    main()
