"""Export a guard as a Hugging Face directory (the runtime's import format) and as ONNX.

The directory gets ``config.json`` (DeBERTa-v3, id2label safe/unsafe), ``model.safetensors``
(F32, or F16 with ``--dtype f16`` to halve the size) and ``spm.model``; ``./edgeguard convert``
turns it into the runtime's bundle. ``model.onnx`` has inputs ``input_ids`` and
``attention_mask`` (int64 ``[batch, sequence]``, both axes dynamic) and output ``logits``
``[batch, 2]``. The ONNX graph is checked with ``onnx.checker`` and its outputs are compared with
PyTorch's on padded random inputs (``--parity-shapes``, two shapes by default), using the small
numpy evaluator in ``onnx_numpy`` (ONNX Runtime is not a Debian package); ``--no-parity`` skips
that comparison for models too large to evaluate in numpy in reasonable time.
"""

from __future__ import annotations

import argparse
import inspect
import os
import shutil
import time
from typing import Dict

import numpy as np
import torch

from .arguments import batch_by_length
from .modeling_deberta import DebertaV2ForSequenceClassification
from .progress import summary
from .tokenization import DebertaTokenizer

ONNX_OPSET = 14
DEFAULT_PARITY_SHAPES = ((1, 5), (3, 19))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="trained Hugging Face DeBERTa-v3 directory (e.g. distill --output)")
    parser.add_argument("--output", required=True, help="directory to write config.json, model.safetensors, spm.model, model.onnx")
    parser.add_argument("--dtype", choices=["f32", "f16"], default="f32", help="safetensors weight type (default f32)")
    parser.add_argument("--no-onnx", action="store_true", help="write only the Hugging Face files")
    parser.add_argument("--parity-tolerance", type=float, default=1e-4, help="max |ONNX - PyTorch| logit difference accepted")
    parser.add_argument("--parity-shapes", type=batch_by_length, default=DEFAULT_PARITY_SHAPES, metavar="BxL,...",
                        help="batch x sequence of the padded random inputs of the parity check (default 1x5,3x19); "
                             "the numpy evaluator is slow on large models, so fewer and shorter rows shorten it")
    parser.add_argument("--no-parity", action="store_true",
                        help="skip the parity check (onnx.checker still runs); the summary says parity=skipped")


def export_onnx(model: DebertaV2ForSequenceClassification, path: str) -> None:
    """Traces ``model`` to ONNX with dynamic batch and sequence axes."""
    model = model.float().eval()
    ids = torch.randint(4, model.config.vocab_size - 1, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    # The TorchScript exporter: torch >= 2.9 defaults to the dynamo one, whose graphs use other operators.
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(
        model, (ids, mask), path,
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                      "logits": {0: "batch"}},
        opset_version=ONNX_OPSET, do_constant_folding=True, **extra)


def onnx_parity(model: DebertaV2ForSequenceClassification, path: str, shapes=DEFAULT_PARITY_SHAPES) -> float:
    """Max |logit| difference between the ONNX file (numpy evaluator) and PyTorch on padded random inputs."""
    import onnx

    from .onnx_numpy import run_model

    graph = onnx.load(path)
    onnx.checker.check_model(graph)
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for batch, length in shapes:
        ids = torch.randint(4, model.config.vocab_size - 1, (batch, length), generator=generator)
        mask = torch.ones_like(ids)
        for row in range(1, batch):  # right padding of different lengths
            cut = max(1, length - 3 * row)
            ids[row, cut:] = 0
            mask[row, cut:] = 0
        with torch.no_grad():
            expected = model.float()(ids, mask).numpy()
        got = run_model(graph, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})["logits"]
        worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    model = DebertaV2ForSequenceClassification.from_pretrained(args.model)
    spm_path = os.path.join(args.model, "spm.model")
    tokenizer = DebertaTokenizer(spm_path)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise SystemExit(f"export: {spm_path} has {tokenizer.vocab_size} ids, the model only {model.config.vocab_size} rows")
    os.makedirs(args.output, exist_ok=True)
    model.save_pretrained(args.output, torch.float16 if args.dtype == "f16" else torch.float32)
    if os.path.abspath(spm_path) != os.path.abspath(os.path.join(args.output, "spm.model")):
        shutil.copyfile(spm_path, os.path.join(args.output, "spm.model"))
    fields: Dict[str, object] = {"output": args.output, "dtype": args.dtype,
                                 "safetensors_mb": os.path.getsize(os.path.join(args.output, "model.safetensors")) / 1e6}
    if not args.no_onnx:
        onnx_path = os.path.join(args.output, "model.onnx")
        export_onnx(model, onnx_path)
        fields["onnx_mb"] = os.path.getsize(onnx_path) / 1e6
        if args.no_parity:
            import onnx

            onnx.checker.check_model(onnx_path)
            fields["parity"] = "skipped"
        else:
            worst = onnx_parity(model, onnx_path, shapes=args.parity_shapes)
            fields["onnx_max_abs_diff"] = worst
            if worst > args.parity_tolerance:
                print(summary("export", **fields, status="PARITY-FAILED"))
                return 1
    fields["seconds"] = time.monotonic() - started
    print(summary("export", **fields))
    return 0
