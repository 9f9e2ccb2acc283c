"""A small numpy evaluator for the ONNX operators ``export`` and ``quantize-onnx`` emit, to check numerics.

ONNX Runtime is not packaged for Debian, and parity is what an export must prove. This covers the
operators (and attributes) of a traced DeBERTa-v3 classifier at opset 14, of BERT and RoBERTa
graphs (``Tanh``, ``CumSum``, ``Relu``), plus the integer operators of dynamic int8 quantization
(``DynamicQuantizeLinear``, ``MatMulInteger``); any other operator is an error naming it, never a
silent skip.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, List

import numpy as np
from onnx import numpy_helper


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _gather_elements(data: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    index = np.where(index < 0, index + data.shape[axis], index)
    return np.take_along_axis(data, index, axis=axis)


def _gemm(a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0):
    a = a.T if transA else a
    b = b.T if transB else b
    out = alpha * (a @ b)
    return out + beta * c if c is not None else out


def _slice(data, starts, ends, axes=None, steps=None):
    axes = list(range(len(starts))) if axes is None else [int(a) % data.ndim for a in axes]
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps):
        index[a] = slice(int(s), int(max(min(e, 2**62), -2**62)), int(st))
    return data[tuple(index)]


def _reshape(data, shape, allowzero=0):
    shape = [data.shape[i] if (d == 0 and not allowzero) else int(d) for i, d in enumerate(shape)]
    return data.reshape(shape)


def _cast(x, to):
    from onnx import helper
    if hasattr(helper, "tensor_dtype_to_np_dtype"):  # onnx >= 1.13
        return x.astype(helper.tensor_dtype_to_np_dtype(to))
    from onnx import mapping
    return x.astype(mapping.TENSOR_TYPE_TO_NP_TYPE[to])


def _clip(x, low=None, high=None):
    if low is not None:
        x = np.maximum(x, low)
    if high is not None:
        x = np.minimum(x, high)
    return x


def _unsqueeze(x, axes):
    for axis in sorted(int(a) % (x.ndim + len(axes)) for a in axes):
        x = np.expand_dims(x, axis)
    return x


def _dynamic_quantize_linear(x):
    """ONNX ``DynamicQuantizeLinear``: uint8 ``y``, float32 ``y_scale``, uint8 ``y_zero_point``.

    The range is widened to include 0 so that 0 is exactly representable (padding, ReLU zeros);
    the zero point and ``x / y_scale`` are rounded half to even and saturated to [0, 255], all in
    float32 as the specification computes them.
    """
    x = np.asarray(x, dtype=np.float32)
    x_min = np.float32(min(0.0, float(np.min(x)))) if x.size else np.float32(0.0)
    x_max = np.float32(max(0.0, float(np.max(x)))) if x.size else np.float32(0.0)
    if x_max == x_min:
        # An all-zero tensor: the specification's formula divides by zero here. Any positive scale
        # represents it exactly; ONNX Runtime uses 1.
        scale = np.float32(1.0)
    else:
        scale = np.float32((x_max - x_min) / np.float32(255.0))
    zero_point = np.rint(np.clip(np.float32(0.0) - x_min / scale, 0.0, 255.0)).astype(np.uint8)
    y = np.clip(np.rint(x / scale) + np.float32(zero_point), 0.0, 255.0).astype(np.uint8)
    return y, np.array(scale, dtype=np.float32), np.array(zero_point, dtype=np.uint8)


def _matmul_integer(a, b, a_zero_point=None, b_zero_point=None):
    """ONNX ``MatMulInteger``: ``(a - a_zero_point) @ (b - b_zero_point)`` in int32.

    Zero points are a scalar (per tensor), a vector of M (per row of a 2-D ``a``) or of N (per
    column of a 2-D ``b``), or an N-D tensor that broadcasts as the specification shapes it. The
    product is formed in float64 because numpy's integer matmul bypasses BLAS and is very slow; a
    float64 mantissa holds every partial sum of 8-bit products exactly while K < 2**37, so the
    result is the exact integer one.
    """
    a = np.asarray(a).astype(np.float64)
    b = np.asarray(b).astype(np.float64)
    if a_zero_point is not None:
        a_zero = np.asarray(a_zero_point).astype(np.float64)
        if a_zero.ndim == 1:
            a_zero = a_zero.reshape(-1, 1)
        a = a - a_zero
    if b_zero_point is not None:
        b = b - np.asarray(b_zero_point).astype(np.float64)
    return np.matmul(a, b).astype(np.int32)


def _cumsum(x: np.ndarray, axis: int, exclusive: int, reverse: int) -> np.ndarray:
    if reverse:
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis, dtype=x.dtype)
    if exclusive:
        out = out - x
    return np.flip(out, axis) if reverse else out


def _binary(fn: Callable) -> Callable:
    return lambda a, b: np.asarray(fn(a, b)).astype(np.result_type(a, b)) if fn in (np.add, np.subtract, np.multiply) else fn(a, b)


def _div(a, b):
    if np.issubdtype(np.asarray(a).dtype, np.integer):
        return np.trunc(a / b).astype(np.asarray(a).dtype)
    return (a / b).astype(np.result_type(a, b))


OPS: Dict[str, Callable] = {
    "Abs": lambda x: np.abs(x),
    "Add": lambda a, b: a + b,
    "And": lambda a, b: np.logical_and(a, b),
    "Cast": _cast,
    "Ceil": lambda x: np.ceil(x),
    "Clip": _clip,
    "Concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "CumSum": lambda x, axis, exclusive=0, reverse=0: _cumsum(x, int(np.asarray(axis).reshape(())), exclusive, reverse),
    "ConstantOfShape": lambda shape, value=None: np.full(tuple(int(s) for s in shape),
                                                         numpy_helper.to_array(value)[0] if value is not None else np.float32(0),
                                                         dtype=numpy_helper.to_array(value).dtype if value is not None else np.float32),
    "Div": _div,
    "DynamicQuantizeLinear": _dynamic_quantize_linear,
    "Equal": lambda a, b: np.equal(a, b),
    "Erf": _erf,
    "Expand": lambda x, shape: x * np.ones(tuple(int(s) for s in shape), dtype=x.dtype),
    "Identity": lambda x: x,
    "Gather": lambda data, index, axis=0: np.take(data, np.where(index < 0, index + data.shape[axis], index), axis=axis),
    "GatherElements": lambda data, index, axis=0: _gather_elements(data, index, axis),
    "Gemm": _gemm,
    "Greater": lambda a, b: np.greater(a, b),
    "Less": lambda a, b: np.less(a, b),
    "LessOrEqual": lambda a, b: np.less_equal(a, b),
    "Log": lambda x: np.log(x),
    "MatMul": lambda a, b: np.matmul(a, b),
    "MatMulInteger": _matmul_integer,
    "Mul": lambda a, b: a * b,
    "Neg": lambda x: -x,
    "Not": lambda x: np.logical_not(x),
    "Pow": lambda a, b: np.power(a, b).astype(a.dtype),
    "Range": lambda start, limit, delta: np.arange(start, limit, delta, dtype=np.asarray(start).dtype),
    "Relu": lambda x: np.maximum(x, np.zeros((), dtype=x.dtype)),
    "ReduceMean": lambda x, axes=None, keepdims=1: np.mean(x, axis=tuple(axes) if axes is not None else None, keepdims=bool(keepdims)),
    "Reshape": _reshape,
    "Shape": lambda x: np.array(x.shape, dtype=np.int64),
    "Sign": lambda x: np.sign(x),
    "Slice": _slice,
    "Softmax": lambda x, axis=-1: _softmax(x, axis),
    "Sqrt": lambda x: np.sqrt(x),
    "Sub": lambda a, b: a - b,
    "Tanh": lambda x: np.tanh(x),
    "Transpose": lambda x, perm=None: np.transpose(x, perm),
    "Unsqueeze": _unsqueeze,
    "Where": lambda c, a, b: np.where(c, a, b),
}


def _attributes(node) -> Dict[str, object]:
    from onnx import helper
    out = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode()
        out[attribute.name] = value
    return out


def run_model(model, feeds: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Evaluates ``model`` (an ``onnx.ModelProto``) on ``feeds``; returns every graph output by name."""
    values: Dict[str, np.ndarray] = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    values.update(feeds)
    for node in model.graph.node:
        attributes = _attributes(node)
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(attributes["value"])
            continue
        if node.op_type not in OPS:
            raise NotImplementedError(f"onnx_numpy: operator {node.op_type} (node {node.name}) is not implemented")
        inputs: List = [values[name] if name else None for name in node.input]
        if node.op_type == "Unsqueeze" and len(inputs) == 2:
            result = _unsqueeze(inputs[0], [int(a) for a in inputs[1]])
        elif node.op_type == "Clip":
            result = _clip(*inputs)
        elif node.op_type == "Slice":
            result = _slice(*[i if k == 0 or i is None else list(i) for k, i in enumerate(inputs)])
        else:
            result = OPS[node.op_type](*inputs, **attributes)
        if isinstance(result, tuple):  # operators with several outputs (DynamicQuantizeLinear)
            for name, value in zip(node.output, result):
                if name:
                    values[name] = np.asarray(value)
        else:
            values[node.output[0]] = np.asarray(result)
    return {output.name: values[output.name] for output in model.graph.output}
