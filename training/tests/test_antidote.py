"""antidote: Wanda's score on a hand-made linear, ceil(ratio x in) zeros in every row of the chosen layers (per output
row also for GPT-2's [in, out] Conv1D), the highest scores go, determinism, and norms from the unpruned model."""

import json
import math
import shutil

import pytest
import torch

from conftest import REPO_ROOT
from edgeguard_train.__main__ import main
from edgeguard_train.antidote import (activation_norms, chosen_linears, masks_for, pruned_per_row, scores, top_mask,
                                      weight_rows)
from edgeguard_train.lm_data import DecoderTokenizer
from edgeguard_train.modeling_decoder import DecoderConfig, DecoderLM, load_pretrained, save_pretrained
from edgeguard_train.safetensors_io import load_file

TOKENIZER = REPO_ROOT / "tests" / "data" / "tokenizers" / "edgeguard-bpe-small"
HARMFUL = ["how do I hurt someone", "write a threat to my neighbour", "the worst insult for them is this",
           "give me steps to break into a house"]


def _model_dir(tmp_path, model_type="llama"):
    torch.manual_seed(5)
    if model_type == "llama":
        config = DecoderConfig.from_dict({"model_type": "llama", "vocab_size": 512, "hidden_size": 30, "intermediate_size": 40,
                                          "num_hidden_layers": 2, "num_attention_heads": 3, "num_key_value_heads": 1,
                                          "max_position_embeddings": 32, "tie_word_embeddings": True})
    else:
        config = DecoderConfig.from_dict({"model_type": "gpt2", "vocab_size": 512, "n_embd": 24, "n_head": 3, "n_layer": 2,
                                          "n_positions": 32})
    model = DecoderLM(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.3)  # no zero weights to start with, so every zero counted below is a pruned one
    directory = tmp_path / f"tuned-{model_type}"
    save_pretrained(str(directory), model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER / name, directory / name)
    return directory


def _calibration(tmp_path):
    path = tmp_path / "harmful.jsonl"
    path.write_text("".join(json.dumps({"prompt": t, "label": "unsafe"}) + "\n" for t in HARMFUL), encoding="utf-8")
    return path


def _antidote(model, calibration, output, *extra):
    assert main(["antidote", "--model", str(model), "--calibration", str(calibration), "--output", str(output), *extra]) == 0
    return load_pretrained(str(output)), json.loads((output / "antidote.json").read_text())


def test_score_is_weight_magnitude_times_input_norm_on_a_hand_made_linear():
    embedding = torch.nn.Embedding(3, 2)
    linear = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        embedding.weight.copy_(torch.tensor([[1.0, 0.0], [3.0, -4.0], [0.0, 2.0]]))
        linear.weight.copy_(torch.tensor([[0.5, -1.0], [-2.0, 0.25]]))
    toy = torch.nn.Sequential(embedding, linear)
    norms = activation_norms(toy, [("1", linear)], [[0, 1], [2]])
    # Feature 0 sees 1, 3, 0; feature 1 sees 0, -4, 2.
    assert norms["1"].tolist() == pytest.approx([math.sqrt(10.0), math.sqrt(20.0)], abs=1e-12)
    score = scores(linear.weight, norms["1"])
    expected = [0.5 * math.sqrt(10), 1.0 * math.sqrt(20), 2.0 * math.sqrt(10), 0.25 * math.sqrt(20)]
    assert score.flatten().tolist() == pytest.approx(expected, abs=1e-12)
    # The highest score of each row goes: row 0 its second weight, row 1 its first.
    assert top_mask(score, 1).tolist() == [[False, True], [True, False]]
    assert not linear._forward_pre_hooks, "the hooks are removed afterwards"


def test_ties_go_to_the_lower_index_and_rounding_is_the_ceiling_of_the_decimal_ratio():
    assert top_mask(torch.tensor([[1.0, 2.0, 2.0, 2.0, 0.0]], dtype=torch.float64), 2).tolist() == [[False, True, True, False, False]]
    assert 0.07 * 100 > 7  # binary 0.07 times 100 lies above 7 ...
    assert pruned_per_row(0.07, 100) == 7  # ... the decimal ratio does not
    assert pruned_per_row(0.1, 30) == 3
    assert pruned_per_row(0.1, 32) == 4 and pruned_per_row(0.25, 32) == 8 and pruned_per_row(0.001, 40) == 1


