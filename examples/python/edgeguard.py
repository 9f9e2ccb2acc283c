"""EdgeGuard for Python: a ctypes binding of libedgeguard (include/edgeguard.h), no compiled extension.

    from edgeguard import Guard

    with Guard("models/edgeguard-default") as guard:
        verdict = guard.classify("How do I pick a lock?")
        if verdict.flagged:
            ...

The library is found through $EDGEGUARD_LIBRARY (a path to libedgeguard.so.1), else the system's loader
(ldconfig, $LD_LIBRARY_PATH). Errors raise EdgeGuardError with the library's status code and message.
A Guard is safe to use from many threads at once; ctypes releases the GIL for the length of each call.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence, Tuple, Union

ABI_VERSION = 1

# edgeguard_status codes (include/edgeguard.h).
OK = 0
ERROR_INVALID_ARGUMENT = 1
ERROR_INVALID_UTF8 = 2
ERROR_MODEL = 3
ERROR_CLOSED = 4
ERROR_INPUT_TOO_LONG = 5
ERROR_UNSUPPORTED_CPU = 6
ERROR_UNSUPPORTED_OPTION = 7
ERROR_OUT_OF_MEMORY = 8
ERROR_INTERNAL = 9

LONG_INPUT_SLIDING_WINDOW = 0
LONG_INPUT_TRUNCATE = 1

_OPEN_SKIP_WEIGHT_CHECK = 1 << 0
_OPEN_NO_SANITIZE = 1 << 1
_OPEN_UNSAFE_LABEL = 1 << 2

Text = Union[str, bytes]


class EdgeGuardError(Exception):
    """A libedgeguard call failed: status is the edgeguard_status code, message the library's one-line message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Options(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("threads", ctypes.c_int32),
        ("threshold", ctypes.c_float),
        ("window_tokens", ctypes.c_int32),
        ("window_stride", ctypes.c_int32),
        ("max_windows", ctypes.c_int32),
        ("max_batch", ctypes.c_int32),
        ("long_input", ctypes.c_int32),
        ("unsafe_label", ctypes.c_int32),
    ]


class _Input(ctypes.Structure):
    _fields_ = [
        ("prompt", ctypes.c_void_p),
        ("prompt_length", ctypes.c_size_t),
        ("response", ctypes.c_void_p),
        ("response_length", ctypes.c_size_t),
    ]


class _Verdict(ctypes.Structure):
    _fields_ = [
        ("unsafe_score", ctypes.c_float),
        ("flagged", ctypes.c_int32),
        ("label_index", ctypes.c_int32),
        ("token_count", ctypes.c_int32),
        ("windows", ctypes.c_int32),
        ("truncated", ctypes.c_int32),
        ("label", ctypes.c_char_p),
    ]


class _ModelInfo(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("label_count", ctypes.c_int32),
        ("path", ctypes.c_char_p),
        ("format", ctypes.c_char_p),
        ("precision", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("architecture", ctypes.c_char_p),
        ("labels", ctypes.POINTER(ctypes.c_char_p)),
        ("unsafe_label", ctypes.c_int32),
        ("model_threshold", ctypes.c_float),
        ("threshold", ctypes.c_float),
        ("layers", ctypes.c_int32),
        ("hidden_size", ctypes.c_int32),
        ("max_sequence_length", ctypes.c_int32),
        ("vocabulary_size", ctypes.c_int32),
        ("window_tokens", ctypes.c_int32),
        ("threads", ctypes.c_int32),
        ("kernels", ctypes.c_char_p),
    ]


@dataclass(frozen=True)
class Verdict:
    """The guard's decision on one input (edgeguard_verdict)."""

    unsafe_score: float
    flagged: bool
    label: str
    label_index: int
    token_count: int
    windows: int
    truncated: bool


@dataclass(frozen=True)
class ModelInfo:
    """What a guard opened (edgeguard_model_info)."""

    path: str
    format: str
    precision: str
    name: str
    architecture: str
    labels: Tuple[str, ...]
    unsafe_label: int
    model_threshold: float
    threshold: float
    layers: int
    hidden_size: int
    max_sequence_length: int
    vocabulary_size: int
    window_tokens: int
    threads: int
    kernels: str


def _load(path: Optional[str]) -> ctypes.CDLL:
    path = path or os.environ.get("EDGEGUARD_LIBRARY") or ctypes.util.find_library("edgeguard") or "libedgeguard.so.1"
    lib = ctypes.CDLL(path)
    status = ctypes.c_int32
    guard = ctypes.c_void_p
    lib.edgeguard_abi_version.restype = ctypes.c_uint32
    lib.edgeguard_abi_version.argtypes = []
    for name in ("edgeguard_version", "edgeguard_build_profile", "edgeguard_last_error"):
        getattr(lib, name).restype = ctypes.c_char_p
        getattr(lib, name).argtypes = []
    lib.edgeguard_status_string.restype = ctypes.c_char_p
    lib.edgeguard_status_string.argtypes = [status]
    lib.edgeguard_open.restype = status
    lib.edgeguard_open.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_Options), ctypes.POINTER(guard)]
    lib.edgeguard_classify.restype = status
    lib.edgeguard_classify.argtypes = [guard, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t,
                                       ctypes.POINTER(_Verdict)]
    lib.edgeguard_classify_batch.restype = status
    lib.edgeguard_classify_batch.argtypes = [guard, ctypes.POINTER(_Input), ctypes.c_size_t, ctypes.POINTER(_Verdict)]
    lib.edgeguard_get_model_info.restype = status
    lib.edgeguard_get_model_info.argtypes = [guard, ctypes.POINTER(_ModelInfo)]
    lib.edgeguard_close.restype = status
    lib.edgeguard_close.argtypes = [guard]
    if lib.edgeguard_abi_version() != ABI_VERSION:
        raise EdgeGuardError(ERROR_UNSUPPORTED_OPTION,
                             f"{path} has ABI {lib.edgeguard_abi_version()}; this binding speaks ABI {ABI_VERSION}")
    return lib


