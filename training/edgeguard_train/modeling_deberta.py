"""DeBERTa-v2/v3 sequence classifier in plain PyTorch, with Hugging Face parameter names.

Read top to bottom, this file is the architecture: ``Embeddings`` -> N x ``EncoderLayer``
(``DisentangledSelfAttention`` with relative-position buckets, c2p + p2c, shared keys) ->
``ContextPooler`` -> classifier. Module attribute names equal the Hugging Face ones
(``deberta.encoder.layer.0.attention.self.query_proj.weight`` ...), so a Hub checkpoint's
``model.safetensors`` loads with ``load_state_dict`` and what we save loads in
``transformers`` and in the EdgeGuard runtime without a name map.

Deviations from ``transformers``' ``DebertaV2ForSequenceClassification``, and why:

- Only the DeBERTa-v3 variant is implemented (relative attention with log buckets, shared
  attention keys, LayerNorm'd relative embeddings, no absolute positions, no token types, no
  convolution layer): that is what every DeBERTa-v3 checkpoint and the runtime use. Other
  configurations are rejected by ``DebertaV2Config.validate`` with a message, not silently run.
- Relative positions follow the Hugging Face bucket rule (no clamp of the distance before
  log-bucketing), so outputs equal ``transformers`` also beyond ``max_position_embeddings``.
- The attention mask is applied with plain tensor ops (no autograd Function) so the module
  exports to ONNX with dynamic batch and sequence axes.
"""

from __future__ import annotations

import copy
import json
import math
import os
from dataclasses import dataclass, field, fields
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ID2LABEL = {0: "safe", 1: "unsafe"}


