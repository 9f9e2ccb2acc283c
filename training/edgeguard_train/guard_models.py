"""Guard model directories of either family the pipeline trains: DeBERTa-v3 (``spm.model``) or BERT/RoBERTa
(``vocab.txt`` + ``tokenizer_config.json``), loaded with their tokenizer and saved the way the runtime opens them.

A BERT encoder directory (``import-onnx-bert``'s output) becomes a guard here: labels ``{0: safe, 1: unsafe}``, the
position table cut to the window it will run with (the runtime's window is ``max_position_embeddings``, so a model
trained on 128-token windows is run on 128-token windows), and optionally fewer layers, taken from the pretrained
ones (a smaller student initialised from its teacher's encoder, as DistilBERT is).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Optional, Sequence, Tuple

import torch

from .modeling_bert import BERT_TYPES, ROBERTA_TYPES, BertConfig, classifier_class, load_classifier
from .modeling_deberta import DebertaV2ForSequenceClassification
from .tokenization import DebertaTokenizer
from .wordpiece import WordPieceTokenizer

GUARD_LABELS = {0: "safe", 1: "unsafe"}
BERT_TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json")


def model_type(directory: str) -> str:
    with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
        return str(json.load(f).get("model_type", ""))


def is_bert_family(directory: str) -> bool:
    return model_type(directory) in BERT_TYPES + ROBERTA_TYPES


def load_tokenizer(directory: str):
    """The directory's tokenizer: ``WordPieceTokenizer`` for the BERT family, ``DebertaTokenizer`` otherwise."""
    if is_bert_family(directory):
        return WordPieceTokenizer.from_files(os.path.join(directory, "vocab.txt"), os.path.join(directory, "tokenizer_config.json"))
    return DebertaTokenizer(os.path.join(directory, "spm.model"))


def load_guard(directory: str, dtype: torch.dtype = torch.float32):
    """(model, tokenizer) of a guard directory of either family."""
    if is_bert_family(directory):
        return load_classifier(directory, dtype), load_tokenizer(directory)
    return DebertaV2ForSequenceClassification.from_pretrained(directory).to(dtype), load_tokenizer(directory)


def max_positions(model: torch.nn.Module) -> int:
    """Tokens per row the model takes (a window, special tokens included)."""
    config = model.config
    if isinstance(config, BertConfig):
        return config.max_sequence_length
    return int(config.max_position_embeddings)


def bert_guard_from_encoder(directory: str, max_position_embeddings: Optional[int] = None,
                            keep_layers: Optional[Sequence[int]] = None, seed: int = 0) -> torch.nn.Module:
    """A two-label BERT-family guard initialised from ``directory`` (a classifier or an encoder with a head).

    ``max_position_embeddings`` keeps the first rows of the position table; ``keep_layers`` the listed encoder layers,
    in order. A directory whose head has another number of labels gets a new head (normal(0, 0.02) from ``seed``).
    """
    source = load_classifier(directory)
    config = BertConfig.from_dict(source.config.to_dict())
    config.id2label = dict(GUARD_LABELS)
    config.label2id = {v: k for k, v in GUARD_LABELS.items()}
    if max_position_embeddings is not None:
        if not 3 <= max_position_embeddings <= source.config.max_position_embeddings:
            raise SystemExit(f"{directory}: --max-position-embeddings {max_position_embeddings} is outside 3.."
                             f"{source.config.max_position_embeddings} (the pretrained table)")
        config.max_position_embeddings = max_position_embeddings
    layers = list(range(source.config.num_hidden_layers)) if keep_layers is None else list(keep_layers)
    if not layers or any(not 0 <= i < source.config.num_hidden_layers for i in layers):
        raise SystemExit(f"{directory}: --keep-layers {','.join(map(str, layers))} must name layers 0.."
                         f"{source.config.num_hidden_layers - 1}")
    config.num_hidden_layers = len(layers)
    torch.manual_seed(seed)
    guard = classifier_class(config)(config)
    state = source.state_dict()
    prefix = source.prefix
    target = guard.state_dict()
    for name in target:
        origin = name
        if name.startswith(prefix + "encoder.layer."):
            index, rest = name[len(prefix + "encoder.layer."):].split(".", 1)
            origin = f"{prefix}encoder.layer.{layers[int(index)]}.{rest}"
        value = state[origin]
        if name.endswith("position_embeddings.weight"):
            value = value[: config.max_position_embeddings]
        if tuple(value.shape) != tuple(target[name].shape):
            if name.startswith("classifier"):
                continue  # another label count: keep the new head
            raise SystemExit(f"{directory}: tensor {origin} has shape {tuple(value.shape)}, the guard needs {tuple(target[name].shape)}")
        target[name] = value.clone()
    guard.load_state_dict(target)
    return guard


def save_bert_guard(model: torch.nn.Module, tokenizer_directory: str, directory: str) -> None:
    """A BERT-family model as a Hugging Face directory, with ``vocab.txt`` and ``tokenizer_config.json`` copied from
    ``tokenizer_directory`` (``model_max_length`` set to the model's window)."""
    model.save_pretrained(directory)
    shutil.copyfile(os.path.join(tokenizer_directory, "vocab.txt"), os.path.join(directory, "vocab.txt"))
    with open(os.path.join(tokenizer_directory, "tokenizer_config.json"), encoding="utf-8") as f:
        tokenizer_config = json.load(f)
    tokenizer_config["model_max_length"] = model.config.max_sequence_length
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config, f, indent=2)
        f.write("\n")
