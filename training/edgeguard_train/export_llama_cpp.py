"""Export a Hugging Face Llama directory as a float32 GGUF file in the layout llama.cpp reads.

The file is GGUF version 3: ``general.architecture=llama``, the ``llama.*`` hyper-parameters, the byte-level BPE
tokenizer of ``tokenizer.json`` under ``tokenizer.ggml.*`` (model ``gpt2``; the pre-tokenizer is ``smollm`` for
SmolLM's digits-then-byte-level sequence and ``gpt-2`` for a plain byte-level one, or ``--pre``; the token list is
padded to the config's ``vocab_size`` with unused entries; BOS/EOS from ``tokenizer_config.json``), and every weight in
float32 under llama.cpp's tensor names (``token_embd``, ``blk.N.attn_q`` ..., ``output_norm``, ``output`` only when the
head is not tied). llama.cpp rotates adjacent pairs of a head's query and key features where Hugging Face rotates its
two halves, so the rows of ``q_proj`` and ``k_proj`` are reordered head by head (feature ``i`` of the first half goes
to ``2i``, of the second half to ``2i + 1``); attention scores are unchanged. llama.cpp's quantizer turns the file into
Q8_0 and the other types it knows.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from .progress import summary

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
# llama.cpp's default; written explicitly so readers need not know the default.
GGUF_ALIGNMENT = 32

# GGUF metadata value types.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR_FORMATS = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i", FLOAT32: "<f",
                   BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# ggml tensor types this module writes or reads back (the quantized ones only by name and block size).
GGML_F32 = 0
GGML_F16 = 1
GGML_Q8_0 = 8
_GGML_TYPE_NAMES = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q8_0: "Q8_0"}

# llama.cpp's token types.
TOKEN_NORMAL, TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_USER_DEFINED, TOKEN_UNUSED, TOKEN_BYTE = 1, 2, 3, 4, 5, 6

# general.file_type of a file whose every tensor is float32.
FILE_TYPE_ALL_F32 = 0

PRE_TOKENIZERS = ("smollm", "gpt-2", "default")

# Hugging Face's per-layer weight names and llama.cpp's.
_LAYER_TENSORS = (
    ("input_layernorm.weight", "attn_norm.weight"),
    ("self_attn.q_proj.weight", "attn_q.weight"),
    ("self_attn.k_proj.weight", "attn_k.weight"),
    ("self_attn.v_proj.weight", "attn_v.weight"),
    ("self_attn.o_proj.weight", "attn_output.weight"),
    ("post_attention_layernorm.weight", "ffn_norm.weight"),
    ("mlp.gate_proj.weight", "ffn_gate.weight"),
    ("mlp.up_proj.weight", "ffn_up.weight"),
    ("mlp.down_proj.weight", "ffn_down.weight"),
)


class ExportError(ValueError):
    """A directory this stage cannot export, or a file that is not GGUF; the message names the file and the problem."""


# ---------------------------------------------------------------- row order of queries and keys


def hf_to_llama_cpp_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """``weight`` ([heads * head_dim, in]) with each head's rows from rotate-half order to adjacent pairs.

    Within a head, Hugging Face rotates feature ``i`` with ``i + head_dim / 2``; llama.cpp rotates ``2i`` with
    ``2i + 1``. Row ``i`` of the first half becomes row ``2i``, row ``i`` of the second half row ``2i + 1``.
    """
    rows = weight.shape[0]
    if heads < 1 or rows % (2 * heads) != 0:
        raise ExportError(f"{rows} rows do not split into {heads} heads of an even size")
    half = rows // heads // 2
    return weight.reshape(heads, 2, half, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def llama_cpp_to_hf_rows(weight: np.ndarray, heads: int) -> np.ndarray:
    """The inverse of :func:`hf_to_llama_cpp_rows`."""
    rows = weight.shape[0]
    if heads < 1 or rows % (2 * heads) != 0:
        raise ExportError(f"{rows} rows do not split into {heads} heads of an even size")
    half = rows // heads // 2
    return weight.reshape(heads, half, 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


# ---------------------------------------------------------------- GGUF writing


def _string(value: str) -> bytes:
    encoded = value.encode("utf-8")
    return struct.pack("<Q", len(encoded)) + encoded


def _value(kind: int, value: Any) -> bytes:
    if kind == STRING:
        return _string(value)
    return struct.pack(_SCALAR_FORMATS[kind], value)


@dataclass
class GgufWriter:
    """Collects metadata and float32 tensors, then writes one GGUF v3 file (header, tensor infos, aligned data)."""

    metadata: List[Tuple[str, int, Any, Optional[int]]] = field(default_factory=list)
    tensors: List[Tuple[str, np.ndarray]] = field(default_factory=list)

    def add(self, key: str, kind: int, value: Any) -> None:
        self.metadata.append((key, kind, value, None))

    def add_array(self, key: str, element_kind: int, values: Sequence[Any]) -> None:
        self.metadata.append((key, ARRAY, list(values), element_kind))

    def add_tensor(self, name: str, array: np.ndarray) -> None:
        if any(existing == name for existing, _ in self.tensors):
            raise ExportError(f"tensor {name} is added twice")
        self.tensors.append((name, np.ascontiguousarray(array, dtype="<f4")))

    def _header(self) -> bytes:
        parts = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.metadata))]
        for key, kind, value, element_kind in self.metadata:
            parts.append(_string(key) + struct.pack("<I", kind))
            if kind == ARRAY:
                assert element_kind is not None
                parts.append(struct.pack("<IQ", element_kind, len(value)))
                parts.extend(_value(element_kind, v) for v in value)
            else:
                parts.append(_value(kind, value))
        offset = 0
        for name, array in self.tensors:
            # GGUF lists dimensions innermost first: numpy's shape reversed.
            dims = tuple(reversed(array.shape))
            parts.append(_string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims))
            parts.append(struct.pack("<IQ", GGML_F32, offset))
            offset += _aligned(array.nbytes)
        return b"".join(parts)

    def write(self, path: str) -> None:
        """Writes to ``path`` through a temporary file, so an interrupted export leaves no half file behind."""
        tmp = f"{path}.tmp"
        with open(tmp, "wb") as f:
            header = self._header()
            f.write(header)
            f.write(b"\0" * (_aligned(len(header)) - len(header)))
            for _, array in self.tensors:
                f.write(array.tobytes())
                f.write(b"\0" * (_aligned(array.nbytes) - array.nbytes))
        os.replace(tmp, path)


def _aligned(size: int) -> int:
    return (size + GGUF_ALIGNMENT - 1) // GGUF_ALIGNMENT * GGUF_ALIGNMENT


# ---------------------------------------------------------------- GGUF reading


@dataclass
class GgufTensor:
    """One tensor of a GGUF file: its dimensions as GGUF lists them (innermost first), type, and float32 data if F32."""

    name: str
    dims: Tuple[int, ...]
    ggml_type: int
    data: Optional[np.ndarray]

    @property
    def type_name(self) -> str:
        return _GGML_TYPE_NAMES.get(self.ggml_type, str(self.ggml_type))


@dataclass
class GgufFile:
    version: int
    metadata: Dict[str, Any]
    tensors: Dict[str, GgufTensor]


class _Cursor:
    def __init__(self, data: bytes, path: str) -> None:
        self.data, self.path, self.at = data, path, 0

    def take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.at + size > len(self.data):
            raise ExportError(f"{self.path}: truncated at byte {self.at}")
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += size
        return values[0] if len(values) == 1 else values

    def string(self) -> str:
        length = self.take("<Q")
        if self.at + length > len(self.data):
            raise ExportError(f"{self.path}: a string of {length} bytes runs past the end")
        value = self.data[self.at:self.at + length].decode("utf-8")
        self.at += length
        return value

    def value(self, kind: int) -> Any:
        if kind == STRING:
            return self.string()
        if kind == ARRAY:
            element_kind, count = self.take("<IQ")
            return [self.value(element_kind) for _ in range(count)]
        if kind not in _SCALAR_FORMATS:
            raise ExportError(f"{self.path}: unknown metadata value type {kind} at byte {self.at}")
        return self.take(_SCALAR_FORMATS[kind])


def read_gguf(path: str) -> GgufFile:
    """Metadata and tensors of a GGUF v2/v3 file; F32 tensors come with their data in numpy's order (shape = dims reversed)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != GGUF_MAGIC:
        raise ExportError(f"{path}: not a GGUF file (magic {data[:4]!r})")
    cursor = _Cursor(data, path)
    cursor.at = 4
    version, tensor_count, kv_count = cursor.take("<IQQ")
    if version not in (2, 3):
        raise ExportError(f"{path}: GGUF version {version} is not supported (2, 3)")
    metadata: Dict[str, Any] = {}
    for _ in range(kv_count):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.take("<I"))
    infos = []
    for _ in range(tensor_count):
        name = cursor.string()
        n_dims = cursor.take("<I")
        dims = tuple(cursor.take("<Q") for _ in range(n_dims))
        ggml_type, offset = cursor.take("<IQ")
        infos.append((name, dims, ggml_type, offset))
    alignment = int(metadata.get("general.alignment", GGUF_ALIGNMENT))
    start = (cursor.at + alignment - 1) // alignment * alignment
    tensors: Dict[str, GgufTensor] = {}
    for name, dims, ggml_type, offset in infos:
        array = None
        if ggml_type == GGML_F32:
            count = int(np.prod(dims)) if dims else 1
            end = start + offset + 4 * count
            if end > len(data):
                raise ExportError(f"{path}: tensor {name} runs past the end of the file")
            array = np.frombuffer(data, dtype="<f4", count=count, offset=start + offset).reshape(tuple(reversed(dims))).copy()
        tensors[name] = GgufTensor(name, dims, ggml_type, array)
    return GgufFile(version, metadata, tensors)


