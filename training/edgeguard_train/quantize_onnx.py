"""Quantize an ONNX guard to int8 the way ONNX Runtime users do: dynamic quantization of its linear layers.

Every ``MatMul`` and ``Gemm`` whose weight is a constant float32 initializer becomes
``DynamicQuantizeLinear`` (the activation, uint8, one scale and zero point per tensor, computed
at run time) -> ``MatMulInteger`` (with the weight stored as symmetric int8, one scale per output
column with ``--per-channel``, the default, or one per tensor) -> ``Cast`` to float ->
``Mul`` by activation scale x weight scale, followed by the layer's bias ``Add`` as before
(``--reduce-range``: 7-bit weights, an option ONNX Runtime's quantizer has too, for x86 CPUs without VNNI). Linear
layers that read the same activation (Q, K and V) share one ``DynamicQuantizeLinear``.

Kept in float32: embeddings (``Gather``), LayerNorm, softmax, the attention products of two
activations, products whose activation does not depend on the graph's inputs (DeBERTa's relative
position projections: the same on every call, so a graph optimizer can fold them into constants and
int8 would only add error), and the output layer (the classifier head, whose two logits decide the verdict;
``--quantize-output-layer`` includes it). The graph keeps its inputs, outputs and opset.

After writing, the file is validated with ``onnx.checker`` and, unless ``--no-check``, the int8
graph is compared with the float32 one on random inputs by the numpy evaluator (``onnx_numpy``):
the summary line reports the largest |logit difference| and how many argmax decisions agree.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np

from .arguments import batch_by_length
from .progress import summary

# DynamicQuantizeLinear exists from opset 11 (MatMulInteger from 10).
MIN_OPSET = 11
# Symmetric int8 weights use [-127, 127]: the range is symmetric about the zero point 0, so w and
# -w quantize to opposite values, and the zero point needs no storage or correction term.
WEIGHT_QMAX = 127
# With --reduce-range weights use 7 bits: ONNX Runtime's uint8 x int8 kernels on x86 without VNNI add pairs of
# products in 16 bits (vpmaddubsw), which 255 * 127 * 2 overflows and 255 * 63 * 2 does not.
WEIGHT_QMAX_REDUCED = 63
# A protobuf message cannot exceed 2 GiB; larger models keep their tensors in a side file.
PROTOBUF_LIMIT = 2**31 - 1

REASON_OUTPUT_LAYER = "output layer (classifier head)"
REASON_CONSTANT_ACTIVATION = "activation does not depend on the inputs"
REASON_EXCLUDED = "excluded by --exclude-node"
REASON_NO_CONSTANT_WEIGHT = "no constant float32 2-D weight (product of two activations)"
REASON_TRANSPOSED_ACTIVATION = "Gemm with transA=1"


class QuantizationError(ValueError):
    """A model this stage cannot quantize, with a message naming the file or node and the problem."""


@dataclass
class QuantizationReport:
    """What the rewrite did: quantized node names, kept-float nodes by reason, shared quantizers."""

    per_channel: bool
    reduce_range: bool
    quantized: List[str] = field(default_factory=list)
    kept_float: Dict[str, List[str]] = field(default_factory=lambda: collections.defaultdict(list))
    activation_quantizers: int = 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, help="float32 ONNX model (e.g. export's model.onnx)")
    parser.add_argument("--output", required=True, help="int8 ONNX model to write (e.g. model.int8.onnx)")
    granularity = parser.add_mutually_exclusive_group()
    granularity.add_argument("--per-channel", dest="per_channel", action="store_true", default=True,
                             help="one weight scale per output column (default)")
    granularity.add_argument("--per-tensor", dest="per_channel", action="store_false",
                             help="one weight scale per weight matrix")
    parser.add_argument("--reduce-range", action="store_true",
                        help="7-bit weights ([-63, 63]): no 16-bit saturation in ONNX Runtime's uint8 x int8 kernels "
                             "on x86 CPUs without VNNI, at some precision")
    parser.add_argument("--quantize-output-layer", action="store_true",
                        help="also quantize a layer whose output is a graph output (the classifier head)")
    parser.add_argument("--exclude-node", action="append", default=[], metavar="NAME",
                        help="keep this node in float32 (repeatable)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the numpy comparison of int8 and float32 logits (onnx.checker still runs)")
    parser.add_argument("--check-shapes", type=batch_by_length, default=((1, 8), (3, 19)), metavar="BxL,...",
                        help="batch x sequence of the random inputs compared (default 1x8,3x19)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random comparison inputs")


def load_model(path: str):
    """Loads an ONNX model (with its external data, if any) or raises QuantizationError saying why it cannot."""
    import onnx
    from google.protobuf.message import DecodeError

    if not os.path.exists(path):
        raise QuantizationError(f"{path} does not exist")
    if os.path.isdir(path):
        raise QuantizationError(f"{path} is a directory, not an ONNX file (export writes <dir>/model.onnx)")
    try:
        model = onnx.load(path)
    except (DecodeError, RuntimeError, ValueError, OSError) as e:
        raise QuantizationError(f"{path} is not an ONNX model: {e}") from e
    # Protobuf parses many byte strings (an empty file among them) as a message with no fields.
    if not model.graph.node or not model.opset_import:
        raise QuantizationError(f"{path} is not an ONNX model (no graph nodes or no opset)")
    return model


def _default_opset(model) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise QuantizationError("the model imports no default-domain opset")


def _attribute(node, name: str, default):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _input_dependent_tensors(graph) -> Set[str]:
    """Names of the tensors whose value depends on a graph input (or on a random generator)."""
    initializers = {t.name for t in graph.initializer}
    dependent = {i.name for i in graph.input if i.name not in initializers}
    for node in graph.node:
        has_subgraph = any(a.type in (a.GRAPH, a.GRAPHS) for a in node.attribute)
        random = node.op_type.startswith("Random") or node.op_type == "Multinomial"
        # A subgraph can read graph inputs through its outer scope: treat its node as dependent.
        if has_subgraph or random or any(name in dependent for name in node.input if name):
            dependent.update(name for name in node.output if name)
    return dependent


def _names_read(graph) -> Set[str]:
    """Every tensor name a node reads, including nodes in subgraphs (which may read outer initializers)."""
    names: Set[str] = set()
    for node in graph.node:
        names.update(name for name in node.input if name)
        for attribute in node.attribute:
            for subgraph in ([attribute.g] if attribute.type == attribute.GRAPH else list(attribute.graphs)
                             if attribute.type == attribute.GRAPHS else []):
                names |= _names_read(subgraph)
    names.update(output.name for output in graph.output)
    return names


def quantize_weight(weight: np.ndarray, per_channel: bool, qmax: int = WEIGHT_QMAX) -> Tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 of a [K, N] weight: (int8 [K, N] in [-qmax, qmax], float32 scale [N] or scalar)
    with weight ~ q * scale."""
    weight = np.asarray(weight, dtype=np.float32)
    magnitude = np.max(np.abs(weight), axis=0) if per_channel else np.max(np.abs(weight))
    scale = (magnitude / np.float32(qmax)).astype(np.float32)
    # An all-zero column quantizes to zeros under any scale; 1 avoids dividing by zero.
    scale = np.where(scale > 0, scale, np.float32(1.0)).astype(np.float32)
    quantized = np.clip(np.rint(weight / scale), -qmax, qmax).astype(np.int8)
    return quantized, scale


