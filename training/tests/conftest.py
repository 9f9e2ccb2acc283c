"""Shared test set-up: the package on sys.path, and the repository's ``../shared`` data found from this file."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TRAINING = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TRAINING))


def _repo_root() -> Path:
    for directory in Path(__file__).resolve().parents:
        if (directory / "EdgeGuard.sln").exists():
            return directory
    raise RuntimeError(f"EdgeGuard.sln not found above {__file__}")


REPO_ROOT = _repo_root()
SHARED = (REPO_ROOT / ".." / "shared").resolve()


def fixture_dir(name: str) -> Path:
    return SHARED / "fixtures" / "deberta" / name


def tokenizer_dir(name: str) -> Path:
    return SHARED / "tokenizers" / name


def run_env() -> dict:
    """Environment for subprocesses running ``python3 -m edgeguard_train``: the package importable, few threads."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(TRAINING) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


@pytest.fixture
def tiny_model_dir(tmp_path: Path) -> Path:
    """A randomly initialised 2-layer, 32-wide DeBERTa-v3 classifier with the shared 2k tokenizer."""
    import torch

    from edgeguard_train.modeling_deberta import DebertaV2Config, DebertaV2ForSequenceClassification

    torch.manual_seed(0)
    config = DebertaV2Config(vocab_size=2001, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                             intermediate_size=64, max_position_embeddings=64, position_buckets=8)
    directory = tmp_path / "tiny"
    DebertaV2ForSequenceClassification(config).save_pretrained(str(directory))
    shutil.copyfile(tokenizer_dir("spm-unigram-2k") / "spm.model", directory / "spm.model")
    return directory


@pytest.fixture
def small_dataset(tmp_path: Path) -> Path:
    """The first 48 rows of the shared dev split (both labels, prompts and pairs, several sources)."""
    rows = []
    with open(SHARED / "datasets" / "dev.jsonl", encoding="utf-8") as f:
        for line in f:
            rows.append(line)
    # Every 70th row spreads the sample over the file's sources.
    path = tmp_path / "small.jsonl"
    path.write_text("".join(rows[::70][:48]), encoding="utf-8")
    return path


def tiny_decoder_dir(path: Path, seed: int, vocab_size: int = 512) -> Path:
    """A random 2-layer, 32-wide Llama with the small byte-level BPE tokenizer; weights spread wide (normal, std 0.5)
    so that its next-token distributions are peaked and a plausibility mask keeps a few tokens, not all of them."""
    import torch

    from edgeguard_train.modeling_decoder import DecoderConfig, DecoderLM, save_pretrained

    torch.manual_seed(seed)
    config = DecoderConfig.from_dict({"model_type": "llama", "vocab_size": vocab_size, "hidden_size": 32,
                                      "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
                                      "num_key_value_heads": 2, "max_position_embeddings": 64, "tie_word_embeddings": True})
    model = DecoderLM(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.5)
    save_pretrained(str(path), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(REPO_ROOT / "tests" / "data" / "tokenizers" / "edgeguard-bpe-small" / name, path / name)
    return path
