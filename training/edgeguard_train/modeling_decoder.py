"""Decoder language models (Llama, Qwen2, GPT-2) in plain PyTorch, with Hugging Face parameter names.

The reference the runtime's decoders are held to (golden fixtures, ``decoder_fixtures.py``). Read top
to bottom, this file is the two graphs:

- ``llama`` / ``qwen2``: token embeddings -> N x (RMSNorm -> grouped-query self-attention with
  rotary positions in the rotate-half form -> residual -> RMSNorm -> SwiGLU MLP -> residual) ->
  RMSNorm -> ``lm_head``. Qwen2 is Llama with biases on the q, k and v projections (and its own
  config defaults). RoPE frequencies are ``rope_theta ** (-2i / head_dim)``, optionally rescaled by
  the ``llama3`` ``rope_scaling`` type (Llama 3.1/3.2).
- ``gpt2``: token + learned position embeddings -> N x (LayerNorm -> multi-head self-attention with
  the fused ``c_attn`` -> residual -> LayerNorm -> MLP with ``gelu_new`` -> residual) -> LayerNorm ->
  the head tied to ``wte``. GPT-2's linear layers are ``Conv1D``: weights stored ``[in, out]``.

Every module is named as in ``transformers`` (``model.layers.0.self_attn.q_proj.weight``,
``transformer.h.0.attn.c_attn.weight``), so ``state_dict()`` is a Hub checkpoint's
``model.safetensors``; a tied ``lm_head`` is left out of it as ``save_pretrained`` leaves it out.
GPT-2 checkpoints saved by the original conversion name their tensors without the ``transformer.``
prefix (``h.0.attn.c_attn.weight``, ``wte.weight``) and carry the causal-mask buffers
``h.N.attn.bias`` / ``h.N.attn.masked_bias``; ``load_pretrained`` reads both forms.

Inputs are right-padded rows with an ``attention_mask``; positions count from 0 at each row's
first token (``cache_position``, as ``transformers`` numbers them when no position ids are given),
so a valid position's logits do not depend on the padding after it. ``KVCache`` holds each
layer's keys and values for incremental decoding; ``greedy`` decodes through it (lowest id on ties).

Deviations from ``transformers``, and why: variants the runtime does not implement are refused by
``DecoderConfig.validate`` naming the field (other ``rope_scaling`` types, ``partial_rotary_factor``,
Llama's ``attention_bias``/``mlp_bias``, Qwen2's sliding window, activations other than ``silu`` /
``gelu_new``, GPT-2's ``scale_attn_by_inverse_layer_idx``, cross-attention) instead of being run.
Masked scores get ``finfo(dtype).min`` as ``transformers`` adds; with a valid first token no row is
fully masked, so this is exactly zero attention.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

LLAMA_TYPES = ("llama", "qwen2")
GPT2_TYPES = ("gpt2",)
MODEL_TYPES = LLAMA_TYPES + GPT2_TYPES
GPT2_ACTIVATIONS = ("gelu_new", "gelu_pytorch_tanh")

# Hugging Face defaults per model_type (LlamaConfig, Qwen2Config, GPT2Config), in their field names.
_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "llama": dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=None, head_dim=None, hidden_act="silu",
                  max_position_embeddings=2048, rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None,
                  tie_word_embeddings=False, attention_bias=False, mlp_bias=False),
    "qwen2": dict(vocab_size=151936, hidden_size=4096, intermediate_size=22016, num_hidden_layers=32,
                  num_attention_heads=32, num_key_value_heads=32, head_dim=None, hidden_act="silu",
                  max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None,
                  tie_word_embeddings=False, use_sliding_window=False),
    "gpt2": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                 activation_function="gelu_new", layer_norm_epsilon=1e-5, scale_attn_weights=True,
                 scale_attn_by_inverse_layer_idx=False, reorder_and_upcast_attn=False,
                 add_cross_attention=False, tie_word_embeddings=True),
}


class ConfigError(ValueError):
    """A config this reference (and the runtime) does not implement; the message names the field."""


@dataclass
class DecoderConfig:
    """A Hugging Face decoder ``config.json`` with its model type's defaults filled in (``values``)."""

    values: Dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def from_dict(raw: Dict[str, Any]) -> "DecoderConfig":
        model_type = raw.get("model_type")
        if model_type not in _DEFAULTS:
            raise ConfigError(f"model_type={model_type!r} is not a decoder this reference implements ({', '.join(MODEL_TYPES)})")
        values = dict(_DEFAULTS[model_type])
        values.update(raw)
        parameters = raw.get("rope_parameters")
        if parameters is not None and model_type in LLAMA_TYPES:
            # transformers 5 writes the base and the variant together; they win over the top-level fields.
            if "rope_theta" not in parameters and "rope_type" not in parameters:
                raise ConfigError("rope_parameters gives neither rope_theta nor rope_type (per-layer-type parameters are not supported)")
            values["rope_theta"] = parameters.get("rope_theta", values["rope_theta"])
            scaling = {k: v for k, v in parameters.items() if k not in ("rope_theta", "partial_rotary_factor")}
            values["rope_scaling"] = scaling if scaling.get("rope_type", "default") != "default" else None
            if "partial_rotary_factor" in parameters:
                values["partial_rotary_factor"] = parameters["partial_rotary_factor"]
        config = DecoderConfig(values)
        config.validate()
        return config

    @staticmethod
    def from_json_file(path: str) -> "DecoderConfig":
        with open(path, "r", encoding="utf-8") as f:
            return DecoderConfig.from_dict(json.load(f))

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def is_gpt2(self) -> bool:
        return self.values["model_type"] in GPT2_TYPES

    # Sizes under one set of names for both families.
    @property
    def hidden(self) -> int:
        return self.n_embd if self.is_gpt2 else self.hidden_size

    @property
    def layers(self) -> int:
        return self.n_layer if self.is_gpt2 else self.num_hidden_layers

    @property
    def heads(self) -> int:
        return self.n_head if self.is_gpt2 else self.num_attention_heads

    @property
    def kv_heads(self) -> int:
        if self.is_gpt2:
            return self.n_head
        return self.num_key_value_heads if self.num_key_value_heads is not None else self.num_attention_heads

    @property
    def head_size(self) -> int:
        if not self.is_gpt2 and self.values.get("head_dim") is not None:
            return int(self.head_dim)
        return self.hidden // self.heads

    @property
    def inner(self) -> int:
        if self.is_gpt2:
            return self.n_inner if self.n_inner is not None else 4 * self.n_embd
        return self.intermediate_size

    @property
    def context(self) -> int:
        return self.n_positions if self.is_gpt2 else self.max_position_embeddings

    @property
    def rope_type(self) -> str:
        scaling = self.values.get("rope_scaling")
        if not scaling:
            return "default"
        return scaling.get("rope_type", scaling.get("type", "default"))

    def validate(self) -> None:
        if self.heads < 1 or self.hidden < 1 or self.layers < 1 or self.vocab_size < 1:
            raise ConfigError("sizes must be positive")
        if self.is_gpt2:
            if self.n_embd % self.n_head != 0:
                raise ConfigError(f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}")
            if self.activation_function not in GPT2_ACTIVATIONS:
                raise ConfigError(f"activation_function={self.activation_function!r} is not supported ({', '.join(GPT2_ACTIVATIONS)})")
            if self.scale_attn_by_inverse_layer_idx:
                raise ConfigError("scale_attn_by_inverse_layer_idx=true is not supported")
            if self.add_cross_attention:
                raise ConfigError("add_cross_attention=true is not supported")
            return
        if self.hidden_act != "silu":
            raise ConfigError(f"hidden_act={self.hidden_act!r} is not supported (silu)")
        if self.heads % self.kv_heads != 0:
            raise ConfigError(f"num_attention_heads={self.heads} is not a multiple of num_key_value_heads={self.kv_heads}")
        if self.values.get("head_dim") is None and self.hidden % self.heads != 0:
            raise ConfigError(f"hidden_size={self.hidden} is not divisible by num_attention_heads={self.heads}")
        if self.head_size % 2 != 0:
            raise ConfigError(f"head_dim={self.head_size} is odd; rotary embeddings rotate pairs")
        if self.values.get("partial_rotary_factor", 1.0) != 1.0:
            raise ConfigError(f"partial_rotary_factor={self.partial_rotary_factor} is not supported (1.0)")
        if self.values.get("attention_bias") or self.values.get("mlp_bias"):
            raise ConfigError("attention_bias/mlp_bias=true is not supported")
        if self.values.get("use_sliding_window"):
            raise ConfigError("use_sliding_window=true is not supported")
        if self.rope_type not in ("default", "llama3"):
            raise ConfigError(f"rope_scaling.rope_type={self.rope_type!r} is not supported (default, llama3)")
        if self.rope_type == "llama3":
            for key in ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"):
                if key not in self.rope_scaling:
                    raise ConfigError(f"rope_scaling.{key} is missing (the llama3 type needs it)")
            if self.rope_scaling["high_freq_factor"] <= self.rope_scaling["low_freq_factor"]:
                raise ConfigError("rope_scaling.high_freq_factor must exceed low_freq_factor")

    def to_dict(self) -> Dict[str, Any]:
        return dict(self.values)