class _Names:
    """Fresh tensor and node names derived from existing ones, never colliding with a name in the graph."""

    def __init__(self, graph) -> None:
        self._taken: Set[str] = {t.name for t in graph.initializer} | {i.name for i in graph.input}
        self._taken |= {o.name for o in graph.output} | {v.name for v in graph.value_info}
        for node in graph.node:
            self._taken.update(node.input)
            self._taken.update(node.output)
            self._taken.add(node.name)

    def fresh(self, base: str) -> str:
        name, counter = base, 1
        while name in self._taken:
            counter += 1
            name = f"{base}_{counter}"
        self._taken.add(name)
        return name


def quantize_dynamic_int8(model, per_channel: bool = True, reduce_range: bool = False,
                          quantize_output_layer: bool = False, exclude_nodes: Iterable[str] = ()):
    """Returns ``(int8 model, QuantizationReport)``; ``model`` (an ``onnx.ModelProto``) is not modified.

    Raises QuantizationError if the opset is too old for the integer operators or no layer qualifies.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    opset = _default_opset(model)
    if opset < MIN_OPSET:
        raise QuantizationError(f"opset {opset} predates DynamicQuantizeLinear (opset {MIN_OPSET}); "
                                f"export the model with opset {MIN_OPSET} or later")
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    excluded = set(exclude_nodes)
    unknown = excluded - {node.name for node in graph.node}
    if unknown:
        raise QuantizationError(f"--exclude-node names no node of the graph: {', '.join(sorted(unknown))}")

    graph_inputs = {i.name for i in graph.input}
    # An initializer that is also a graph input can be overridden at run time: not a constant.
    constants = {t.name: t for t in graph.initializer if t.name not in graph_inputs}
    graph_outputs = {o.name for o in graph.output}
    dependent = _input_dependent_tensors(graph)
    names = _Names(graph)
    report = QuantizationReport(per_channel=per_channel, reduce_range=reduce_range)

    def constant_weight(name: str) -> Optional[TensorProto]:
        tensor = constants.get(name)
        if tensor is None or tensor.data_type != TensorProto.FLOAT or len(tensor.dims) != 2:
            return None
        return tensor

    # (weight name, transposed, alpha) -> (int8 weight, zero point, scale) initializer names
    quantized_weights: Dict[Tuple[str, bool, float], Tuple[str, str, str]] = {}
    new_initializers: List[TensorProto] = []

    def add_quantized_weight(tensor: TensorProto, transposed: bool, alpha: float) -> Tuple[str, str, str]:
        key = (tensor.name, transposed, alpha)
        if key not in quantized_weights:
            weight = numpy_helper.to_array(tensor)
            weight_kn = weight.T if transposed else weight  # MatMulInteger multiplies by a [K, N] matrix
            q, scale = quantize_weight(weight_kn, per_channel, WEIGHT_QMAX_REDUCED if reduce_range else WEIGHT_QMAX)
            # Gemm's alpha is a constant factor of the product: folding it into the weight scale saves a Mul.
            scale = (scale * np.float32(alpha)).astype(np.float32)
            zero_point = np.zeros(q.shape[1] if per_channel else (), dtype=np.int8)
            q_name = names.fresh(f"{tensor.name}_quantized")
            zero_name = names.fresh(f"{tensor.name}_zero_point")
            scale_name = names.fresh(f"{tensor.name}_scale")
            new_initializers.extend([numpy_helper.from_array(np.ascontiguousarray(q), q_name),
                                     numpy_helper.from_array(zero_point, zero_name),
                                     numpy_helper.from_array(np.asarray(scale, dtype=np.float32), scale_name)])
            quantized_weights[key] = (q_name, zero_name, scale_name)
        return quantized_weights[key]

    def plan(node) -> Tuple[Optional[TensorProto], Optional[str]]:
        """The node's constant weight if it is to be quantized, else None and the reason it stays float."""
        if node.op_type not in ("MatMul", "Gemm"):
            return None, None
        weight = constant_weight(node.input[1]) if len(node.input) > 1 else None
        if weight is None:
            return None, REASON_NO_CONSTANT_WEIGHT
        if node.name in excluded:
            return None, REASON_EXCLUDED
        if node.op_type == "Gemm" and _attribute(node, "transA", 0):
            return None, REASON_TRANSPOSED_ACTIVATION
        if node.input[0] not in dependent:
            return None, REASON_CONSTANT_ACTIVATION
        if not quantize_output_layer and any(name in graph_outputs for name in node.output):
            return None, REASON_OUTPUT_LAYER
        return weight, None

    activation_quantizers: Dict[str, Tuple[str, str, str]] = {}
    rewritten: List = []
    for node in graph.node:
        weight, reason = plan(node)
        if weight is None:
            if reason is not None:
                report.kept_float[reason].append(node.name or node.output[0])
            # A copy: the graph's node list is cleared below, and a message taken out of a repeated
            # field is not guaranteed to stay usable in every protobuf implementation.
            kept = onnx.NodeProto()
            kept.CopyFrom(node)
            rewritten.append(kept)
            continue
        label = node.name or node.output[0]
        activation = node.input[0]
        if activation not in activation_quantizers:
            # Placed before the first layer that reads the activation; later readers come after it.
            outputs = tuple(names.fresh(f"{activation}_{suffix}") for suffix in ("quantized", "scale", "zero_point"))
            rewritten.append(helper.make_node("DynamicQuantizeLinear", [activation], list(outputs),
                                              name=names.fresh(f"{activation}_DynamicQuantizeLinear")))
            activation_quantizers[activation] = outputs
        a_quantized, a_scale, a_zero_point = activation_quantizers[activation]
        is_gemm = node.op_type == "Gemm"
        transposed = bool(_attribute(node, "transB", 0)) if is_gemm else False
        alpha = float(_attribute(node, "alpha", 1.0)) if is_gemm else 1.0
        w_quantized, w_zero_point, w_scale = add_quantized_weight(weight, transposed, alpha)

        product = names.fresh(f"{label}_MatMulInteger_output")
        product_float = names.fresh(f"{label}_Cast_output")
        combined_scale = names.fresh(f"{label}_scale")
        bias = node.input[2] if is_gemm and len(node.input) > 2 and node.input[2] else None
        scaled = names.fresh(f"{label}_Mul_output") if bias else node.output[0]
        rewritten.extend([
            helper.make_node("MatMulInteger", [a_quantized, w_quantized, a_zero_point, w_zero_point], [product],
                             name=names.fresh(f"{label}_MatMulInteger")),
            helper.make_node("Cast", [product], [product_float], to=TensorProto.FLOAT,
                             name=names.fresh(f"{label}_Cast")),
            helper.make_node("Mul", [a_scale, w_scale], [combined_scale], name=names.fresh(f"{label}_ScaleMul")),
            helper.make_node("Mul", [product_float, combined_scale], [scaled], name=names.fresh(f"{label}_Mul")),
        ])
        if bias:
            beta = float(_attribute(node, "beta", 1.0))
            if beta != 1.0:
                if bias in constants:
                    scaled_bias = names.fresh(f"{bias}_times_beta")
                    new_initializers.append(numpy_helper.from_array(
                        (numpy_helper.to_array(constants[bias]) * np.float32(beta)).astype(np.float32), scaled_bias))
                else:
                    beta_name = names.fresh(f"{label}_beta")
                    new_initializers.append(numpy_helper.from_array(np.array(beta, dtype=np.float32), beta_name))
                    scaled_bias = names.fresh(f"{label}_beta_Mul_output")
                    rewritten.append(helper.make_node("Mul", [bias, beta_name], [scaled_bias],
                                                      name=names.fresh(f"{label}_beta_Mul")))
                bias = scaled_bias
            rewritten.append(helper.make_node("Add", [scaled, bias], [node.output[0]], name=names.fresh(f"{label}_Add")))
        report.quantized.append(label)

    if not report.quantized:
        kept = "; ".join(f"{reason}: {len(nodes)}" for reason, nodes in report.kept_float.items()) or "no MatMul or Gemm"
        raise QuantizationError(f"nothing to quantize: no MatMul or Gemm with a constant float32 weight qualifies ({kept})")
    report.activation_quantizers = len(activation_quantizers)

    del graph.node[:]
    graph.node.extend(rewritten)
    graph.initializer.extend(new_initializers)
    # The float weights that only the rewritten layers read are dropped; anything else still read stays.
    still_read = _names_read(graph)
    replaced = {name for name, _, _ in quantized_weights}
    for index in reversed(range(len(graph.initializer))):
        name = graph.initializer[index].name
        if name in replaced and name not in still_read:
            del graph.initializer[index]
    return result, report