_lib: Optional[ctypes.CDLL] = None


def library(path: Optional[str] = None) -> ctypes.CDLL:
    """The loaded libedgeguard (loaded on first use; path overrides $EDGEGUARD_LIBRARY)."""
    global _lib
    if _lib is None:
        _lib = _load(path)
    return _lib


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return library().edgeguard_version().decode()


def build_profile() -> str:
    """The firmware profile the library was built for, or "" for a build that adapts to any CPU."""
    return library().edgeguard_build_profile().decode()


def _check(status: int) -> None:
    if status != OK:
        # The message is per thread and this thread made the call: read it before anything else can.
        raise EdgeGuardError(status, library().edgeguard_last_error().decode("utf-8", "replace"))


def _utf8(text: Text) -> bytes:
    # str becomes UTF-8 here (lone surrogates, which UTF-8 cannot carry, raise); bytes go to the library as they
    # are, which refuses invalid UTF-8 itself.
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def _verdict(v: _Verdict) -> Verdict:
    return Verdict(unsafe_score=v.unsafe_score, flagged=bool(v.flagged), label=v.label.decode(),
                   label_index=v.label_index, token_count=v.token_count, windows=v.windows, truncated=bool(v.truncated))


class Guard:
    """An opened guard model (edgeguard_open ... edgeguard_close); a context manager."""

    def __init__(self, path: str, *, threads: int = 0, threshold: Optional[float] = None,
                 window_tokens: int = 0, window_stride: int = 0, max_windows: int = 0, max_batch: int = 0,
                 truncate: bool = False, verify_weights: bool = True, sanitize_input: bool = True,
                 unsafe_label: Optional[int] = None):
        lib = library()
        options = _Options(struct_size=ctypes.sizeof(_Options), threads=threads,
                           threshold=0.0 if threshold is None else threshold, window_tokens=window_tokens,
                           window_stride=window_stride, max_windows=max_windows, max_batch=max_batch,
                           long_input=LONG_INPUT_TRUNCATE if truncate else LONG_INPUT_SLIDING_WINDOW,
                           unsafe_label=unsafe_label or 0)
        options.flags = ((0 if verify_weights else _OPEN_SKIP_WEIGHT_CHECK) | (0 if sanitize_input else _OPEN_NO_SANITIZE)
                         | (_OPEN_UNSAFE_LABEL if unsafe_label is not None else 0))
        encoded = os.fsencode(path)
        handle = ctypes.c_void_p()
        _check(lib.edgeguard_open(encoded, len(encoded), ctypes.byref(options), ctypes.byref(handle)))
        self._handle = handle

    def classify(self, prompt: Text, response: Optional[Text] = None) -> Verdict:
        """Classifies a prompt, or a prompt and the response to it (then the verdict judges the response)."""
        p = _utf8(prompt)
        r = None if response is None else _utf8(response)
        out = _Verdict()
        _check(library().edgeguard_classify(self._handle, p, len(p), r, 0 if r is None else len(r), ctypes.byref(out)))
        return _verdict(out)

    def classify_batch(self, inputs: Iterable[Union[Text, Tuple[Text, Optional[Text]]]]) -> list:
        """Classifies prompts, or (prompt, response) pairs, together; verdicts in input order."""
        pairs = [(item, None) if isinstance(item, (str, bytes)) else item for item in inputs]
        if not pairs:
            return []
        # The encoded bytes must outlive the call: the C structs hold only their addresses.
        encoded = [(_utf8(p), None if r is None else _utf8(r)) for p, r in pairs]
        buffers = [(ctypes.create_string_buffer(p, len(p) or 1), None if r is None else ctypes.create_string_buffer(r, len(r) or 1))
                   for p, r in encoded]
        native = (_Input * len(pairs))()
        for i, ((p, r), (pb, rb)) in enumerate(zip(encoded, buffers)):
            native[i].prompt = ctypes.addressof(pb)
            native[i].prompt_length = len(p)
            native[i].response = None if rb is None else ctypes.addressof(rb)
            native[i].response_length = 0 if r is None else len(r)
        out = (_Verdict * len(pairs))()
        _check(library().edgeguard_classify_batch(self._handle, native, len(pairs), out))
        return [_verdict(v) for v in out]

    @property
    def model(self) -> ModelInfo:
        """What was opened."""
        info = _ModelInfo(struct_size=ctypes.sizeof(_ModelInfo))
        _check(library().edgeguard_get_model_info(self._handle, ctypes.byref(info)))
        return ModelInfo(path=info.path.decode(), format=info.format.decode(), precision=info.precision.decode(),
                         name=info.name.decode(), architecture=info.architecture.decode(),
                         labels=tuple(info.labels[i].decode() for i in range(info.label_count)),
                         unsafe_label=info.unsafe_label, model_threshold=info.model_threshold,
                         threshold=info.threshold, layers=info.layers, hidden_size=info.hidden_size,
                         max_sequence_length=info.max_sequence_length, vocabulary_size=info.vocabulary_size,
                         window_tokens=info.window_tokens, threads=info.threads, kernels=info.kernels.decode())

    def close(self) -> None:
        """Releases the model (waits for calls in flight). Closing twice raises EdgeGuardError (ERROR_CLOSED)."""
        _check(library().edgeguard_close(self._handle))

    def __enter__(self) -> "Guard":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Guard", "Verdict", "ModelInfo", "EdgeGuardError", "version", "build_profile", "library"] + [
    name for name in globals() if name.startswith("ERROR_") or name == "OK"]
