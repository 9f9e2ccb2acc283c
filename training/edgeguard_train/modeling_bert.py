"""BERT and RoBERTa encoders and sequence classifiers in plain PyTorch, with Hugging Face parameter names.

Read top to bottom, this file is the architecture (Devlin et al. 2019; Liu et al. 2019):
``Embeddings`` (word + absolute position + token type, LayerNorm) -> N x ``EncoderLayer``
(post-LayerNorm: ``SelfAttention`` with a scaled dot product and an additive key mask -> output
dense + residual LayerNorm -> intermediate dense + activation -> output dense + residual
LayerNorm) -> the head: BERT's ``Pooler`` (dense + tanh on token 0) and a linear classifier, or
RoBERTa's ``RobertaClassificationHead`` (dense + tanh on token 0, then ``out_proj``; no pooler).

Module attribute names equal the Hugging Face ones (``bert.encoder.layer.0.attention.self.query.weight``,
``roberta.embeddings.position_embeddings.weight``, ``classifier.out_proj.bias`` ...), so a Hub
checkpoint's ``model.safetensors`` loads with ``load_state_dict`` and what we save loads in
``transformers`` without a name map. Dropout is a module as in ``transformers`` and does nothing in
``eval()``.

What differs between the two families is data, not code: RoBERTa (``model_type`` ``roberta`` and
``xlm-roberta``, the same graph) numbers positions from ``pad_token_id + 1`` counting only non-pad
tokens (padding keeps position ``pad_token_id``), has a single token type, and classifies with its
own head instead of the pooler.

Deviations from ``transformers``, and why:

- Only absolute position embeddings and encoder-only models are implemented (no
  ``relative_key`` positions, no decoder or cross-attention): that is every BERT, MiniLM, e5, bge,
  arctic-embed, RoBERTa and XLM-R classifier. Other configurations are refused by
  ``BertConfig.validate`` with a message naming the field, not silently run.
- ``hidden_act`` is ``gelu`` (exact erf), ``gelu_new`` / ``gelu_pytorch_tanh`` (the tanh
  approximation, one formula for both) or ``relu``; others are refused.
- Padding is masked with an additive ``finfo(dtype).min`` on the keys' scores, as current
  ``transformers`` does (older versions and many ONNX exports add -10000). Both give exactly zero
  attention to padding in float32 and float64 whenever a row has a real token, which it always has.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

BERT_TYPES = ("bert",)
ROBERTA_TYPES = ("roberta", "xlm-roberta")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "relu")

# Tensors checkpoints may carry that no classifier reads: buffers of older transformers versions,
# pre-training heads, and the pooler a RoBERTa MLM checkpoint keeps but its classifier never uses.
_UNUSED_PREFIXES = ("cls.", "lm_head.", "roberta.pooler.")
_UNUSED_SUFFIXES = ("position_ids", "token_type_ids")


@dataclass
class BertConfig:
    """The Hugging Face ``BertConfig`` / ``RobertaConfig`` fields this model reads; unknown keys are kept for round trips.

    Defaults are ``BertConfig``'s; ``from_dict`` starts from ``RobertaConfig``'s (vocabulary 50265,
    ``pad_token_id`` 1, ``bos_token_id`` 0, ``eos_token_id`` 2) when ``model_type`` is a RoBERTa one.
    """

    model_type: str = "bert"
    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    bos_token_id: Optional[int] = None
    eos_token_id: Optional[int] = None
    position_embedding_type: str = "absolute"
    classifier_dropout: Optional[float] = None
    id2label: Dict[int, str] = field(default_factory=lambda: {0: "LABEL_0", 1: "LABEL_1"})
    architectures: Optional[List[str]] = None
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.id2label = {int(k): str(v) for k, v in self.id2label.items()}

    @property
    def is_roberta(self) -> bool:
        return self.model_type in ROBERTA_TYPES

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def max_sequence_length(self) -> int:
        """Longest input: RoBERTa spends positions 0..pad_token_id on padding, so it has pad_token_id + 1 fewer."""
        return self.max_position_embeddings - (self.pad_token_id + 1 if self.is_roberta else 0)

    def validate(self) -> None:
        """Raises ``ValueError`` naming every field that makes the config something this model does not compute."""
        problems = []
        if self.model_type not in BERT_TYPES + ROBERTA_TYPES:
            problems.append(f"model_type {self.model_type!r} is not one of {', '.join(BERT_TYPES + ROBERTA_TYPES)}")
        if self.hidden_act not in ACTIVATIONS:
            problems.append(f"hidden_act {self.hidden_act!r} is not one of {', '.join(ACTIVATIONS)}")
        if self.position_embedding_type != "absolute":
            problems.append(f"position_embedding_type {self.position_embedding_type!r} is not supported (only absolute)")
        for flag in ("is_decoder", "add_cross_attention"):
            if self.extra.get(flag):
                problems.append(f"{flag} is true (only encoders are supported)")
        if self.extra.get("embedding_size", self.hidden_size) != self.hidden_size:
            problems.append("embedding_size different from hidden_size is not supported")
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a positive integer, not {getattr(self, name)!r}")
        if isinstance(self.num_attention_heads, int) and self.num_attention_heads > 0 and self.hidden_size % self.num_attention_heads:
            problems.append(f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads {self.num_attention_heads}")
        if not self.layer_norm_eps > 0:
            problems.append(f"layer_norm_eps must be > 0, not {self.layer_norm_eps!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            problems.append(f"pad_token_id {self.pad_token_id} is outside the vocabulary [0, {self.vocab_size})")
        if self.is_roberta and self.max_position_embeddings <= self.pad_token_id + 1:
            problems.append(f"max_position_embeddings {self.max_position_embeddings} leaves no position after "
                            f"pad_token_id {self.pad_token_id} (RoBERTa positions start at pad_token_id + 1)")
        if self.num_labels < 1:
            problems.append("id2label is empty (num_labels must be >= 1)")
        if problems:
            raise ValueError(f"unsupported {self.model_type} config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "BertConfig":
        values: Dict[str, Any] = {}
        model_type = data.get("model_type", "bert")
        if model_type in ROBERTA_TYPES:
            values.update(vocab_size=50265, pad_token_id=1, bos_token_id=0, eos_token_id=2)
        names = {f.name for f in fields(cls)} - {"extra"}
        values.update({k: v for k, v in data.items() if k in names})
        if "id2label" not in data and isinstance(data.get("num_labels"), int):
            values["id2label"] = {i: f"LABEL_{i}" for i in range(data["num_labels"])}
        extra = {k: v for k, v in data.items() if k not in names and k not in ("num_labels", "label2id")}
        return cls(**values, extra=extra)

    @classmethod
    def from_json_file(cls, path: str) -> "BertConfig":
        with open(path, "r", encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_dict(self) -> Dict[str, Any]:
        out = dict(self.extra)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "extra" and value is not None:
                out[f.name] = copy.deepcopy(value)
        out["id2label"] = {str(k): v for k, v in sorted(self.id2label.items())}
        out["label2id"] = {v: k for k, v in sorted(self.id2label.items())}
        out["torch_dtype"] = "float32"
        return dict(sorted(out.items()))


def _activation(name: str):
    if name == "gelu":
        return F.gelu  # exact erf GELU
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if name == "relu":
        return F.relu
    raise ValueError(f"hidden_act {name!r} is not one of {', '.join(ACTIVATIONS)}")


def roberta_position_ids(input_ids: torch.Tensor, pad_token_id: int) -> torch.Tensor:
    """``pad_token_id + 1 + (number of non-pad tokens before this one)`` for real tokens, ``pad_token_id`` for padding.

    Derived from the ids, not the attention mask, as ``transformers`` does; the two agree whenever
    padding uses the pad id exactly where the mask is 0.
    """
    real = input_ids.ne(pad_token_id).to(torch.long)
    return torch.cumsum(real, dim=1) * real + pad_token_id


class Embeddings(nn.Module):
    """Word + absolute position + token type embeddings -> LayerNorm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size,
                                                padding_idx=config.pad_token_id if config.is_roberta else None)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor,
                position_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        if position_ids is not None:
            positions = position_ids
        elif self.config.is_roberta:
            positions = roberta_position_ids(input_ids, self.config.pad_token_id)
        else:
            positions = torch.arange(input_ids.shape[1], dtype=torch.long, device=input_ids.device).unsqueeze(0)
        embeddings = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
                      + self.position_embeddings(positions))
        return self.dropout(self.LayerNorm(embeddings))


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product attention; padding keys get ``finfo.min`` added to their scores."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # [B, L, H*D] -> [B, H, L, D]
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, hidden: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        query = self._heads(self.query(hidden))
        key = self._heads(self.key(hidden))
        value = self._heads(self.value(hidden))
        scores = torch.matmul(query, key.transpose(-1, -2)) / math.sqrt(self.head_size) + key_bias
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = torch.matmul(probs, value)
        return context.permute(0, 2, 1, 3).reshape(hidden.shape[0], hidden.shape[1], -1)


