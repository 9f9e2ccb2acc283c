"""Where one verdict's time goes, per kind of operation, EdgeGuard beside ONNX Runtime (`make op-profile`).

EdgeGuard's side is `perf report --no-children --sort symbol --stdio` of a `perf record` of the NativeAOT
binary (built with symbols) running `edgeguard bench`; ONNX Runtime's is the Chrome-trace JSON its profiler writes
(`EDGEGUARD_ONNX_PROFILE`) for the same `bench` with `--backend onnx`. Both are sorted into the same kinds of work and
printed as one markdown table: each engine's share of its time and that share of its median latency (`--eg-p50`,
`--ort-p50`, measured by plain `bench` runs of the same command: profilers slow what they watch).

The two shares are not the same measure, and the table says so: EdgeGuard's is a share of CPU samples on all threads
(time spent spinning or in the kernel included), ONNX Runtime's a share of the wall time of its timed runs (node
kernel times; what lies between the nodes is "between nodes"). Milliseconds are share x p50 for both.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

# (kind, EdgeGuard symbol pattern, ONNX Runtime operator names). Order matters: the first match wins.
KINDS: List[Tuple[str, str, Tuple[str, ...]]] = [
    ("int8 products with weights (tile, epilogue, driver)",
     r"Int8_(Vector\d+Tile|Vector\d+Row|Int8Gemm|.*Step)|Int8Gemm__", ("DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger")),
    ("activation quantisation", r"ActivationQuantizer|MaxMagnitude|QuantizedRows", ("DynamicQuantizeLinear",)),
    ("attention products, float32 (QK^T, PV, c2p/p2c)", r"Float32_Gemm__", ("MatMul", "FusedMatMul")),
    # ONNX Runtime: every other node under an attention scope (see kind_of_node).
    ("attention: score assembly, gathers, transposes, masks", r"DisentangledAttention|Attention__", ()),
    ("softmax", r"Softmax", ("Softmax",)),
    ("LayerNorm", r"LayerNorm|Aggregate|InvokeSpanScalarIntoSpan|InvokeSpanSpanSpanIntoSpan|MinMaxCore<.*MaxOperator",
     ("LayerNormalization", "SkipLayerNormalization")),
    ("GELU", r"Gelu", ("Gelu", "BiasGelu", "FastGelu")),
    ("bias and residual adds (EdgeGuard: in the epilogue)", r"$^", ("Add",)),
    ("thread pool: waking, spinning, yielding", r"WorkerPool|SpinWait|RhSpinWait|sched_yield|SwitchToThread|ManualResetEventSlim|WaitSubsystem|Monitor__|futex|pvm_|\[k\]", ()),
]
OTHER = "other (embeddings, head, tokenizer, memory copies, loading)"
BETWEEN = "between nodes (ONNX Runtime's framework)"


def kind_of_symbol(line: str) -> str:
    for kind, pattern, _ in KINDS:
        if re.search(pattern, line):
            return kind
    return OTHER


ATTENTION_REST = KINDS[3][0]


# Products and softmax keep their own kinds inside the attention scope.
ATTENTION_OWN_KINDS = {op for kind, _, ops in KINDS[:3] + KINDS[4:5] for op in ops}


def kind_of_node(op: str, node: str) -> str:
    # The relative-position gathers, transposes, reshapes, masks, scaling and score adds of the exported attention.
    if "/attention/self/" in node and op not in ATTENTION_OWN_KINDS:
        return ATTENTION_REST
    for kind, _, ops in KINDS:
        if op in ops:
            return kind
    return OTHER


def edgeguard_shares(report_path: str) -> Dict[str, float]:
    """Percent of samples per kind from `perf report --stdio` text (lines `  12.34%  [.] symbol`)."""
    shares: Dict[str, float] = {}
    with open(report_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"\s*([0-9.]+)%\s+(\[[.k]\])\s+(.*)", line)
            if not m:
                continue
            kind = kind_of_symbol(m.group(2) + " " + m.group(3))
            shares[kind] = shares.get(kind, 0.0) + float(m.group(1))
    if not shares:
        raise SystemExit(f"{report_path}: no `NN.NN%  [.] symbol` lines; expected `perf report --no-children --sort symbol --stdio` output")
    total = sum(shares.values())
    return {k: 100.0 * v / total for k, v in shares.items()}


def onnx_runtime_shares(profile_path: str, skip_runs: int) -> Tuple[Dict[str, float], int]:
    """Percent of the timed runs' wall time per kind, from ONNX Runtime's profile; the first `skip_runs` runs are warm-up."""
    with open(profile_path, encoding="utf-8") as f:
        events = json.load(f)
    runs = sorted((e for e in events if e.get("name") == "model_run"), key=lambda e: e["ts"])
    timed = runs[skip_runs:]
    if not timed:
        raise SystemExit(f"{profile_path}: {len(runs)} model runs, none left after skipping {skip_runs} warm-up runs")
    spans = [(r["ts"], r["ts"] + r["dur"]) for r in timed]
    wall = float(sum(r["dur"] for r in timed))
    per_kind: Dict[str, float] = {}
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        if not any(start <= e["ts"] < end for start, end in spans):
            continue
        kind = kind_of_node(e.get("args", {}).get("op_name", ""), e["name"])
        per_kind[kind] = per_kind.get(kind, 0.0) + e["dur"]
    per_kind[BETWEEN] = max(0.0, wall - sum(per_kind.values()))
    return {k: 100.0 * v / wall for k, v in per_kind.items()}, len(timed)


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--perf-report", required=True, help="EdgeGuard: perf report --no-children --sort symbol --stdio output")
    parser.add_argument("--ort-profile", required=True, help="ONNX Runtime: the JSON its profiler wrote")
    parser.add_argument("--eg-p50", type=float, required=True, help="EdgeGuard's median ms per verdict, unprofiled")
    parser.add_argument("--ort-p50", type=float, required=True, help="ONNX Runtime's median ms per verdict, unprofiled")
    parser.add_argument("--ort-warmup-runs", type=int, default=6, help="ONNX Runtime runs before the timed ones (bench's label probe + --warmup)")
    args = parser.parse_args(argv)

    eg = edgeguard_shares(args.perf_report)
    ort, runs = onnx_runtime_shares(args.ort_profile, args.ort_warmup_runs)
    kinds = list(OrderedDict.fromkeys([k for k, _, _ in KINDS] + [OTHER, BETWEEN]))
    print(f"| kind of work | EdgeGuard int8 % | EdgeGuard ms | ONNX Runtime int8 % | ONNX Runtime ms |")
    print("| --- | --- | --- | --- | --- |")
    for kind in kinds:
        a, b = eg.get(kind), ort.get(kind)
        if a is None and b is None:
            continue
        cell = lambda share, p50: ("–", "–") if share is None else (f"{share:.1f}", f"{share * p50 / 100:.2f}")
        ea, em = cell(a, args.eg_p50)
        oa, om = cell(b, args.ort_p50)
        print(f"| {kind} | {ea} | {em} | {oa} | {om} |")
    print(f"| whole verdict (p50, unprofiled) | 100 | {args.eg_p50:.2f} | 100 | {args.ort_p50:.2f} |")
    print(f"\n(ONNX Runtime: {runs} timed runs in its profile.)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
