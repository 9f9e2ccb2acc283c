"""Write the BERT and RoBERTa golden fixtures (tests/fixtures/{bert,roberta}/<name>/) from seeded weights.

Each fixture is a Hugging Face directory (``config.json``, float32 ``model.safetensors``) plus
``cases.json`` (inputs and the reference outputs: logits in float64 and float32, probabilities,
pooled output, the first positions of the last hidden state) and a ``README.md`` describing both,
in the layout of the shared DeBERTa fixtures. Weights come from numpy's seeded generator and the
expected values from ``modeling_bert`` in float64 (``expected_logits_f32``: the same weights in
float32), so a run on the same machine rewrites the files byte for byte; another BLAS may change
the last digits of the float32 column.

Before writing, every fixture checks that it can catch the mistakes it is for: a padded row equals
the row run alone, token types (BERT) and RoBERTa's position numbering move the logits visibly,
and the logits differ between cases. The README reports those margins.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .modeling_bert import ARCHITECTURES, BertConfig, classifier_class, save_pretrained
from .progress import summary

HIDDEN_STATE_POSITIONS = 4
SAFE_UNSAFE = {0: "safe", 1: "unsafe"}
# Special ids of the fixtures' (absent) vocabularies; every other id is an ordinary token.
BERT_SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
ROBERTA_SPECIAL = {"bos": 0, "pad": 1, "eos": 2, "unk": 3, "mask": 4}
FIRST_TOKEN = 5


@dataclass
class FixtureSpec:
    family: str  # "bert" or "roberta": the folder under tests/fixtures
    name: str
    seed: int
    config: Dict[str, Any]
    summary: str
    id2label: Dict[int, str] = field(default_factory=lambda: dict(SAFE_UNSAFE))

    @property
    def path(self) -> str:
        return f"{self.family}/{self.name}"


def _bert(**values: Any) -> Dict[str, Any]:
    base = dict(model_type="bert", hidden_act="gelu", type_vocab_size=2, layer_norm_eps=1e-12, pad_token_id=0)
    base.update(values)
    return base


def _roberta(model_type: str = "roberta", **values: Any) -> Dict[str, Any]:
    base = dict(model_type=model_type, hidden_act="gelu", type_vocab_size=1, layer_norm_eps=1e-5,
                pad_token_id=ROBERTA_SPECIAL["pad"], bos_token_id=ROBERTA_SPECIAL["bos"], eos_token_id=ROBERTA_SPECIAL["eos"])
    base.update(values)
    return base


FIXTURES: Tuple[FixtureSpec, ...] = (
    FixtureSpec("bert", "tiny-odd-heads", 1,
                _bert(vocab_size=120, hidden_size=36, num_attention_heads=3, num_hidden_layers=2,
                      intermediate_size=80, max_position_embeddings=40),
                "hidden 36 with 3 heads (head size 12), 2 layers, FFN 80"),
    FixtureSpec("bert", "head-dim-5", 2,
                _bert(vocab_size=90, hidden_size=20, num_attention_heads=4, num_hidden_layers=3,
                      intermediate_size=52, max_position_embeddings=24),
                "hidden 20 with 4 heads (head size 5), 3 layers, FFN 52, three labels",
                id2label={0: "safe", 1: "unsafe", 2: "controversial"}),
    FixtureSpec("bert", "four-layer", 3,
                _bert(vocab_size=200, hidden_size=48, num_attention_heads=6, num_hidden_layers=4,
                      intermediate_size=96, max_position_embeddings=64),
                "hidden 48 with 6 heads (head size 8), 4 layers, FFN 96"),
    FixtureSpec("roberta", "tiny-odd-heads", 4,
                _roberta(vocab_size=130, hidden_size=36, num_attention_heads=3, num_hidden_layers=2,
                         intermediate_size=80, max_position_embeddings=42),
                "hidden 36 with 3 heads (head size 12), 2 layers, FFN 80"),
    FixtureSpec("roberta", "xlmr-head-dim-5", 5,
                _roberta("xlm-roberta", vocab_size=100, hidden_size=20, num_attention_heads=4, num_hidden_layers=3,
                         intermediate_size=52, max_position_embeddings=26),
                "XLM-R style (model_type xlm-roberta): hidden 20 with 4 heads (head size 5), 3 layers, FFN 52"),
)


def fixture_config(spec: FixtureSpec) -> BertConfig:
    values = dict(spec.config)
    values["id2label"] = dict(spec.id2label)
    config = BertConfig.from_dict(values)
    config.architectures = [ARCHITECTURES[config.model_type]]
    config.validate()
    return config


# --- weights -----------------------------------------------------------------------------------


def seeded_weights(model: torch.nn.Module, seed: int) -> Dict[str, np.ndarray]:
    """float32 weights for every tensor of ``model``, drawn in name order from numpy's generator.

    Scaled so that activations stay in the range where every part matters: LayerNorm gains near 1,
    embeddings std 0.2 (word, position and token type alike, so none drowns the others), Linear
    weights std 1/sqrt(fan_in) within [0.05, 0.2], biases std 0.1.
    """
    rng = np.random.default_rng(seed)
    weights: Dict[str, np.ndarray] = {}
    for name, tensor in sorted(model.state_dict().items()):
        shape = tuple(tensor.shape)
        if "LayerNorm" in name:
            value = (1.0 if name.endswith("weight") else 0.0) + rng.normal(0.0, 0.1, shape)
        elif "embeddings" in name:
            value = rng.normal(0.0, 0.2, shape)
        elif name.endswith("weight"):
            value = rng.normal(0.0, min(0.2, max(0.05, 1.0 / np.sqrt(shape[1]))), shape)
        else:
            value = rng.normal(0.0, 0.1, shape)
        weights[name] = value.astype(np.float32)
    return weights


def build_model(spec: FixtureSpec, dtype: torch.dtype):
    config = fixture_config(spec)
    model = classifier_class(config)(config)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in seeded_weights(model, spec.seed).items()})
    return model.to(dtype).eval()


# --- cases -------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    description: str
    rows: List[List[int]]
    token_types: List[List[int]]


class CaseBuilder:
    """Token rows in a family's layout: BERT ``[CLS] a [SEP] b [SEP]``, RoBERTa ``<s> a </s></s> b </s>``."""

    def __init__(self, spec: FixtureSpec, config: BertConfig) -> None:
        self.roberta = config.is_roberta
        self.config = config
        self.rng = np.random.default_rng(1000 + spec.seed)
        self.special = ROBERTA_SPECIAL if self.roberta else BERT_SPECIAL

    @property
    def start(self) -> int:
        return self.special["bos" if self.roberta else "cls"]

    @property
    def end(self) -> int:
        return self.special["eos" if self.roberta else "sep"]

    def tokens(self, count: int) -> List[int]:
        return [int(t) for t in self.rng.integers(FIRST_TOKEN, self.config.vocab_size, size=count)]

    def single(self, length: int) -> Tuple[List[int], List[int]]:
        """``[CLS] x ... [SEP]`` of ``length`` tokens (1: ``[CLS]`` alone)."""
        if length == 1:
            return [self.start], [0]
        ids = [self.start] + self.tokens(length - 2) + [self.end]
        return ids, [0] * length

    def pair(self, length: int, first: Optional[int] = None) -> Tuple[List[int], List[int]]:
        """A sentence pair of ``length`` tokens; BERT's second segment (after the first [SEP]) has token type 1."""
        inner = length - (4 if self.roberta else 3)
        a = first if first is not None else inner // 2
        b = inner - a
        if self.roberta:
            ids = [self.start] + self.tokens(a) + [self.end, self.end] + self.tokens(b) + [self.end]
            return ids, [0] * length
        ids = [self.start] + self.tokens(a) + [self.end] + self.tokens(b) + [self.end]
        return ids, [0] * (a + 2) + [1] * (b + 1)

    def padded(self, rows: Sequence[Tuple[List[int], List[int]]]) -> Tuple[List[List[int]], List[List[int]]]:
        width = max(len(ids) for ids, _ in rows)
        pad = self.special["pad"]
        return ([ids + [pad] * (width - len(ids)) for ids, _ in rows],
                [types + [0] * (width - len(types)) for _, types in rows])