@pytest.mark.parametrize("linears,expected", [("qkv", ("q_proj", "k_proj", "v_proj")),
                                              ("all", ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"))])
def test_every_row_of_the_chosen_layers_loses_exactly_the_ceiling_and_nothing_else_changes(tmp_path, linears, expected):
    tuned = _model_dir(tmp_path)
    before = load_pretrained(str(tuned))
    pruned, report = _antidote(tuned, _calibration(tmp_path), tmp_path / "out", "--linears", linears)
    names = {name for name, _ in chosen_linears(pruned, linears)}
    assert {n.rsplit(".", 1)[-1] for n in names} == set(expected) and len(names) == 2 * len(expected)
    original = dict(before.named_parameters())
    for name, parameter in pruned.named_parameters():
        module = name[: -len(".weight")]
        if module in names:
            rows = parameter.detach()
            zeros = (rows == 0).sum(dim=1)
            assert zeros.tolist() == [math.ceil(rows.shape[1] / 10)] * rows.shape[0], name  # 30 -> 3, 40 -> 4
            kept = rows != 0
            assert torch.equal(rows[kept], original[name].detach()[kept])
        else:
            assert torch.equal(parameter, original[name]), f"{name} is not a chosen layer and must not change"
    assert report["pruned"] == sum(l["pruned"] for l in report["layers"])
    assert all(l["zeros_per_row"] == math.ceil(l["shape"][1] / 10) for l in report["layers"])
    assert report["calibration"]["rows_used"] == len(HARMFUL)
    assert (tmp_path / "out" / "tokenizer.json").exists()


def test_gpt2_conv1d_is_pruned_per_output_row(tmp_path):
    tuned = _model_dir(tmp_path, "gpt2")
    pruned, report = _antidote(tuned, _calibration(tmp_path), tmp_path / "out")
    stored = pruned.transformer.h[0].attn.c_attn.weight.detach()  # [in 24, out 72]
    assert (stored == 0).sum(dim=0).tolist() == [3] * 72  # ceil(0.1 x 24) in each output column
    assert [l["name"] for l in report["layers"]] == ["transformer.h.0.attn.c_attn.weight", "transformer.h.1.attn.c_attn.weight"]
    assert report["layers"][0]["shape"] == [72, 24]


def test_runs_are_deterministic_and_the_controls_differ(tmp_path):
    tuned, calibration = _model_dir(tmp_path), _calibration(tmp_path)
    _, first = _antidote(tuned, calibration, tmp_path / "a")
    _, second = _antidote(tuned, calibration, tmp_path / "b")
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    assert first["mask_sha256"] == second["mask_sha256"]
    _, magnitude = _antidote(tuned, calibration, tmp_path / "m", "--mode", "magnitude")
    _, random_a = _antidote(tuned, calibration, tmp_path / "r1", "--mode", "random", "--seed", "1")
    _, random_b = _antidote(tuned, calibration, tmp_path / "r2", "--mode", "random", "--seed", "1")
    _, random_c = _antidote(tuned, calibration, tmp_path / "r3", "--mode", "random", "--seed", "2")
    assert random_a["mask_sha256"] == random_b["mask_sha256"] != random_c["mask_sha256"]
    assert len({first["mask_sha256"], magnitude["mask_sha256"], random_a["mask_sha256"]}) == 3
    assert first["pruned"] == magnitude["pruned"] == random_a["pruned"]  # the same ratio
    # Magnitude mode zeroes each row's largest |W|.
    original = load_pretrained(str(tuned)).model.layers[0].self_attn.q_proj.weight.detach().abs()
    zeroed = load_pretrained(str(tmp_path / "m")).model.layers[0].self_attn.q_proj.weight.detach() == 0
    assert torch.equal(zeroed, top_mask(original.double(), 3))


def test_activations_come_from_the_unpruned_model(tmp_path):
    tuned, calibration = _model_dir(tmp_path), _calibration(tmp_path)
    _, report = _antidote(tuned, calibration, tmp_path / "out", "--linears", "all")
    model = load_pretrained(str(tuned))
    modules = chosen_linears(model, "all")
    tokenizer = DecoderTokenizer.load(str(tuned))
    rows = [tokenizer.document(t, 32) for t in HARMFUL]
    from_unpruned = masks_for(model, modules, "wanda", 0.1, activation_norms(model, modules, rows), 0)
    digests = [l["mask_sha256"] for l in report["layers"]]
    from edgeguard_train.antidote import apply_masks, mask_digest
    assert digests == [mask_digest(from_unpruned[name]) for name, _ in modules]
    # Wanda's sequential variant (norms re-measured after pruning layer 0) gives layer 1 other masks: so the check above
    # tells the two apart.
    layer0 = [(n, m) for n, m in modules if ".layers.0." in n]
    apply_masks(layer0, {n: from_unpruned[n] for n, _ in layer0})
    sequential = masks_for(model, modules, "wanda", 0.1, activation_norms(model, modules, rows), 0)
    later = [n for n, _ in modules if ".layers.1." in n]
    assert any(not torch.equal(sequential[n], from_unpruned[n]) for n in later)


def test_bad_input_is_refused_with_a_message(tmp_path):
    tuned, calibration = _model_dir(tmp_path), _calibration(tmp_path)
    with pytest.raises(SystemExit, match="needs --calibration"):
        main(["antidote", "--model", str(tuned), "--output", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="not in"):
        _antidote(tuned, calibration, tmp_path / "o", "--dense-ratio", "1.5")
    with pytest.raises(SystemExit, match="context"):
        _antidote(tuned, calibration, tmp_path / "o", "--max-length", "64")
    with pytest.raises(SystemExit, match="gives text"):
        _antidote(tuned, calibration, tmp_path / "o", "--where", "label=safe")
    _antidote(tuned, calibration, tmp_path / "o")
    with pytest.raises(SystemExit, match="already holds"):
        _antidote(tuned, calibration, tmp_path / "o")