def save_model(model, path: str) -> None:
    """Writes ``model`` atomically (a temporary file, checked by ``onnx.checker``, renamed over ``path``),
    with its tensors in a side file ``<path>.data`` when the message would exceed protobuf's 2 GiB."""
    import onnx

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.tmp")
    if model.ByteSize() > PROTOBUF_LIMIT:
        # Saving with external data rewrites the tensors of the message it is given: save a copy.
        model_copy = onnx.ModelProto()
        model_copy.CopyFrom(model)
        onnx.save_model(model_copy, temporary, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data")
    else:
        onnx.save_model(model, temporary)
    try:
        # By path, so models whose tensors live in an external data file are checked too; full_check adds
        # strict shape and type inference (MatMulInteger and DynamicQuantizeLinear types must line up).
        onnx.checker.check_model(temporary, full_check=True)
    except Exception:
        os.remove(temporary)
        raise
    os.replace(temporary, path)


def random_feeds(model, batch: int, length: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Random inputs for ``model``: token ids below the embedding table's row count for an integer input
    that indexes a ``Gather``, a right-padded 0/1 mask for any other integer input, normal floats otherwise.
    Dynamic dimensions are ``batch`` for the first axis and ``length`` for the others."""
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    table_rows = {}
    for node in graph.node:
        if node.op_type == "Gather" and len(node.input) > 1 and node.input[0] in initializers:
            table_rows[node.input[1]] = int(initializers[node.input[0]].dims[0])
    feeds = {}
    for graph_input in graph.input:
        if graph_input.name in initializers:
            continue
        tensor_type = graph_input.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else (batch if axis == 0 else length)
                 for axis, d in enumerate(tensor_type.shape.dim)]
        if tensor_type.elem_type in (TensorProto.INT64, TensorProto.INT32):
            dtype = np.int64 if tensor_type.elem_type == TensorProto.INT64 else np.int32
            if graph_input.name in table_rows:
                value = rng.integers(0, table_rows[graph_input.name], size=shape)
            else:
                value = np.ones(shape)
                if len(shape) == 2:  # right padding of different lengths, as a tokenizer pads a batch
                    for row in range(1, shape[0]):
                        value[row, max(1, shape[1] - 3 * row):] = 0
            feeds[graph_input.name] = value.astype(dtype)
        elif tensor_type.elem_type == TensorProto.FLOAT:
            feeds[graph_input.name] = rng.standard_normal(shape).astype(np.float32)
        else:
            raise QuantizationError(f"input {graph_input.name!r} has element type {tensor_type.elem_type}; "
                                    "the comparison only generates integer and float32 inputs (use --no-check)")
    return feeds


@dataclass
class Comparison:
    """int8 vs float32 on random inputs: the first graph output (the logits) and its argmax per row."""

    max_abs_diff: float
    max_abs_float: float  # the scale the difference is read against
    rows_agreeing: int
    rows: int


def compare_outputs(float_model, int8_model, shapes: Sequence[Tuple[int, int]], seed: int = 0) -> Comparison:
    """Runs both models on the same random inputs of each (batch, length) in ``shapes``."""
    from .onnx_numpy import run_model

    rng = np.random.default_rng(seed)
    output_name = float_model.graph.output[0].name
    worst, largest, agree, rows = 0.0, 0.0, 0, 0
    for batch, length in shapes:
        feeds = random_feeds(float_model, batch, length, rng)
        expected = np.asarray(run_model(float_model, feeds)[output_name], dtype=np.float64)
        got = np.asarray(run_model(int8_model, feeds)[output_name], dtype=np.float64)
        worst = max(worst, float(np.max(np.abs(got - expected))))
        largest = max(largest, float(np.max(np.abs(expected))))
        expected_rows = expected.reshape(-1, expected.shape[-1])
        got_rows = got.reshape(-1, got.shape[-1])
        agree += int(np.sum(np.argmax(expected_rows, axis=-1) == np.argmax(got_rows, axis=-1)))
        rows += expected_rows.shape[0]
    return Comparison(worst, largest, agree, rows)


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        if os.path.abspath(args.input) == os.path.abspath(args.output):
            raise QuantizationError("--output must differ from --input")
        if os.path.isdir(args.output):
            raise QuantizationError(f"--output {args.output} is a directory; name the .onnx file to write")
        float_model = load_model(args.input)
        int8_model, report = quantize_dynamic_int8(float_model, per_channel=args.per_channel,
                                                   reduce_range=args.reduce_range,
                                                   quantize_output_layer=args.quantize_output_layer,
                                                   exclude_nodes=args.exclude_node)
    except QuantizationError as e:
        raise SystemExit(f"quantize-onnx: {args.input}: {e}")
    save_model(int8_model, args.output)
    for reason, nodes in sorted(report.kept_float.items()):
        print(f"quantize-onnx: kept float32, {reason}: {len(nodes)} (e.g. {nodes[0]})", file=sys.stderr)
    fields: Dict[str, object] = {
        "output": args.output,
        "weights": ("per-channel" if report.per_channel else "per-tensor") + ("-7bit" if report.reduce_range else ""),
        "quantized": len(report.quantized),
        "kept_float": sum(len(nodes) for nodes in report.kept_float.values()),
        "activation_quantizers": report.activation_quantizers,
        "input_mb": os.path.getsize(args.input) / 1e6,
        "output_mb": os.path.getsize(args.output) / 1e6,
    }
    if not args.no_check:
        try:
            comparison = compare_outputs(float_model, int8_model, args.check_shapes, seed=args.seed)
        except QuantizationError as e:
            raise SystemExit(f"quantize-onnx: {args.input}: {e}")
        fields["max_abs_logit_diff"] = comparison.max_abs_diff
        fields["max_abs_f32_logit"] = comparison.max_abs_float
        fields["decisions_agree"] = f"{comparison.rows_agreeing}/{comparison.rows}"
    fields["seconds"] = time.monotonic() - started
    print(summary("quantize-onnx", **fields))
    return 0
