"""Writes <name>.json: the offsets the SentencePiece library reports for the cases of
../shared/tokenizers/<name>/tokenization.json (the reference for DebertaTokenizer's offsets).

The Python binding reports pieces' begin/end in code points; they are written as UTF-16 [start, end], as the runtime
reports them. Run from this directory:  /usr/bin/python3 generate-spm-offsets.py   (needs python3-sentencepiece)
"""

import json
import os

import sentencepiece

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "..", "..", "..", "shared", "tokenizers")

for name in ("spm-unigram-2k", "spm-unigram-8k"):
    processor = sentencepiece.SentencePieceProcessor(model_file=os.path.join(SHARED, name, "spm.model"))
    with open(os.path.join(SHARED, name, "tokenization.json"), encoding="utf-8") as f:
        golden = json.load(f)
    cases = []
    for case in golden["cases"]:
        text = case["text"]
        utf16 = [0]
        for c in text:
            utf16.append(utf16[-1] + (2 if ord(c) > 0xFFFF else 1))
        proto = processor.encode(text, out_type="immutable_proto")
        ids = [p.id for p in proto.pieces]
        assert ids == case["ids"], case["name"]
        cases.append({"name": case["name"], "offsets": [[utf16[p.begin], utf16[p.end]] for p in proto.pieces]})
    with open(os.path.join(HERE, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump({"reference": f"sentencepiece {sentencepiece.__version__}", "cases": cases}, f, indent=0)
        f.write("\n")
    print(name, len(cases))