# ---------------------------------------------------------------- Llama / Qwen2


def rope_inverse_frequencies(config: DecoderConfig) -> torch.Tensor:
    """``inv_freq`` (float32, ``head_dim / 2`` values) with the ``llama3`` rescaling when configured."""
    dim = config.head_size
    inv_freq = 1.0 / (float(config.rope_theta) ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    if config.rope_type != "llama3":
        return inv_freq
    scaling = config.rope_scaling
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_context = scaling["original_max_position_embeddings"]
    low_freq_wavelen = old_context / low
    high_freq_wavelen = old_context / high
    wavelen = 2 * math.pi / inv_freq
    # Long wavelengths (low frequencies) slow down by the factor, short ones stay, the band between is blended.
    scaled = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(medium, blended, scaled)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class RotaryEmbedding(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.register_buffer("inv_freq", rope_inverse_frequencies(config), persistent=False)

    def forward(self, positions: torch.Tensor, dtype: torch.dtype) -> Tuple[torch.Tensor, torch.Tensor]:
        # The angles in float32 whatever the model's dtype, as transformers computes them.
        angles = positions.float()[:, None] * self.inv_freq.float()[None, :]
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos().to(dtype), emb.sin().to(dtype)


class RMSNorm(nn.Module):
    def __init__(self, width: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + self.eps))


class KVCache:
    """Keys and values of every layer so far: ``[batch, kv_heads, tokens, head_dim]`` each."""

    def __init__(self, layers: int):
        self.keys: List[Optional[torch.Tensor]] = [None] * layers
        self.values: List[Optional[torch.Tensor]] = [None] * layers

    @property
    def length(self) -> int:
        return 0 if self.keys[0] is None else self.keys[0].shape[2]

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.keys[layer] is not None:
            k = torch.cat((self.keys[layer], k), dim=2)
            v = torch.cat((self.values[layer], v), dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor, scale: float) -> torch.Tensor:
    """Softmax attention; ``k``/``v`` may have fewer heads than ``q`` (each shared by a group of query heads)."""
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.matmul(torch.softmax(scores, dim=-1), v)


class LlamaAttention(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        qkv_bias = config.model_type == "qwen2"
        self.heads, self.kv_heads, self.head_size = config.heads, config.kv_heads, config.head_size
        hidden = config.hidden
        self.q_proj = nn.Linear(hidden, self.heads * self.head_size, bias=qkv_bias)
        self.k_proj = nn.Linear(hidden, self.kv_heads * self.head_size, bias=qkv_bias)
        self.v_proj = nn.Linear(hidden, self.kv_heads * self.head_size, bias=qkv_bias)
        self.o_proj = nn.Linear(self.heads * self.head_size, hidden, bias=False)

    def forward(self, x, cos, sin, mask, cache: Optional[KVCache], layer: int):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_size).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_size).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_size).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k, v = cache.append(layer, k, v)
        out = attend(q, k, v, mask, self.head_size ** -0.5)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, self.heads * self.head_size))


