"""An ONNX graph of a BERT or RoBERTa sequence classifier, built operator by operator from its weights.

Not a trace of ``modeling_bert``: the graph is written from the architecture with ``onnx.helper``,
so running it (in ONNX Runtime, or in ``onnx_numpy``) checks the reference's numbers with a second
implementation instead of re-running the same code. It composes what the reference takes from
PyTorch: LayerNorm from ReduceMean/Sub/Mul/Sqrt/Div, GELU from Erf, the head split as
Reshape/Transpose, the score scale as a multiplication by 1/sqrt(head size), padding as an
additive -1e9 on the keys' scores, token 0 by Gather, and RoBERTa's positions as
``CumSum(ids != pad) * (ids != pad) + pad``.

Inputs: int64 ``input_ids`` and ``attention_mask`` ``[batch, sequence]``, and ``token_type_ids``
for BERT (RoBERTa's single token type is implied). Outputs: float32 ``logits``
``[batch, num_labels]``, ``pooled_output`` ``[batch, hidden]`` and ``last_hidden_state``
``[batch, sequence, hidden]``.
"""

from __future__ import annotations

import math
from typing import Dict, List

import numpy as np

ONNX_OPSET = 14


class _Graph:
    """Collects nodes and initializers; names are made unique with a counter."""

    def __init__(self) -> None:
        self.nodes: List[object] = []
        self.initializers: List[object] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, hint: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: List[str], hint: str = "", **attributes) -> str:
        from onnx import helper

        out = self.name(hint or op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attributes))
        return out


def _linear(g: _Graph, x: str, weights: Dict[str, np.ndarray], prefix: str) -> str:
    """x W^T + b with W stored [out, in] as Hugging Face keeps it."""
    w = g.const(prefix + ".weight_t", weights[prefix + ".weight"].T.astype(np.float32))
    b = g.const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32))
    return g.op("Add", [g.op("MatMul", [x, w]), b])


def _layer_norm(g: _Graph, x: str, weights: Dict[str, np.ndarray], prefix: str, eps: float) -> str:
    mean = g.op("ReduceMean", [x], axes=[-1], keepdims=1)
    centred = g.op("Sub", [x, mean])
    variance = g.op("ReduceMean", [g.op("Mul", [centred, centred])], axes=[-1], keepdims=1)
    std = g.op("Sqrt", [g.op("Add", [variance, g.const("eps", np.array(eps, dtype=np.float32))])])
    normed = g.op("Div", [centred, std])
    gamma = g.const(prefix + ".weight", weights[prefix + ".weight"].astype(np.float32))
    beta = g.const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32))
    return g.op("Add", [g.op("Mul", [normed, gamma]), beta])


def _activation(g: _Graph, x: str, name: str) -> str:
    if name == "gelu":
        scaled = g.op("Mul", [x, g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), dtype=np.float32))])
        one_plus = g.op("Add", [g.op("Erf", [scaled]), g.const("one", np.array(1.0, dtype=np.float32))])
        return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const("half", np.array(0.5, dtype=np.float32))])
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        cube = g.op("Mul", [g.op("Mul", [x, x]), x])
        inner = g.op("Add", [x, g.op("Mul", [cube, g.const("c", np.array(0.044715, dtype=np.float32))])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.const("k", np.array(math.sqrt(2.0 / math.pi), dtype=np.float32))])])
        one_plus = g.op("Add", [t, g.const("one", np.array(1.0, dtype=np.float32))])
        return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const("half", np.array(0.5, dtype=np.float32))])
    if name == "relu":
        return g.op("Relu", [x])
    raise ValueError(f"hidden_act {name!r} has no ONNX form here")


def _attention(g: _Graph, x: str, key_bias: str, weights, prefix: str, heads: int, head_size: int) -> str:
    split = g.const("split_heads", np.array([0, 0, heads, head_size], dtype=np.int64))
    q = g.op("Transpose", [g.op("Reshape", [_linear(g, x, weights, prefix + ".query"), split])], perm=[0, 2, 1, 3])
    k_t = g.op("Transpose", [g.op("Reshape", [_linear(g, x, weights, prefix + ".key"), split])], perm=[0, 2, 3, 1])
    v = g.op("Transpose", [g.op("Reshape", [_linear(g, x, weights, prefix + ".value"), split])], perm=[0, 2, 1, 3])
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_size), dtype=np.float32))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k_t]), scale]), key_bias])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    merge = g.const("merge_heads", np.array([0, 0, heads * head_size], dtype=np.int64))
    return g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])