def build_cases(spec: FixtureSpec, config: BertConfig) -> List[Case]:
    b = CaseBuilder(spec, config)
    longest = config.max_sequence_length
    start, end = ("<s>", "</s>") if b.roberta else ("[CLS]", "[SEP]")
    pair_layout = "<s> A </s></s> B </s>" if b.roberta else "[CLS] A [SEP] B [SEP]"
    pad_note = f"right padded with id {b.special['pad']} (attention_mask 0 on padding)"
    cases: List[Case] = []

    def add(name: str, description: str, rows: Sequence[Tuple[List[int], List[int]]]) -> None:
        ids, types = b.padded(rows)
        cases.append(Case(name, description, ids, types))

    add("single_short", f"one short sequence {start} x x ... {end}", [b.single(9)])
    add("batch3_right_padded", f"three rows of different lengths (13, 7, 3), {pad_note}",
        [b.single(13), b.single(7), b.single(3)])
    add(f"{'bos' if b.roberta else 'cls'}_only", f"length 1: {start} only", [b.single(1)])
    add(f"{'bos_eos' if b.roberta else 'cls_sep'}", f"length 2: {start} {end}", [b.single(2)])
    pair = b.pair(14, first=5)
    if b.roberta:
        add("pair", f"sentence pair {pair_layout} (token_type_ids all 0: type_vocab_size is 1)", [pair])
    else:
        add("pair_token_types", f"sentence pair {pair_layout}, token_type_ids 1 on B and its [SEP]", [pair])
        add("pair_all_type0", "same ids as pair_token_types with token_type_ids all 0 (the logits differ: "
                              "segment embeddings matter)", [(pair[0], [0] * len(pair[0]))])
    add("batch_pairs_padded", f"two pairs (12 and 8 tokens) and a single sequence (5), {pad_note}",
        [b.pair(12), b.pair(8), b.single(5)])
    limit = ("max_position_embeddings - 2: RoBERTa positions start at pad_token_id + 1 = 2" if b.roberta
             else "max_position_embeddings")
    add(f"max_length_{longest}", f"a pair of {longest} tokens, the longest input ({limit})", [b.pair(longest)])
    add("batch_max_length_padded", f"three rows ({longest}, {longest // 2 + 1}, 4), {pad_note}",
        [b.single(longest), b.pair(longest // 2 + 1), b.single(4)])
    return cases


# --- expected values ---------------------------------------------------------------------------


def valid_lengths(case: Case, pad: int) -> List[int]:
    return [sum(1 for t in row if t != pad) for row in case.rows]


def _mask(case: Case, pad: int) -> List[List[int]]:
    lengths = valid_lengths(case, pad)
    # Rows are padded only at the end, so the valid length is also where the padding starts.
    for row, n in zip(case.rows, lengths):
        assert all(t != pad for t in row[:n]) and all(t == pad for t in row[n:]), case.name
    return [[1] * n + [0] * (len(row) - n) for row, n in zip(case.rows, lengths)]


def forward(model, case: Case, mask: Optional[List[List[int]]] = None, position_ids: Optional[torch.Tensor] = None):
    """(last hidden state, pooled output, logits) of ``case`` as numpy arrays."""
    ids = torch.tensor(case.rows)
    mask_t = torch.tensor(mask if mask is not None else _mask(case, model.config.pad_token_id))
    with torch.no_grad():
        hidden = model.encode(ids, mask_t, torch.tensor(case.token_types), position_ids)
        pooled = model.pool(hidden)
        logits = model.classify(pooled)
    return hidden.numpy(), pooled.numpy(), logits.numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def case_record(model64, model32, case: Case) -> Dict[str, Any]:
    pad = model64.config.pad_token_id
    lengths = valid_lengths(case, pad)
    hidden, pooled, logits = forward(model64, case)
    _, _, logits32 = forward(model32, case)
    return {
        "name": case.name,
        "description": case.description,
        "input_ids": case.rows,
        "attention_mask": _mask(case, pad),
        "token_type_ids": case.token_types,
        "valid_lengths": lengths,
        "expected_logits": logits.tolist(),
        "expected_logits_f32": logits32.astype(np.float64).tolist(),
        "expected_probs": softmax(logits).tolist(),
        "expected_pooled_output": pooled.tolist(),
        "expected_last_hidden_state": [hidden[r, :min(HIDDEN_STATE_POSITIONS, n)].tolist() for r, n in enumerate(lengths)],
    }


@dataclass
class Evidence:
    """float32 vs float64 differences, and how far from the expected logits the mistakes a fixture must catch land."""

    f32: Dict[str, float] = field(default_factory=lambda: {"logits": 0.0, "probs": 0.0, "pooled output": 0.0,
                                                           "last hidden state (valid positions)": 0.0})
    padded_vs_alone: float = 0.0
    logit_spread: float = 0.0
    mistakes: Dict[str, float] = field(default_factory=dict)


def collect_evidence(model64, model32, cases: List[Case], records: List[Dict[str, Any]]) -> Evidence:
    e = Evidence()
    config = model64.config
    pad = config.pad_token_id
    padded_cases = [(c, r) for c, r in zip(cases, records) if any(n < len(c.rows[0]) for n in r["valid_lengths"])]
    for case, record in zip(cases, records):
        expected = np.array(record["expected_logits"])
        hidden32, pooled32, logits32 = forward(model32, case)
        e.f32["logits"] = max(e.f32["logits"], float(np.abs(logits32 - expected).max()))
        e.f32["probs"] = max(e.f32["probs"], float(np.abs(softmax(logits32.astype(np.float64)) - np.array(record["expected_probs"])).max()))
        e.f32["pooled output"] = max(e.f32["pooled output"], float(np.abs(pooled32 - np.array(record["expected_pooled_output"])).max()))
        for r, rows in enumerate(record["expected_last_hidden_state"]):
            diff = float(np.abs(hidden32[r, :len(rows)] - np.array(rows)).max())
            e.f32["last hidden state (valid positions)"] = max(e.f32["last hidden state (valid positions)"], diff)
        for r, n in enumerate(record["valid_lengths"]):
            alone = Case(case.name, "", [case.rows[r][:n]], [case.token_types[r][:n]])
            e.padded_vs_alone = max(e.padded_vs_alone, float(np.abs(forward(model64, alone)[2][0] - expected[r]).max()))
    all_logits = np.concatenate([np.array(r["expected_logits"]) for r in records])
    e.logit_spread = float(all_logits.std(axis=0).min())

    def smallest_miss(label: str, pairs, run) -> None:
        misses = [float(np.abs(run(case) - np.array(record["expected_logits"])).max()) for case, record in pairs]
        e.mistakes[label] = min(misses)

    smallest_miss("padding keys not masked (attention_mask all 1), smallest over the padded cases", padded_cases,
                  lambda c: forward(model64, c, mask=[[1] * len(row) for row in c.rows])[2])
    if config.is_roberta:
        smallest_miss("positions numbered 0, 1, 2 ... as in BERT, smallest over all cases", list(zip(cases, records)),
                      lambda c: forward(model64, c, position_ids=torch.arange(len(c.rows[0])).unsqueeze(0))[2])
        smallest_miss("positions counted from 1 (pad_token_id, one too few), smallest over all cases", list(zip(cases, records)),
                      lambda c: forward(model64, c, position_ids=_roberta_positions(c, pad) - 1)[2])
    else:
        typed = [(c, r) for c, r in zip(cases, records) if any(any(row) for row in c.token_types)]
        smallest_miss("token_type_ids all 0, smallest over the cases with a second segment", typed,
                      lambda c: forward(model64, Case(c.name, "", c.rows, [[0] * len(row) for row in c.rows]))[2])
    return e


def _roberta_positions(case: Case, pad: int) -> torch.Tensor:
    from .modeling_bert import roberta_position_ids

    return roberta_position_ids(torch.tensor(case.rows), pad)


def check_evidence(spec: FixtureSpec, e: Evidence) -> None:
    """A fixture that could not tell a right implementation from a wrong one is refused, not written."""
    problems = []
    if e.padded_vs_alone > 1e-12:
        problems.append(f"a padded row differs from the row alone by {e.padded_vs_alone:.3g}")
    if e.logit_spread < 0.05:
        problems.append(f"logits hardly vary between cases (std {e.logit_spread:.3g})")
    problems += [f"'{label}' moves the logits by only {miss:.3g}" for label, miss in e.mistakes.items() if miss < 1e-2]
    if problems:
        raise RuntimeError(f"fixture {spec.path}: " + "; ".join(problems))


# --- files -------------------------------------------------------------------------------------


def write_cases(path: str, records: List[Dict[str, Any]]) -> None:
    """One case per line, as the shared DeBERTa fixtures lay it out."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(record) for record in records) + "\n]\n")


def readme(spec: FixtureSpec, config: BertConfig, cases: List[Dict[str, Any]], e: Evidence) -> str:
    roberta = config.is_roberta
    family = "RoBERTa" if roberta else "BERT"
    hf_class = config.architectures[0]
    special = ROBERTA_SPECIAL if roberta else BERT_SPECIAL
    names = {"pad": "<pad>", "bos": "<s>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"} if roberta else \
        {"pad": "[PAD]", "cls": "[CLS]", "sep": "[SEP]", "unk": "[UNK]", "mask": "[MASK]"}
    ids = ", ".join(f"{v} = {names[k]}" for k, v in sorted(special.items(), key=lambda kv: kv[1]))
    fields_shown = ["model_type", "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size",
                    "vocab_size", "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "hidden_act", "pad_token_id"]
    if roberta:
        fields_shown += ["bos_token_id", "eos_token_id"]
    lines = [
        f"# {family} sequence-classifier golden fixture: `{spec.name}`",
        "",
        f"Reference outputs for a {family} sequence classifier (Hugging Face `model_type` `{config.model_type}`, "
        f"`{hf_class}`): {spec.summary}, {config.num_labels} labels. Generated by `training/edgeguard_train/modeling_bert.py` "
        "(a PyTorch implementation of the Hugging Face computation, written from the architecture) in float64 on seeded "
        "random weights; checked against an ONNX graph of the same weights built operator by operator "
        "(`training/edgeguard_train/bert_onnx_graph.py`) in ONNX Runtime and in the numpy evaluator, and the same code "
        "against the real all-MiniLM-L6-v2 weights.",
        "",
        "Regenerate (from `training/`): `python3 -m edgeguard_train make-fixture --output ../tests/fixtures "
        f"--only {spec.path}`.",
        "",
        "## Model",
        "",
        "| field | value |",
        "| --- | --- |",
    ]
    values = config.to_dict()
    lines += [f"| {name} | `{json.dumps(values[name])}` |" for name in fields_shown]
    lines += [f"| id2label | `{json.dumps(values['id2label'])}` |", f"| weight seed | {spec.seed} |", ""]
    lines += ["## Files", "",
              f"- `config.json`: model configuration in Hugging Face `{'RobertaConfig' if roberta else 'BertConfig'}` form; "
              "`num_labels` is the size of `id2label`.",
              f"- `model.safetensors`: all weights, float32, little-endian, under Hugging Face parameter names "
              + (("(`roberta.embeddings.*`, `roberta.encoder.layer.N.*`, `classifier.dense.*`, `classifier.out_proj.*`; "
                  "there is no pooler). ") if roberta else
                 "(`bert.embeddings.*`, `bert.encoder.layer.N.*`, `bert.pooler.dense.*`, `classifier.*`). ")
              + "Linear weights are stored `[out_features, in_features]` (y = x W^T + b). The weights are random: "
                "LayerNorm gains 1 + N(0, 0.1), embeddings N(0, 0.2), Linear weights N(0, 1/sqrt(fan_in)) within "
                "[0.05, 0.2], biases N(0, 0.1), so every part of the model visibly moves the outputs.",
              "- `cases.json`: a list of test cases (below), one per line.",
              "", "## cases.json fields", "",
              "- `name`, `description`",
              f"- `input_ids`, `attention_mask`, `token_type_ids`: `[batch][seq]` integers. Rows are right padded with "
              f"id {special['pad']} and mask 0. Special ids: {ids}; every other id is an ordinary token. "
              + ("`token_type_ids` are all 0 (`type_vocab_size` is 1)." if roberta else
                 "`token_type_ids` are 0 up to and including the first [SEP] and 1 after it in pairs (0 on padding), "
                 "except in `pair_all_type0`."),
              "- `valid_lengths`: number of non-padding tokens per row.",
              "- `expected_logits`: `[batch][num_labels]`, float64 reference.",
              "- `expected_logits_f32`: `[batch][num_labels]`, the same model evaluated in float32.",
              "- `expected_probs`: softmax of `expected_logits`.",
              "- `expected_pooled_output`: `[batch][hidden]`, float64: "
              + ("tanh(classifier.dense(h[:, 0])), the first half of RoBERTa's classification head (the input of "
                 "`classifier.out_proj`)." if roberta else "the pooler output tanh(pooler.dense(h[:, 0])) (the input of `classifier`)."),
              f"- `expected_last_hidden_state`: `[batch][n][hidden]`, final encoder output for the first n = "
              f"min({HIDDEN_STATE_POSITIONS}, valid_length) positions of each row, float64. Padding positions are not "
              "given: they never influence the valid positions or the logits.",
              "", "## Cases", "",
              "| name | rows x length | valid lengths | description |",
              "| --- | --- | --- | --- |"]
    for record in cases:
        rows, length = len(record["input_ids"]), len(record["input_ids"][0])
        lines.append(f"| {record['name']} | {rows} x {length} | {', '.join(map(str, record['valid_lengths']))} | "
                     f"{record['description']} |")
    lines += [""]
    if roberta:
        lines += ["## Positions", "",
                  f"RoBERTa numbers positions from `pad_token_id + 1` = {config.pad_token_id + 1}: position id = "
                  f"{config.pad_token_id} + 1 + (number of non-pad tokens before this one) for real tokens, and "
                  f"{config.pad_token_id} for padding (`transformers`' `create_position_ids_from_input_ids`, which "
                  "reads the ids, not the attention mask; here padding is exactly where the mask is 0). Rows 0 and "
                  f"{config.pad_token_id} of `position_embeddings` are therefore never used by a real token, and the "
                  f"longest input is max_position_embeddings - {config.pad_token_id + 1} = {config.max_sequence_length} tokens.",
                  ""]
    lines += ["## Observed float32 vs float64 differences (max abs over all cases)", "",
              "| output | max abs difference |", "| --- | --- |"]
    lines += [f"| {label} | {value:.2e} |" for label, value in e.f32.items()]
    lines += ["", "## What the cases catch", "",
              "Largest difference between a padded row's logits and the same row run alone: "
              f"{e.padded_vs_alone:.2e} (float64). Smallest standard deviation of a logit over all rows: {e.logit_spread:.3f}.",
              "",
              "| mistake | how far the logits move |", "| --- | --- |"]
    lines += [f"| {label} | {miss:.3g} |" for label, miss in e.mistakes.items()]
    lines += ["", "A float64 implementation should match `expected_logits` to about 1e-9; a float32 one should be compared "
              "with a tolerance of a few times the float32 column above (1e-4 absolute is ample).", ""]
    return "\n".join(lines)


def write_fixture(spec: FixtureSpec, root: str) -> Evidence:
    model32 = build_model(spec, torch.float32)
    model64 = build_model(spec, torch.float64)
    config = model32.config
    cases = build_cases(spec, config)
    records = [case_record(model64, model32, case) for case in cases]
    evidence = collect_evidence(model64, model32, cases, records)
    check_evidence(spec, evidence)
    directory = os.path.join(root, spec.family, spec.name)
    save_pretrained(directory, config, {k: v.detach().numpy() for k, v in model32.state_dict().items()})
    write_cases(os.path.join(directory, "cases.json"), records)
    with open(os.path.join(directory, "README.md"), "w", encoding="utf-8") as f:
        f.write(readme(spec, config, records, evidence))
    return evidence


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", required=True, help="root of the fixtures (the repository's tests/fixtures)")
    parser.add_argument("--only", action="append", default=[], metavar="FAMILY/NAME",
                        help=f"write only this fixture (repeatable): {', '.join(s.path for s in FIXTURES)}")


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    known = {spec.path: spec for spec in FIXTURES}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        raise SystemExit(f"make-fixture: unknown fixture {', '.join(unknown)}; choose from {', '.join(known)}")
    torch.set_num_threads(1)
    written = []
    for spec in FIXTURES:
        if args.only and spec.path not in args.only:
            continue
        evidence = write_fixture(spec, args.output)
        written.append(spec.path)
        print(f"{spec.path}: f32_max_logit_diff={evidence.f32['logits']:.2e} "
              + " ".join(f"miss[{label.split(',')[0]}]={miss:.3g}" for label, miss in evidence.mistakes.items()))
    print(summary("make-fixture", output=args.output, fixtures=",".join(written), seconds=time.monotonic() - started))
    return 0
