"""DeBERTa-v3 tokenization: SentencePiece Unigram pieces laid out as ``[CLS] prompt [SEP] response [SEP]``.

The ids must equal the EdgeGuard runtime's, because training and inference meet only through
``spm.model``. So, like the runtime: text that spells ``[SEP]`` is ordinary text (special ids
come only from the layout added here, which keeps input from forging segment boundaries),
``[MASK]`` is the id after the last piece, and pair truncation is Hugging Face's longest-first:
one token at a time from the end of the longer segment, from the response on a tie.
"""

from __future__ import annotations

import io
import os
from typing import Iterable, List, Optional, Sequence, Tuple

import sentencepiece as spm

PAD_ID, CLS_ID, SEP_ID, UNK_ID = 0, 1, 2, 3
BYTE_PIECES = range(4, 260)


class DebertaTokenizer:
    """Encodes text with a DeBERTa-v3 ``spm.model``; checks the special-piece layout on load."""

    def __init__(self, model_file: str) -> None:
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f"{model_file}: SentencePiece model not found")
        self.model_file = model_file
        self.sp = spm.SentencePieceProcessor(model_file=model_file)
        self._check_layout()

    def _check_layout(self) -> None:
        sp = self.sp
        expected = {PAD_ID: "[PAD]", CLS_ID: "[CLS]", SEP_ID: "[SEP]"}
        for piece_id, piece in expected.items():
            if sp.id_to_piece(piece_id) != piece or not sp.is_control(piece_id):
                raise ValueError(f"{self.model_file}: id {piece_id} must be the control piece {piece}")
        if sp.id_to_piece(UNK_ID) != "[UNK]" or not sp.is_unknown(UNK_ID):
            raise ValueError(f"{self.model_file}: id 3 must be the unknown piece [UNK]")
        for byte, piece_id in enumerate(BYTE_PIECES):
            if not sp.is_byte(piece_id) or sp.id_to_piece(piece_id) != f"<0x{byte:02X}>":
                raise ValueError(f"{self.model_file}: ids 4..259 must be the byte-fallback pieces <0x00>..<0xFF>")

    @property
    def piece_count(self) -> int:
        return self.sp.get_piece_size()

    @property
    def mask_id(self) -> int:
        """DeBERTa-v3 appends ``[MASK]`` after the last SentencePiece piece."""
        return self.piece_count

    @property
    def vocab_size(self) -> int:
        """Embedding rows a model needs for this tokenizer: pieces + ``[MASK]``."""
        return self.piece_count + 1

    def encode(self, text: str) -> List[int]:
        """Plain SentencePiece ids, no special tokens; special-token spellings stay text."""
        return self.sp.encode(text)

    def encode_pair(self, prompt: str, response: Optional[str], max_length: int) -> List[int]:
        """``[CLS] prompt [SEP]`` or ``[CLS] prompt [SEP] response [SEP]``, at most ``max_length`` ids."""
        prompt_ids = self.encode(prompt)
        response_ids = self.encode(response) if response is not None else None
        return build_pair(prompt_ids, response_ids, max_length)


def truncate_longest_first(prompt_len: int, response_len: int, budget: int) -> Tuple[int, int]:
    """How many prompt and response tokens fit in ``budget``, removing from the longer (response on a tie)."""
    if budget < 0:
        raise ValueError("budget must be >= 0")
    excess = prompt_len + response_len - budget
    if excess <= 0:
        return prompt_len, response_len
    # Equivalent to the one-at-a-time loop: cut the longer down to the shorter, then split the rest
    # with the response losing the odd token.
    p, r = prompt_len, response_len
    if p > r:
        cut = min(excess, p - r)
        p -= cut
    else:
        cut = min(excess, r - p)
        r -= cut
    excess -= cut
    if excess > 0:
        r -= (excess + 1) // 2
        p -= excess // 2
    return p, r


def build_pair(prompt_ids: Sequence[int], response_ids: Optional[Sequence[int]], max_length: int) -> List[int]:
    """Lays out already-tokenized segments with ``[CLS]``/``[SEP]`` and longest-first truncation."""
    has_response = response_ids is not None
    specials = 3 if has_response else 2
    if max_length < specials:
        raise ValueError(f"max_length {max_length} is below the {specials} special tokens")
    keep_p, keep_r = truncate_longest_first(len(prompt_ids), len(response_ids or ()), max_length - specials)
    ids = [CLS_ID] + list(prompt_ids[:keep_p]) + [SEP_ID]
    if has_response:
        ids += list(response_ids[:keep_r]) + [SEP_ID]  # type: ignore[index]
    return ids


def train_unigram(texts: Iterable[str], output: str, vocab_size: int, *, seed_sentencepiece_size: int = 200000,
                  max_sentence_length: int = 8192, character_coverage: float = 0.9995, num_threads: int = 2) -> str:
    """Trains a Unigram ``spm.model`` with DeBERTa-v3's special ids and byte fallback, writes it to ``output``.

    The layout is the one the runtime requires: ``[PAD]`` 0, ``[CLS]`` 1, ``[SEP]`` 2 as control
    pieces, ``[UNK]`` 3, the 256 byte pieces at 4..259, then the learned pieces; ``nmt_nfkc``.
    The model is written from memory (``model_writer``), so no file path ends up inside it.
    """
    writer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=writer,
        model_type="unigram",
        vocab_size=vocab_size,
        pad_id=PAD_ID, pad_piece="[PAD]",
        bos_id=CLS_ID, bos_piece="[CLS]",
        eos_id=SEP_ID, eos_piece="[SEP]",
        unk_id=UNK_ID, unk_piece="[UNK]",
        byte_fallback=True,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        character_coverage=character_coverage,
        seed_sentencepiece_size=seed_sentencepiece_size,
        max_sentence_length=max_sentence_length,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=num_threads,
        minloglevel=2,
    )
    directory = os.path.dirname(os.path.abspath(output))
    os.makedirs(directory, exist_ok=True)
    tmp = output + ".tmp"
    with open(tmp, "wb") as f:
        f.write(writer.getvalue())
    os.replace(tmp, output)
    return output