def build_graph(config, weights: Dict[str, np.ndarray]):
    """The ``onnx.ModelProto`` of the classifier ``config`` describes, with ``weights`` under Hugging Face names."""
    import onnx
    from onnx import TensorProto, helper

    roberta = config.is_roberta
    base = "roberta." if roberta else "bert."
    g = _Graph()
    ids, mask = "input_ids", "attention_mask"

    # Embeddings: word + position + token type.
    words = g.op("Gather", [g.const("word_embeddings", weights[base + "embeddings.word_embeddings.weight"]), ids], axis=0)
    if roberta:
        pad = g.const("pad_id", np.array(config.pad_token_id, dtype=np.int64))
        real = g.op("Cast", [g.op("Not", [g.op("Equal", [ids, pad])])], to=TensorProto.INT64)
        counted = g.op("CumSum", [real, g.const("axis1", np.array(1, dtype=np.int64))])
        positions = g.op("Add", [g.op("Mul", [counted, real]), pad])
        types = g.op("Mul", [ids, g.const("zero", np.array(0, dtype=np.int64))])
    else:
        length = g.op("Gather", [g.op("Shape", [ids]), g.const("one_index", np.array(1, dtype=np.int64))], axis=0)
        positions = g.op("Range", [g.const("start", np.array(0, dtype=np.int64)), length,
                                   g.const("step", np.array(1, dtype=np.int64))])
        types = "token_type_ids"
    position_rows = g.op("Gather", [g.const("position_embeddings", weights[base + "embeddings.position_embeddings.weight"]),
                                    positions], axis=0)
    type_rows = g.op("Gather", [g.const("token_type_embeddings", weights[base + "embeddings.token_type_embeddings.weight"]),
                                types], axis=0)
    hidden = g.op("Add", [g.op("Add", [words, position_rows]), type_rows])
    hidden = _layer_norm(g, hidden, weights, base + "embeddings.LayerNorm", config.layer_norm_eps)

    # [B, L] -> [B, 1, 1, L]: -1e9 on padding keys, 0 elsewhere.
    keep = g.op("Cast", [g.op("Unsqueeze", [mask, g.const("axes12", np.array([1, 2], dtype=np.int64))])], to=TensorProto.FLOAT)
    key_bias = g.op("Mul", [g.op("Sub", [g.const("one", np.array(1.0, dtype=np.float32)), keep]),
                            g.const("minus_big", np.array(-1e9, dtype=np.float32))])

    for n in range(config.num_hidden_layers):
        layer = f"{base}encoder.layer.{n}"
        attended = _attention(g, hidden, key_bias, weights, layer + ".attention.self",
                              config.num_attention_heads, config.head_size)
        attended = _linear(g, attended, weights, layer + ".attention.output.dense")
        hidden = _layer_norm(g, g.op("Add", [attended, hidden]), weights, layer + ".attention.output.LayerNorm",
                             config.layer_norm_eps)
        inner = _activation(g, _linear(g, hidden, weights, layer + ".intermediate.dense"), config.hidden_act)
        hidden = _layer_norm(g, g.op("Add", [_linear(g, inner, weights, layer + ".output.dense"), hidden]),
                             weights, layer + ".output.LayerNorm", config.layer_norm_eps)

    first = g.op("Gather", [hidden, g.const("token0", np.array(0, dtype=np.int64))], axis=1)
    head = "classifier.dense" if roberta else base + "pooler.dense"
    pooled = g.op("Tanh", [_linear(g, first, weights, head)])
    logits = _linear(g, pooled, weights, "classifier.out_proj" if roberta else "classifier")
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    g.nodes.append(helper.make_node("Identity", [pooled], ["pooled_output"]))
    g.nodes.append(helper.make_node("Identity", [hidden], ["last_hidden_state"]))

    int64 = TensorProto.INT64
    inputs = [helper.make_tensor_value_info(name, int64, ["batch", "sequence"])
              for name in (["input_ids", "attention_mask"] + ([] if roberta else ["token_type_ids"]))]
    outputs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", config.num_labels]),
               helper.make_tensor_value_info("pooled_output", TensorProto.FLOAT, ["batch", config.hidden_size]),
               helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", config.hidden_size])]
    graph = helper.make_graph(g.nodes, f"{config.model_type}_sequence_classifier", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], producer_name="edgeguard_train")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def graph_from_directory(directory: str):
    """``build_graph`` for a Hugging Face directory (``config.json`` + ``model.safetensors``)."""
    import os

    from .modeling_bert import BertConfig
    from .safetensors_io import load_file

    config = BertConfig.from_json_file(os.path.join(directory, "config.json"))
    config.validate()
    return build_graph(config, load_file(os.path.join(directory, "model.safetensors")))
