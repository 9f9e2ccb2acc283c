"""Reads and writes the safetensors format (8-byte header length, JSON header, raw little-endian data).

The ``safetensors`` package is not a Debian package; the format is small enough to implement
here, which keeps the pipeline installable from apt alone.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Optional

import numpy as np

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {v.str: k for k, v in _DTYPES.items()}


class SafetensorsError(ValueError):
    """The file is not valid safetensors; the message names the file and the problem."""


def load_file(path: str) -> Dict[str, np.ndarray]:
    """All tensors of ``path`` as numpy arrays; BF16 is widened to float32 (numpy has no bfloat16)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise SafetensorsError(f"{path}: too short to be a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise SafetensorsError(f"{path}: header length {header_len} exceeds the file size {len(data)}")
    try:
        header = json.loads(data[8:8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    body = memoryview(data)[8 + header_len:]
    tensors: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype_name, shape = info["dtype"], info["shape"]
        start, end = info["data_offsets"]
        if end > len(body) or start > end:
            raise SafetensorsError(f"{path}: tensor {name} lies outside the data ({start}..{end})")
        raw = body[start:end]
        if dtype_name == "BF16":
            half = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            array = half.view(np.float32)
        elif dtype_name in _DTYPES:
            array = np.frombuffer(raw, dtype=_DTYPES[dtype_name])
        else:
            raise SafetensorsError(f"{path}: tensor {name} has unsupported dtype {dtype_name}")
        count = int(np.prod(shape)) if shape else 1
        if array.size != count:
            raise SafetensorsError(f"{path}: tensor {name} has {array.size} values, shape {shape} needs {count}")
        tensors[name] = array.reshape(shape).copy()
    return tensors


def save_file(tensors: Mapping[str, np.ndarray], path: str, metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes ``tensors`` (numpy arrays) to ``path``, data aligned to 8 bytes as the reference writer does."""
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    offset = 0
    arrays = []
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        little = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
        if little.str not in _NAMES:
            raise SafetensorsError(f"cannot store tensor {name} of dtype {array.dtype}")
        array = array.astype(little, copy=False)
        nbytes = array.nbytes
        header[name] = {"dtype": _NAMES[little.str], "shape": list(array.shape), "data_offsets": [offset, offset + nbytes]}
        arrays.append(array)
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((8 - len(encoded) % 8) % 8)
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for array in arrays:
            f.write(array.tobytes())
    os.replace(tmp, path)