@dataclass
class DebertaV2Config:
    """The Hugging Face ``DebertaV2Config`` fields this model reads; unknown keys are kept for round trips."""

    vocab_size: int = 128100
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-7
    relative_attention: bool = True
    max_relative_positions: int = -1
    position_buckets: int = 256
    norm_rel_ebd: str = "layer_norm"
    share_att_key: bool = True
    pos_att_type: Any = field(default_factory=lambda: ["p2c", "c2p"])
    position_biased_input: bool = False
    pad_token_id: int = 0
    pooler_hidden_size: Optional[int] = None
    pooler_hidden_act: str = "gelu"
    pooler_dropout: float = 0.0
    num_labels: int = 2
    extra: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pooler_hidden_size is None:
            self.pooler_hidden_size = self.hidden_size
        if isinstance(self.pos_att_type, str):
            self.pos_att_type = [p.strip() for p in self.pos_att_type.lower().split("|") if p.strip()]

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def max_relative(self) -> int:
        return self.max_relative_positions if self.max_relative_positions >= 1 else self.max_position_embeddings

    @property
    def position_embedding_size(self) -> int:
        """Rows of ``rel_embeddings`` / 2: the bucket count when buckets are on."""
        return self.position_buckets if self.position_buckets > 0 else self.max_relative

    def validate(self) -> None:
        """Raises ``ValueError`` naming the field when the config is not a DeBERTa-v3 classifier we can run."""
        problems = []
        if not self.relative_attention:
            problems.append("relative_attention must be true")
        if self.position_buckets <= 0:
            problems.append("position_buckets must be > 0 (DeBERTa-v3 log buckets)")
        if not self.share_att_key:
            problems.append("share_att_key must be true")
        if sorted(self.pos_att_type) != ["c2p", "p2c"]:
            problems.append(f"pos_att_type must be p2c|c2p, not {self.pos_att_type}")
        if self.norm_rel_ebd != "layer_norm":
            problems.append("norm_rel_ebd must be layer_norm")
        if self.position_biased_input:
            problems.append("position_biased_input must be false")
        if self.type_vocab_size != 0:
            problems.append("type_vocab_size must be 0")
        if self.hidden_act != "gelu" or self.pooler_hidden_act != "gelu":
            problems.append("hidden_act and pooler_hidden_act must be gelu")
        if self.pooler_hidden_size != self.hidden_size:
            problems.append("pooler_hidden_size must equal hidden_size")
        if self.hidden_size % self.num_attention_heads:
            problems.append("hidden_size must be a multiple of num_attention_heads")
        if self.extra.get("embedding_size", self.hidden_size) != self.hidden_size:
            problems.append("embedding_size different from hidden_size is not supported")
        if self.extra.get("conv_kernel_size", 0):
            problems.append("conv_kernel_size > 0 (DeBERTa-v2 convolution) is not supported")
        if problems:
            raise ValueError("unsupported DeBERTa config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "DebertaV2Config":
        names = {f.name for f in fields(cls)} - {"extra"}
        known = {k: v for k, v in data.items() if k in names}
        extra = {k: v for k, v in data.items() if k not in names}
        if "num_labels" not in known and isinstance(data.get("id2label"), dict):
            known["num_labels"] = len(data["id2label"])
        return cls(**known, extra=extra)

    @classmethod
    def from_json_file(cls, path: str) -> "DebertaV2Config":
        with open(path, "r", encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_dict(self) -> Dict[str, Any]:
        out = dict(self.extra)
        for f in fields(self):
            if f.name not in ("extra", "num_labels"):
                out[f.name] = copy.deepcopy(getattr(self, f.name))
        out["pos_att_type"] = "|".join(self.pos_att_type)
        out["model_type"] = "deberta-v2"
        out["architectures"] = ["DebertaV2ForSequenceClassification"]
        if self.num_labels == 2:
            out["id2label"] = {str(k): v for k, v in ID2LABEL.items()}
            out["label2id"] = {v: k for k, v in ID2LABEL.items()}
        out.pop("torch_dtype", None)
        out["torch_dtype"] = "float32"
        return dict(sorted(out.items()))


PRESETS: Dict[str, Dict[str, int]] = {
    # The public DeBERTa-v3 shapes (HarmAug-Guard is "large"), with DeBERTa-v3's 128k vocabulary.
    "large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096, vocab_size=128100),
    "base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, vocab_size=128100),
    "small": dict(hidden_size=768, num_hidden_layers=6, num_attention_heads=12, intermediate_size=3072, vocab_size=128100),
    "xsmall": dict(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, intermediate_size=1536, vocab_size=128100),
    # Trained from scratch on two CPU cores with a small own vocabulary; the vocabulary size is
    # replaced by the tokenizer's (pieces + [MASK]) when a model is created for one.
    "edge-teacher": dict(hidden_size=192, num_hidden_layers=4, num_attention_heads=4, intermediate_size=768,
                         vocab_size=8001, max_position_embeddings=512, position_buckets=64),
    "edge": dict(hidden_size=128, num_hidden_layers=3, num_attention_heads=2, intermediate_size=512,
                 vocab_size=8001, max_position_embeddings=512, position_buckets=64),
}


def preset_config(name: str, **overrides: Any) -> DebertaV2Config:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    values: Dict[str, Any] = dict(PRESETS[name])
    values.update(overrides)
    return DebertaV2Config(**values)


def make_log_bucket_position(relative_pos: torch.Tensor, bucket_size: int, max_position: int) -> torch.Tensor:
    """The Hugging Face log-bucket map: exact within +-bucket_size/2, logarithmic beyond, unclamped."""
    sign = torch.sign(relative_pos)
    mid = bucket_size // 2
    abs_pos = torch.where((relative_pos < mid) & (relative_pos > -mid),
                          torch.full_like(relative_pos, mid - 1), torch.abs(relative_pos))
    # float32 throughout, as the reference computes it, so ceil() lands on the same bucket.
    log_scale = float(np.log(np.float32((max_position - 1) / mid), dtype=np.float32))
    log_pos = torch.ceil(torch.log(abs_pos.to(torch.float32) / mid) / log_scale * (mid - 1)) + mid
    return torch.where(abs_pos <= mid, relative_pos, (log_pos * sign.to(log_pos.dtype)).to(relative_pos.dtype))


def build_relative_position(length: int, bucket_size: int, max_position: int, device: torch.device) -> torch.Tensor:
    """``[L, L]`` bucketed distances ``query - key``; depends only on the length."""
    ids = torch.arange(length, dtype=torch.long, device=device)
    rel = ids[:, None] - ids[None, :]
    return make_log_bucket_position(rel, bucket_size, max_position)


class Embeddings(nn.Module):
    """Word embeddings -> LayerNorm -> zero the padding positions (no absolute positions in v3)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        embeddings = self.LayerNorm(self.word_embeddings(input_ids))
        embeddings = embeddings * mask.unsqueeze(2).to(embeddings.dtype)
        return self.dropout(embeddings)


class DisentangledSelfAttention(nn.Module):
    """Content-to-content + content-to-position + position-to-content attention (DeBERTa, He et al. 2021)."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_size = config.head_size
        self.query_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.key_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.value_proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.att_span = config.position_embedding_size
        # c2c + c2p + p2c: each score term is scaled by sqrt(head_size * 3).
        self.scale = math.sqrt(self.head_size * 3)
        self.pos_dropout = nn.Dropout(config.hidden_dropout_prob)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        # [B, L, H*D] -> [B, H, L, D]
        return x.view(x.shape[0], x.shape[1], self.num_heads, self.head_size).permute(0, 2, 1, 3)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, relative_pos: torch.Tensor,
                rel_embeddings: torch.Tensor) -> torch.Tensor:
        query = self._heads(self.query_proj(hidden))
        key = self._heads(self.key_proj(hidden))
        value = self._heads(self.value_proj(hidden))
        scores = torch.matmul(query, key.transpose(-1, -2)) / self.scale

        # Shared keys: the position projections reuse the content projections.
        rel = self.pos_dropout(rel_embeddings[: self.att_span * 2])
        pos_key = self.key_proj(rel).view(-1, self.num_heads, self.head_size).permute(1, 0, 2)     # [H, 2S, D]
        pos_query = self.query_proj(rel).view(-1, self.num_heads, self.head_size).permute(1, 0, 2)  # [H, 2S, D]
        length = hidden.shape[1]
        index_shape = (hidden.shape[0], self.num_heads, length, length)
        c2p_index = torch.clamp(relative_pos + self.att_span, 0, self.att_span * 2 - 1).expand(index_shape)
        p2c_index = torch.clamp(-relative_pos + self.att_span, 0, self.att_span * 2 - 1).expand(index_shape)
        c2p = torch.gather(torch.matmul(query, pos_key.transpose(-1, -2)), -1, c2p_index)
        p2c = torch.gather(torch.matmul(key, pos_query.transpose(-1, -2)), -1, p2c_index).transpose(-1, -2)
        scores = scores + c2p / self.scale + p2c / self.scale

        # Masked softmax: masked keys get the dtype minimum, fully masked rows (padding queries) give zeros.
        keep = attention_mask.to(torch.bool)
        scores = scores.masked_fill(~keep, torch.finfo(scores.dtype).min)
        probs = torch.softmax(scores, dim=-1) * keep.to(scores.dtype)
        context = torch.matmul(self.dropout(probs), value)
        return context.permute(0, 2, 1, 3).reshape(hidden.shape[0], length, -1)


class SelfOutput(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class Attention(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.self = DisentangledSelfAttention(config)
        self.output = SelfOutput(config)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, relative_pos: torch.Tensor,
                rel_embeddings: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(hidden, attention_mask, relative_pos, rel_embeddings), hidden)


class Intermediate(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(hidden))  # exact erf GELU, as HF "gelu"


class Output(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class EncoderLayer(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.attention = Attention(config)
        self.intermediate = Intermediate(config)
        self.output = Output(config)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor, relative_pos: torch.Tensor,
                rel_embeddings: torch.Tensor) -> torch.Tensor:
        attended = self.attention(hidden, attention_mask, relative_pos, rel_embeddings)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList([EncoderLayer(config) for _ in range(config.num_hidden_layers)])
        self.rel_embeddings = nn.Embedding(config.position_embedding_size * 2, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps, elementwise_affine=True)

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # [B, L] -> [B, 1, L, L]: a pair (query, key) attends when both are real tokens.
        mask_f = mask.to(hidden.dtype)
        attention_mask = (mask_f.unsqueeze(1) * mask_f.unsqueeze(2)).unsqueeze(1)
        relative_pos = build_relative_position(hidden.shape[1], self.config.position_buckets,
                                               self.config.max_relative, hidden.device)
        rel_embeddings = self.LayerNorm(self.rel_embeddings.weight)
        for layer in self.layer:
            hidden = layer(hidden, attention_mask, relative_pos, rel_embeddings)
        return hidden


class DebertaV2Model(nn.Module):
    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.embeddings = Embeddings(config)
        self.encoder = Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.embeddings(input_ids, attention_mask), attention_mask)


class ContextPooler(nn.Module):
    """Token 0 -> dense -> GELU."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.pooler_hidden_size)
        self.dropout = nn.Dropout(config.pooler_dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.dense(self.dropout(hidden[:, 0])))


class DebertaV2ForSequenceClassification(nn.Module):
    """The guard: logits ``[B, 2]``, class 1 = unsafe."""

    def __init__(self, config: DebertaV2Config) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.deberta = DebertaV2Model(config)
        self.pooler = ContextPooler(config)
        self.classifier = nn.Linear(config.pooler_hidden_size, config.num_labels)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        """Truncation-free normal(0, initializer_range) as the HF initialiser; LayerNorm to identity."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(0.0, self.config.initializer_range)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
            if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.data.fill_(1.0)
            module.bias.data.zero_()

    def pooled(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.pooler(self.deberta(input_ids, attention_mask))

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        return self.classifier(self.dropout(self.pooled(input_ids, attention_mask)))

    # --- files -------------------------------------------------------------------------------

    def hf_state_dict(self, dtype: torch.dtype = torch.float32) -> Dict[str, "Any"]:
        """Tensors under Hugging Face names as numpy arrays, ready for ``safetensors_io.save_file``."""
        return {name: tensor.detach().to(dtype).cpu().contiguous().numpy() for name, tensor in self.state_dict().items()}

    def save_pretrained(self, directory: str, dtype: torch.dtype = torch.float32) -> None:
        """Writes ``config.json`` and ``model.safetensors`` (the tokenizer is copied by the caller)."""
        from .safetensors_io import save_file

        os.makedirs(directory, exist_ok=True)
        save_file(self.hf_state_dict(dtype), os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
            json.dump(self.config.to_dict(), f, indent=2)
            f.write("\n")

    @classmethod
    def from_pretrained(cls, directory: str, dtype: torch.dtype = torch.float32) -> "DebertaV2ForSequenceClassification":
        """Loads a Hugging Face directory; missing or unexpected tensors are an error naming them."""
        from .safetensors_io import load_file

        config = DebertaV2Config.from_json_file(os.path.join(directory, "config.json"))
        model = cls(config)
        arrays = load_file(os.path.join(directory, "model.safetensors"))
        state = {name: torch.from_numpy(array) for name, array in arrays.items()}
        # Older checkpoints may carry buffers or heads we do not use.
        for unused in [k for k in state if k.endswith("position_ids") or k.startswith("lm_predictions")]:
            del state[unused]
        missing, unexpected = _compare_keys(model.state_dict(), state)
        if missing or unexpected:
            raise ValueError(f"{directory}: tensors do not match the config; missing {missing[:5]}, unexpected {unexpected[:5]}")
        for name, tensor in model.state_dict().items():
            if tuple(tensor.shape) != tuple(state[name].shape):
                raise ValueError(f"{directory}: tensor {name} has shape {tuple(state[name].shape)}, config needs {tuple(tensor.shape)}")
        model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
        return model.to(dtype).eval()


def _compare_keys(expected: Dict[str, torch.Tensor], got: Dict[str, torch.Tensor]) -> "tuple[List[str], List[str]]":
    return sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