class SelfOutput(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class Attention(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = SelfAttention(config)
        self.output = SelfOutput(config)

    def forward(self, hidden: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(hidden, key_bias), hidden)


class Intermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = _activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden))


class Output(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class EncoderLayer(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = Output(config)

    def forward(self, hidden: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        attended = self.attention(hidden, key_bias)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([EncoderLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # [B, L] -> [B, 1, 1, L]: added to every query's scores, so only keys are masked.
        keep = attention_mask.to(hidden.dtype)[:, None, None, :]
        key_bias = (1.0 - keep) * torch.finfo(hidden.dtype).min
        for layer in self.layer:
            hidden = layer(hidden, key_bias)
        return hidden


class Pooler(nn.Module):
    """BERT's pooler: token 0 -> dense -> tanh."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


def _default_inputs(input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor],
                    token_type_ids: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    return attention_mask, token_type_ids


class BertModel(nn.Module):
    """The encoder (``BertModel`` / ``RobertaModel``): ``forward`` gives the last hidden state ``[B, L, hidden]``."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)
        self.pooler = Pooler(config) if add_pooling_layer else None

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None, position_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``position_ids`` overrides the family's numbering (as in ``transformers``); leave it None to get it."""
        attention_mask, token_type_ids = _default_inputs(input_ids, attention_mask, token_type_ids)
        return self.encoder(self.embeddings(input_ids, token_type_ids, position_ids), attention_mask)

    def pooled(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.pooler is None:
            raise ValueError("this model has no pooler (the checkpoint has no pooler.dense tensors)")
        return self.pooler(self(input_ids, attention_mask, token_type_ids))

    @classmethod
    def from_pretrained(cls, directory: str, dtype: torch.dtype = torch.float32) -> "BertModel":
        """Loads a Hugging Face directory; the pooler is built only if the checkpoint has one.

        Classifier checkpoints (tensors under ``bert.`` / ``roberta.``) load too; their heads are ignored.
        """
        config = BertConfig.from_json_file(os.path.join(directory, "config.json"))
        state = _read_state(directory)
        family = "roberta." if config.is_roberta else "bert."
        if any(name.startswith(family) for name in state):
            state = {name[len(family):]: tensor for name, tensor in state.items() if name.startswith(family)}
        model = cls(config, add_pooling_layer="pooler.dense.weight" in state)
        return _load_into(model, state, directory, dtype)


class RobertaClassificationHead(nn.Module):
    """RoBERTa's head: token 0 -> dense -> tanh -> ``out_proj``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def pooled(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(self.dropout(hidden[:, 0])))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.dropout(self.pooled(hidden)))


class _SequenceClassifier(nn.Module):
    """What both classifiers share: weight init, ``encode``/``pooled``/``forward`` and the files."""

    prefix = ""
    model_types: Tuple[str, ...] = ()

    config: BertConfig

    def _init_weights(self, module: nn.Module) -> None:
        """normal(0, initializer_range) as the Hugging Face initialiser; zero biases and padding rows; LayerNorm to identity."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, self.config.initializer_range)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    @property
    def encoder_model(self) -> BertModel:
        return getattr(self, self.prefix.rstrip("."))

    def encode(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               token_type_ids: Optional[torch.Tensor] = None, position_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """The last hidden state ``[B, L, hidden]``."""
        return self.encoder_model(input_ids, attention_mask, token_type_ids, position_ids)

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def pooled(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
               token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``tanh(dense(h[:, 0]))``: BERT's pooler output, or the first half of RoBERTa's head."""
        return self.pool(self.encode(input_ids, attention_mask, token_type_ids))

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                token_type_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Logits ``[B, num_labels]``. ``attention_mask`` defaults to all ones, ``token_type_ids`` to zeros."""
        return self.classify(self.pooled(input_ids, attention_mask, token_type_ids))

    # --- files -------------------------------------------------------------------------------

    def hf_state_dict(self, dtype: torch.dtype = torch.float32) -> Dict[str, Any]:
        """Tensors under Hugging Face names as numpy arrays, ready for ``safetensors_io.save_file``."""
        return {name: tensor.detach().to(dtype).cpu().contiguous().numpy() for name, tensor in self.state_dict().items()}

    def save_pretrained(self, directory: str, dtype: torch.dtype = torch.float32) -> None:
        """Writes ``config.json`` and ``model.safetensors`` (the tokenizer is the caller's)."""
        config = copy.deepcopy(self.config)
        config.architectures = [ARCHITECTURES[config.model_type]]
        save_pretrained(directory, config, self.hf_state_dict(dtype))

    @classmethod
    def from_pretrained(cls, directory: str, dtype: torch.dtype = torch.float32) -> "_SequenceClassifier":
        """Loads a Hugging Face directory; missing, unexpected or misshapen tensors are an error naming them."""
        config = BertConfig.from_json_file(os.path.join(directory, "config.json"))
        if config.model_type not in cls.model_types:
            raise ValueError(f"{directory}: model_type {config.model_type!r} is not one of {', '.join(cls.model_types)} "
                             f"({cls.__name__})")
        return _load_into(cls(config), _read_state(directory), directory, dtype)


class BertForSequenceClassification(_SequenceClassifier):
    """BERT classifier: pooler (dense + tanh on token 0) -> dropout -> linear."""

    prefix = "bert."
    model_types = BERT_TYPES

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.bert = BertModel(config, add_pooling_layer=True)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.apply(self._init_weights)

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        assert self.bert.pooler is not None
        return self.bert.pooler(hidden)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled))


class RobertaForSequenceClassification(_SequenceClassifier):
    """RoBERTa / XLM-R classifier: no pooler; ``classifier.dense`` + tanh on token 0 -> ``classifier.out_proj``."""

    prefix = "roberta."
    model_types = ROBERTA_TYPES

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.roberta = BertModel(config, add_pooling_layer=False)
        self.classifier = RobertaClassificationHead(config)
        self.apply(self._init_weights)

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier.pooled(hidden)

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier.out_proj(self.classifier.dropout(pooled))


ARCHITECTURES = {
    "bert": "BertForSequenceClassification",
    "roberta": "RobertaForSequenceClassification",
    "xlm-roberta": "XLMRobertaForSequenceClassification",
}


def classifier_class(config: BertConfig):
    """``BertForSequenceClassification`` or ``RobertaForSequenceClassification`` for ``config.model_type``."""
    config.validate()
    return RobertaForSequenceClassification if config.is_roberta else BertForSequenceClassification


def load_classifier(directory: str, dtype: torch.dtype = torch.float32) -> _SequenceClassifier:
    """The classifier of a Hugging Face directory, chosen by its ``model_type``."""
    config = BertConfig.from_json_file(os.path.join(directory, "config.json"))
    return classifier_class(config).from_pretrained(directory, dtype)


def save_pretrained(directory: str, config: BertConfig, tensors: Dict[str, Any]) -> None:
    """Writes ``config.json`` and ``model.safetensors`` (numpy arrays under Hugging Face names)."""
    from .safetensors_io import save_file

    os.makedirs(directory, exist_ok=True)
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config.to_dict(), f, indent=2)
        f.write("\n")


def _read_state(directory: str) -> Dict[str, torch.Tensor]:
    from .safetensors_io import load_file

    arrays = load_file(os.path.join(directory, "model.safetensors"))
    return {name: torch.from_numpy(array) for name, array in arrays.items()
            if not name.startswith(_UNUSED_PREFIXES) and not name.endswith(_UNUSED_SUFFIXES)}


def _load_into(model: nn.Module, state: Dict[str, torch.Tensor], directory: str, dtype: torch.dtype):
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{directory}: tensors do not match the config; missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in expected.items():
        if tuple(tensor.shape) != tuple(state[name].shape):
            raise ValueError(f"{directory}: tensor {name} has shape {tuple(state[name].shape)}, config needs {tuple(tensor.shape)}")
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    return model.to(dtype).eval()