class LlamaMLP(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.gate_proj = nn.Linear(config.hidden, config.inner, bias=False)
        self.up_proj = nn.Linear(config.hidden, config.inner, bias=False)
        self.down_proj = nn.Linear(config.inner, config.hidden, bias=False)

    def forward(self, x):
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.self_attn = LlamaAttention(config)
        self.mlp = LlamaMLP(config)
        self.input_layernorm = RMSNorm(config.hidden, config.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(config.hidden, config.rms_norm_eps)

    def forward(self, x, cos, sin, mask, cache, layer):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden)
        self.layers = nn.ModuleList([LlamaDecoderLayer(config) for _ in range(config.layers)])
        self.norm = RMSNorm(config.hidden, config.rms_norm_eps)
        self.rotary_emb = RotaryEmbedding(config)

    def forward(self, input_ids, positions, mask, cache):
        x = self.embed_tokens(input_ids)
        cos, sin = self.rotary_emb(positions, x.dtype)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, cache, i)
        return self.norm(x)


# ---------------------------------------------------------------- GPT-2


class Conv1D(nn.Module):
    """GPT-2's linear layer: ``y = x·W + b`` with ``W`` stored ``[in, out]``."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class GPT2Attention(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.heads, self.head_size, self.hidden = config.heads, config.head_size, config.hidden
        self.scale = self.head_size ** -0.5 if config.scale_attn_weights else 1.0
        self.c_attn = Conv1D(self.hidden, 3 * self.hidden)
        self.c_proj = Conv1D(self.hidden, self.hidden)

    def forward(self, x, mask, cache, layer):
        b, t, _ = x.shape
        q, k, v = self.c_attn(x).split(self.hidden, dim=2)
        q, k, v = (a.view(b, t, self.heads, self.head_size).transpose(1, 2) for a in (q, k, v))
        if cache is not None:
            k, v = cache.append(layer, k, v)
        out = attend(q, k, v, mask, self.scale)
        return self.c_proj(out.transpose(1, 2).reshape(b, t, self.hidden))


class GPT2MLP(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.c_fc = Conv1D(config.hidden, config.inner)
        self.c_proj = Conv1D(config.inner, config.hidden)

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden, eps=config.layer_norm_epsilon)
        self.attn = GPT2Attention(config)
        self.ln_2 = nn.LayerNorm(config.hidden, eps=config.layer_norm_epsilon)
        self.mlp = GPT2MLP(config)

    def forward(self, x, mask, cache, layer):
        x = x + self.attn(self.ln_1(x), mask, cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT2Model(nn.Module):
    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.hidden)
        self.wpe = nn.Embedding(config.n_positions, config.hidden)
        self.h = nn.ModuleList([GPT2Block(config) for _ in range(config.layers)])
        self.ln_f = nn.LayerNorm(config.hidden, eps=config.layer_norm_epsilon)

    def forward(self, input_ids, positions, mask, cache):
        x = self.wte(input_ids) + self.wpe(positions)[None]
        for i, block in enumerate(self.h):
            x = block(x, mask, cache, i)
        return self.ln_f(x)


# ---------------------------------------------------------------- the language model


class DecoderLM(nn.Module):
    """``LlamaForCausalLM`` / ``Qwen2ForCausalLM`` / ``GPT2LMHeadModel``: the body and ``lm_head``."""

    def __init__(self, config: DecoderConfig):
        super().__init__()
        self.config = config
        if config.is_gpt2:
            self.transformer = GPT2Model(config)
            table = self.transformer.wte
        else:
            self.model = LlamaModel(config)
            table = self.model.embed_tokens
        self.lm_head = nn.Linear(config.hidden, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = table.weight

    @property
    def body(self) -> nn.Module:
        return self.transformer if self.config.is_gpt2 else self.model

    def new_cache(self) -> KVCache:
        return KVCache(self.config.layers)

    def forward(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None,
                cache: Optional[KVCache] = None) -> torch.Tensor:
        """Logits ``[batch, tokens, vocab]`` of ``input_ids`` (after what ``cache`` holds, which it then also holds).

        ``attention_mask`` (``[batch, past + tokens]``, 1 = real token) masks right padding; padded
        positions' logits are computed but mean nothing.
        """
        b, t = input_ids.shape
        past = cache.length if cache is not None else 0
        if past + t > self.config.context:
            raise ValueError(f"{past + t} tokens exceed the context of {self.config.context}")
        if int(input_ids.min()) < 0 or int(input_ids.max()) >= self.config.vocab_size:
            raise ValueError(f"token ids must lie in [0, {self.config.vocab_size})")
        positions = torch.arange(past, past + t)
        total = past + t
        causal = torch.ones(t, total, dtype=torch.bool).tril(diagonal=past)
        mask = causal[None, None].expand(b, 1, t, total)
        if attention_mask is not None:
            mask = mask & attention_mask.bool()[:, None, None, :total]
        hidden = self.body(input_ids, positions, mask, cache)
        return self.lm_head(hidden)

    def state_dict_hf(self) -> Dict[str, torch.Tensor]:
        """The tensors ``save_pretrained`` writes: every parameter, a tied ``lm_head`` left out."""
        state = {name: tensor for name, tensor in self.state_dict().items() if not name.endswith("inv_freq")}
        if self.config.tie_word_embeddings:
            state.pop("lm_head.weight")
        return state


def greedy(model: DecoderLM, prompt: Sequence[int], new_tokens: int) -> Tuple[List[int], List[float]]:
    """``new_tokens`` tokens after ``prompt`` through the KV cache, each the lowest id of the largest logit.

    Also returns each step's margin (largest minus second-largest logit), so a caller can check that
    the choice is robust to rounding.
    """
    if not prompt:
        raise ValueError("the prompt is empty")
    cache = model.new_cache()
    with torch.no_grad():
        logits = model(torch.tensor([list(prompt)]), cache=cache)[0, -1]
        tokens: List[int] = []
        margins: List[float] = []
        for step in range(new_tokens):
            best = int(torch.argmax(logits))  # torch.argmax returns the first maximal index
            top2 = torch.topk(logits, 2).values
            margins.append(float(top2[0] - top2[1]))
            tokens.append(best)
            if step + 1 < new_tokens:
                logits = model(torch.tensor([[best]]), cache=cache)[0, -1]
    return tokens, margins


# ---------------------------------------------------------------- files


def save_pretrained(directory: str, model: DecoderLM, bare_gpt2_names: bool = False) -> None:
    """``config.json`` and ``model.safetensors`` as ``save_pretrained`` writes them (float32, tied head absent).

    ``bare_gpt2_names`` writes a GPT-2 checkpoint in the original conversion's form: names without
    ``transformer.``, with the ``h.N.attn.bias`` causal-mask buffers.
    """
    from .safetensors_io import save_file

    os.makedirs(directory, exist_ok=True)
    tensors = {name: t.detach().to(torch.float32).contiguous().numpy() for name, t in model.state_dict_hf().items()}
    if bare_gpt2_names:
        if not model.config.is_gpt2:
            raise ValueError("bare names exist for GPT-2 checkpoints only")
        tensors = {name[len("transformer."):] if name.startswith("transformer.") else name: t for name, t in tensors.items()}
        n = model.config.n_positions
        for i in range(model.config.layers):
            tensors[f"h.{i}.attn.bias"] = torch.ones(n, n).tril().view(1, 1, n, n).numpy()
    save_file(tensors, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(directory, "config.json"), "w", encoding="utf-8") as f:
        json.dump(model.config.to_dict(), f, indent=2)
        f.write("\n")


def _hf_name(name: str, config: DecoderConfig) -> Optional[str]:
    """The name ``name`` has in ``DecoderLM.state_dict()``, or None for a buffer no model reads."""
    if config.is_gpt2:
        if name.endswith((".attn.bias", ".attn.masked_bias")) and ".c_attn." not in name:
            return None
        if not name.startswith(("transformer.", "lm_head.")):
            return "transformer." + name
    return name


def load_pretrained(directory: str, dtype: torch.dtype = torch.float32) -> DecoderLM:
    """The model of a Hugging Face directory (either GPT-2 naming), checked tensor by tensor against its config."""
    from .safetensors_io import load_file

    config = DecoderConfig.from_json_file(os.path.join(directory, "config.json"))
    model = DecoderLM(config)
    state = {}
    for name, array in load_file(os.path.join(directory, "model.safetensors")).items():
        mapped = _hf_name(name, config)
        if mapped is not None:
            state[mapped] = torch.from_numpy(array).to(torch.float32)
    expected = model.state_dict_hf()
    if config.tie_word_embeddings and "lm_head.weight" in state:
        if tuple(state["lm_head.weight"].shape) != tuple(expected[next(n for n in expected if n.endswith(("embed_tokens.weight", "wte.weight")))].shape):
            raise ValueError(f"{directory}: tie_word_embeddings=true but lm_head.weight has another shape than the embeddings")
        state.pop("lm_head.weight")
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(f"{directory}: tensors do not match the config; missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in expected.items():
        if tuple(tensor.shape) != tuple(state[name].shape):
            raise ValueError(f"{directory}: tensor {name} has shape {tuple(state[name].shape)}, the config needs {tuple(tensor.shape)}")
    model.load_state_dict(state, strict=False)
    return model.to(dtype).eval()