# ---------------------------------------------------------------- Hugging Face directory


def _load_weights(model_dir: str) -> Dict[str, np.ndarray]:
    """Every tensor of ``model.safetensors``, or of the shards ``model.safetensors.index.json`` names, as float32."""
    from .safetensors_io import load_file

    single = os.path.join(model_dir, "model.safetensors")
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.isfile(single):
        files = [single]
    elif os.path.isfile(index):
        with open(index, "r", encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map") or {}
        if not weight_map:
            raise ExportError(f"{index}: weight_map is empty")
        files = [os.path.join(model_dir, name) for name in sorted(set(weight_map.values()))]
    else:
        raise ExportError(f"{model_dir}: neither model.safetensors nor model.safetensors.index.json exists")
    weights: Dict[str, np.ndarray] = {}
    for path in files:
        if not os.path.isfile(path):
            raise ExportError(f"{path}: shard named by the index is missing")
        for name, array in load_file(path).items():
            weights[name] = array.astype(np.float32, copy=False)
    return weights


def _token_content(value: Any) -> Optional[str]:
    """A tokenizer_config token entry: a string, or a dict with ``content`` (the AddedToken form)."""
    if value is None:
        return None
    if isinstance(value, dict):
        return value.get("content")
    return str(value)


def _pre_tokenizer_name(pre_tokenizer: Any, path: str) -> str:
    """llama.cpp's name for the split ``tokenizer.json`` describes: SmolLM's digits-then-byte-level, or plain byte-level."""
    def is_byte_level(p: Any) -> bool:
        return isinstance(p, dict) and p.get("type") == "ByteLevel" and p.get("use_regex", True) and not p.get("add_prefix_space", False)

    if is_byte_level(pre_tokenizer):
        return "gpt-2"
    if isinstance(pre_tokenizer, dict) and pre_tokenizer.get("type") == "Sequence":
        parts = pre_tokenizer.get("pretokenizers") or []
        if (len(parts) == 2 and parts[0].get("type") == "Digits" and parts[0].get("individual_digits")
                and is_byte_level(parts[1])):
            return "smollm"
    raise ExportError(f"{path}: pre_tokenizer {json.dumps(pre_tokenizer)[:200]} is neither SmolLM's nor plain byte-level; "
                      f"name llama.cpp's pre-tokenizer with --pre ({', '.join(PRE_TOKENIZERS)})")


@dataclass
class TokenizerMetadata:
    tokens: List[str]
    token_types: List[int]
    merges: List[str]
    pre: str
    bos_id: Optional[int]
    eos_id: Optional[int]
    add_bos: bool
    padded: int


def tokenizer_metadata(model_dir: str, vocab_size: int, pre: Optional[str] = None) -> TokenizerMetadata:
    """The byte-level BPE tokenizer of ``model_dir`` as llama.cpp's ``gpt2`` vocabulary of ``vocab_size`` entries."""
    path = os.path.join(model_dir, "tokenizer.json")
    if not os.path.isfile(path):
        raise ExportError(f"{model_dir}: tokenizer.json is missing")
    with open(path, "r", encoding="utf-8") as f:
        tokenizer = json.load(f)
    model = tokenizer.get("model") or {}
    if model.get("type") != "BPE":
        raise ExportError(f"{path}: model.type={model.get('type')!r}; only byte-level BPE exports to llama.cpp's gpt2 vocabulary")
    decoder = tokenizer.get("decoder") or {}
    if decoder.get("type") != "ByteLevel":
        raise ExportError(f"{path}: decoder.type={decoder.get('type')!r}; llama.cpp's gpt2 vocabulary is byte-level")
    if pre is None:
        pre = _pre_tokenizer_name(tokenizer.get("pre_tokenizer"), path)

    by_id: Dict[int, Tuple[str, int]] = {}
    for text, token_id in (model.get("vocab") or {}).items():
        by_id[int(token_id)] = (text, TOKEN_NORMAL)
    for added in tokenizer.get("added_tokens") or []:
        kind = TOKEN_CONTROL if added.get("special") else TOKEN_USER_DEFINED
        by_id[int(added["id"])] = (added["content"], kind)
    if not by_id:
        raise ExportError(f"{path}: the vocabulary is empty")
    largest = max(by_id)
    if largest >= vocab_size:
        raise ExportError(f"{path}: token id {largest} does not fit the model's vocab_size={vocab_size}")
    tokens, types = [], []
    for token_id in range(vocab_size):
        # Ids the tokenizer never produces still have embedding rows; llama.cpp needs one entry per row.
        text, kind = by_id.get(token_id, (f"[PAD{token_id}]", TOKEN_UNUSED))
        tokens.append(text)
        types.append(kind)

    merges = []
    for merge in model.get("merges") or []:
        pair = merge.split(" ") if isinstance(merge, str) else list(merge)
        if len(pair) != 2 or any(" " in part or not part for part in pair):
            raise ExportError(f"{path}: merge {merge!r} is not two space-free parts, which GGUF's 'a b' form needs")
        merges.append(f"{pair[0]} {pair[1]}")
    if not merges:
        raise ExportError(f"{path}: the BPE model has no merges")

    ids = {text: token_id for token_id, (text, _) in by_id.items()}
    config_path = os.path.join(model_dir, "tokenizer_config.json")
    config: Dict[str, Any] = {}
    if os.path.isfile(config_path):
        with open(config_path, "r", encoding="utf-8") as f:
            config = json.load(f)

    def special_id(key: str) -> Optional[int]:
        content = _token_content(config.get(key))
        if content is None:
            return None
        if content not in ids:
            raise ExportError(f"{config_path}: {key} {content!r} is not in the vocabulary of {path}")
        return ids[content]

    return TokenizerMetadata(tokens=tokens, token_types=types, merges=merges, pre=pre,
                             bos_id=special_id("bos_token"), eos_id=special_id("eos_token"),
                             add_bos=bool(config.get("add_bos_token", False)), padded=vocab_size - len(by_id))


# ---------------------------------------------------------------- export


def llama_cpp_tensors(weights: Dict[str, np.ndarray], config: Any, model_dir: str) -> Iterator[Tuple[str, np.ndarray]]:
    """llama.cpp's name and float32 array for each weight of a Llama checkpoint, checked against the config's shapes."""
    hidden, inner, head = config.hidden, config.inner, config.head_size
    expected = {"model.embed_tokens.weight": (config.vocab_size, hidden), "model.norm.weight": (hidden,)}
    layer_shapes = {
        "input_layernorm.weight": (hidden,), "post_attention_layernorm.weight": (hidden,),
        "self_attn.q_proj.weight": (config.heads * head, hidden), "self_attn.k_proj.weight": (config.kv_heads * head, hidden),
        "self_attn.v_proj.weight": (config.kv_heads * head, hidden), "self_attn.o_proj.weight": (hidden, config.heads * head),
        "mlp.gate_proj.weight": (inner, hidden), "mlp.up_proj.weight": (inner, hidden), "mlp.down_proj.weight": (hidden, inner),
    }
    for i in range(config.layers):
        for suffix, shape in layer_shapes.items():
            expected[f"model.layers.{i}.{suffix}"] = shape
    tied = bool(config.tie_word_embeddings)
    if not tied:
        expected["lm_head.weight"] = (config.vocab_size, hidden)
    # A tied checkpoint may still carry the (identical) head; llama.cpp then reads the embeddings for it.
    present = {name for name in weights if not (tied and name == "lm_head.weight")}
    present -= {name for name in present if name.endswith("rotary_emb.inv_freq")}
    missing, unexpected = sorted(set(expected) - present), sorted(present - set(expected))
    if missing or unexpected:
        raise ExportError(f"{model_dir}: tensors do not match config.json; missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, shape in expected.items():
        if tuple(weights[name].shape) != shape:
            raise ExportError(f"{model_dir}: {name} has shape {tuple(weights[name].shape)}, config.json needs {shape}")

    yield "token_embd.weight", weights["model.embed_tokens.weight"]
    for i in range(config.layers):
        for hf_name, cpp_name in _LAYER_TENSORS:
            array = weights[f"model.layers.{i}.{hf_name}"]
            if cpp_name == "attn_q.weight":
                array = hf_to_llama_cpp_rows(array, config.heads)
            elif cpp_name == "attn_k.weight":
                array = hf_to_llama_cpp_rows(array, config.kv_heads)
            yield f"blk.{i}.{cpp_name}", array
    yield "output_norm.weight", weights["model.norm.weight"]
    if not tied:
        yield "output.weight", weights["lm_head.weight"]


def export_llama_cpp(model_dir: str, output: str, pre: Optional[str] = None, name: Optional[str] = None) -> Dict[str, object]:
    """Writes ``output`` from the Llama directory ``model_dir``; returns the summary's fields."""
    from .modeling_decoder import ConfigError, DecoderConfig

    config_path = os.path.join(model_dir, "config.json")
    if not os.path.isfile(config_path):
        raise ExportError(f"{model_dir}: config.json is missing")
    try:
        config = DecoderConfig.from_json_file(config_path)
    except ConfigError as e:
        raise ExportError(f"{config_path}: {e}") from None
    if config.model_type != "llama":
        raise ExportError(f"{config_path}: model_type={config.model_type!r}; this export writes llama.cpp's llama architecture only")
    if config.rope_type != "default":
        raise ExportError(f"{config_path}: rope_scaling.rope_type={config.rope_type!r} is not exported (llama.cpp keeps it in a "
                          "rope_freqs tensor this export does not write)")
    vocab = tokenizer_metadata(model_dir, config.vocab_size, pre)
    weights = _load_weights(model_dir)

    writer = GgufWriter()
    writer.add("general.architecture", STRING, "llama")
    writer.add("general.name", STRING, name or os.path.basename(os.path.normpath(model_dir)))
    writer.add("general.alignment", UINT32, GGUF_ALIGNMENT)
    writer.add("general.file_type", UINT32, FILE_TYPE_ALL_F32)
    writer.add("llama.context_length", UINT32, config.context)
    writer.add("llama.embedding_length", UINT32, config.hidden)
    writer.add("llama.block_count", UINT32, config.layers)
    writer.add("llama.feed_forward_length", UINT32, config.inner)
    writer.add("llama.attention.head_count", UINT32, config.heads)
    writer.add("llama.attention.head_count_kv", UINT32, config.kv_heads)
    writer.add("llama.rope.freq_base", FLOAT32, float(config.rope_theta))
    writer.add("llama.attention.layer_norm_rms_epsilon", FLOAT32, float(config.rms_norm_eps))
    writer.add("llama.rope.dimension_count", UINT32, config.head_size)
    if config.head_size * config.heads != config.hidden:
        # llama.cpp assumes hidden / heads otherwise.
        writer.add("llama.attention.key_length", UINT32, config.head_size)
        writer.add("llama.attention.value_length", UINT32, config.head_size)
    writer.add("llama.vocab_size", UINT32, config.vocab_size)
    writer.add("tokenizer.ggml.model", STRING, "gpt2")
    writer.add("tokenizer.ggml.pre", STRING, vocab.pre)
    writer.add_array("tokenizer.ggml.tokens", STRING, vocab.tokens)
    writer.add_array("tokenizer.ggml.token_type", INT32, vocab.token_types)
    writer.add_array("tokenizer.ggml.merges", STRING, vocab.merges)
    if vocab.bos_id is not None:
        writer.add("tokenizer.ggml.bos_token_id", UINT32, vocab.bos_id)
    if vocab.eos_id is not None:
        writer.add("tokenizer.ggml.eos_token_id", UINT32, vocab.eos_id)
    writer.add("tokenizer.ggml.add_bos_token", BOOL, vocab.add_bos)
    for tensor_name, array in llama_cpp_tensors(weights, config, model_dir):
        writer.add_tensor(tensor_name, array)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    writer.write(output)
    return {"output": output, "tensors": len(writer.tensors), "parameters": sum(a.size for _, a in writer.tensors),
            "vocab": config.vocab_size, "padded_tokens": vocab.padded, "pre": vocab.pre,
            "tied": bool(config.tie_word_embeddings), "mb": os.path.getsize(output) / 1e6}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="Hugging Face Llama directory (config.json, model.safetensors, tokenizer.json)")
    parser.add_argument("--output", required=True, help="the .gguf file to write (float32)")
    parser.add_argument("--pre", choices=PRE_TOKENIZERS,
                        help="llama.cpp's pre-tokenizer name (default: from tokenizer.json's pre_tokenizer)")
    parser.add_argument("--name", help="general.name (default: the directory's name)")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if os.path.isdir(args.output):
        raise SystemExit(f"export-llama-cpp: --output {args.output} is a directory; name the .gguf file to write")
    try:
        fields = export_llama_cpp(args.model, args.output, pre=args.pre, name=args.name)
    except ExportError as e:
        raise SystemExit(f"export-llama-cpp: {e}")
    fields["seconds"] = time.monotonic() - started
    print(summary("export-llama-cpp", **fields))
    return 0
