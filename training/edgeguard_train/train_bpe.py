"""Train a byte-level BPE tokenizer for decoder models on JSONL text: tokenizer.json + tokenizer_config.json.

The result is what the runtime's ``hf-tokenizer-json`` kind reads (docs/architectures.md, "Tokenizers of decoder
models"): GPT-2's ``ByteLevel`` pre-tokenizer with its regex, a ``BPE`` model (all 256 byte symbols, then one token per
merge, no merge spelling a special token), no normalizer, the ``ByteLevel`` post-processor (no template: BOS and EOS
are the caller's, as ``train-lm`` frames each document), the special tokens as special added tokens (ids 0, 1, ...),
and in ``tokenizer_config.json`` the BOS and EOS tokens and a ChatML chat template (``<|im_start|>role\\ncontent
<|im_end|>\\n``, no default system prompt). Merges are learned as Hugging Face's trainer learns them: the most frequent
adjacent pair first (ties: the lowest code points of ``"a b"``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Dict, List

from . import byte_level_bpe
from .lm_data import add_text_arguments, parse_fields, parse_where, read_texts
from .progress import Progress, summary

DEFAULT_SPECIAL_TOKENS = "<|endoftext|>,<|im_start|>,<|im_end|>"

# ChatML, as Qwen2 and SmolLM2 write it, without their default system prompt: the runtime recognises it as ChatMl.
CHATML_TEMPLATE = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
                   "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", nargs="+", required=True, help="JSONL files whose texts train the merges")
    add_text_arguments(parser)
    parser.add_argument("--output", required=True, help="directory to write tokenizer.json and tokenizer_config.json into")
    parser.add_argument("--vocab-size", type=int, default=8192,
                        help="tokens including the special tokens and the 256 byte symbols (default 8192); fewer when "
                             "the text runs out of pairs")
    parser.add_argument("--special-tokens", default=DEFAULT_SPECIAL_TOKENS,
                        help=f"comma-separated special tokens, given ids 0, 1, ... (default {DEFAULT_SPECIAL_TOKENS}; "
                             "the chat template needs <|im_start|> and <|im_end|>)")
    parser.add_argument("--bos-token", default="<|endoftext|>", help="beginning-of-sequence token (default <|endoftext|>)")
    parser.add_argument("--eos-token", default="<|endoftext|>", help="end-of-sequence token (default <|endoftext|>)")
    parser.add_argument("--model-max-length", type=int, default=2048, help="tokenizer_config.json's model_max_length")
    parser.add_argument("--limit", type=int, help="use only the first N matching rows")
    parser.add_argument("--overwrite", action="store_true", help="replace a tokenizer.json already in --output")


def tokenizer_config(special_tokens: List[str], vocab: Dict[str, int], bos: str, eos: str, model_max_length: int) -> Dict[str, Any]:
    """``tokenizer_config.json`` as ``transformers`` writes it for a ``PreTrainedTokenizerFast``."""
    return {
        "add_bos_token": False, "add_eos_token": False, "add_prefix_space": False,
        "added_tokens_decoder": {str(vocab[t]): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                                 "single_word": False, "special": True} for t in special_tokens},
        "bos_token": bos, "eos_token": eos, "pad_token": eos, "unk_token": None,
        "chat_template": CHATML_TEMPLATE, "clean_up_tokenization_spaces": False,
        "model_max_length": model_max_length, "tokenizer_class": "PreTrainedTokenizerFast",
    }


def _write_json(path: str, value: Dict[str, Any]) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    specials = [t for t in (s.strip() for s in args.special_tokens.split(",")) if t]
    if len(set(specials)) != len(specials):
        raise SystemExit(f"train-bpe: --special-tokens {args.special_tokens!r} repeats a token")
    for flag, token in (("--bos-token", args.bos_token), ("--eos-token", args.eos_token)):
        if token not in specials:
            raise SystemExit(f"train-bpe: {flag} {token!r} is not one of --special-tokens")
    for needed in ("<|im_start|>", "<|im_end|>"):
        if needed not in specials:
            raise SystemExit(f"train-bpe: --special-tokens lacks {needed}, which the ChatML chat template prints")
    merges_count = args.vocab_size - len(specials) - 256
    if merges_count < 0:
        raise SystemExit(f"train-bpe: --vocab-size {args.vocab_size} is below the {len(specials)} special tokens + 256 byte symbols")
    tokenizer_path = os.path.join(args.output, "tokenizer.json")
    if os.path.exists(tokenizer_path) and not args.overwrite:
        raise SystemExit(f"train-bpe: {tokenizer_path} exists (--overwrite replaces it)")

    texts = read_texts(args.input, parse_fields(args.text_fields), parse_where(args.where), args.limit)
    if not texts:
        raise SystemExit(f"train-bpe: no row of {' '.join(args.input)} gives text (check --text-fields and --where)")
    with Progress("pre-tokenizing", len(texts)) as bar:
        words = byte_level_bpe.word_counts(_counted(texts, bar))
    with Progress("merges", merges_count) as bar:
        tokens, merges = byte_level_bpe.train((), merges_count, specials, words=words, progress=bar.update)

    os.makedirs(args.output, exist_ok=True)
    vocab = {t: i for i, t in enumerate(tokens)}
    _write_json(tokenizer_path, byte_level_bpe.tokenizer_json(tokens, merges, specials, roberta=False))
    _write_json(os.path.join(args.output, "tokenizer_config.json"),
                tokenizer_config(specials, vocab, args.bos_token, args.eos_token, args.model_max_length))
    print(summary("train-bpe", output=args.output, rows=len(texts), words=len(words), vocab=len(tokens),
                  merges=len(merges), seconds=time.monotonic() - started))
    return 0


def _counted(texts: List[str], bar: Progress):
    for text in texts:
        yield text
        bar.update()
