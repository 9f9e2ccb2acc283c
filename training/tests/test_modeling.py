import json

import numpy as np
import pytest
import torch

from conftest import fixture_dir
from edgeguard_train.modeling_deberta import (PRESETS, DebertaV2Config, DebertaV2ForSequenceClassification,
                                              make_log_bucket_position, preset_config)
from edgeguard_train.safetensors_io import load_file, save_file

FIXTURES = ["tiny-buckets", "xsmall-2layer"]


def _cases(name):
    with open(fixture_dir(name) / "cases.json", encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_float64_matches_every_case(name):
    model = DebertaV2ForSequenceClassification.from_pretrained(str(fixture_dir(name)), dtype=torch.float64)
    worst = 0.0
    for case in _cases(name):
        # Beyond max_position_embeddings the expected values follow the Hugging Face bucket rule.
        expected = np.array(case.get("expected_logits_hf_bucket_rule", case["expected_logits"]))
        with torch.no_grad():
            logits = model(torch.tensor(case["input_ids"]), torch.tensor(case["attention_mask"])).numpy()
        worst = max(worst, float(np.abs(logits - expected).max()))
    assert worst <= 1e-9


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_pooled_and_hidden_states_match(name):
    model = DebertaV2ForSequenceClassification.from_pretrained(str(fixture_dir(name)), dtype=torch.float64)
    for case in _cases(name):
        if "expected_logits_hf_bucket_rule" in case:
            continue
        ids, mask = torch.tensor(case["input_ids"]), torch.tensor(case["attention_mask"])
        with torch.no_grad():
            hidden = model.deberta(ids, mask)
            pooled = model.pooler(hidden)
        assert np.abs(pooled.numpy() - np.array(case["expected_pooled_output"])).max() <= 1e-9
        for row, expected in enumerate(case["expected_last_hidden_state"]):
            got = hidden[row, : len(expected)].numpy()
            assert np.abs(got - np.array(expected)).max() <= 1e-9


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_float32_within_1e4(name):
    model = DebertaV2ForSequenceClassification.from_pretrained(str(fixture_dir(name)))
    for case in _cases(name):
        expected = np.array(case.get("expected_logits_hf_bucket_rule", case["expected_logits"]))
        with torch.no_grad():
            logits = model(torch.tensor(case["input_ids"]), torch.tensor(case["attention_mask"])).numpy()
        assert np.abs(logits - expected).max() <= 1e-4


@pytest.mark.parametrize("name", FIXTURES)
def test_bucket_rule_matches_the_fixture_hf_table(name):
    with open(fixture_dir(name) / "rel_buckets.json", encoding="utf-8") as f:
        table = json.load(f)
    config = DebertaV2Config.from_json_file(str(fixture_dir(name) / "config.json"))
    buckets = make_log_bucket_position(torch.tensor(table["distance"]), config.position_buckets, config.max_relative)
    assert buckets.tolist() == table["bucket_hf_rule"]


def test_save_and_load_round_trip_is_exact(tiny_model_dir, tmp_path):
    model = DebertaV2ForSequenceClassification.from_pretrained(str(tiny_model_dir))
    model.save_pretrained(str(tmp_path / "again"))
    a = load_file(str(tiny_model_dir / "model.safetensors"))
    b = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["model_type"] == "deberta-v2" and config["id2label"] == {"0": "safe", "1": "unsafe"}
    assert config["pos_att_type"] == "p2c|c2p" and config["type_vocab_size"] == 0


def test_safetensors_bf16_and_f16_read_as_float(tmp_path):
    values = np.array([[1.5, -2.25], [0.0, 3.0]], dtype=np.float32)
    save_file({"h": values.astype(np.float16)}, str(tmp_path / "a.safetensors"))
    assert np.array_equal(load_file(str(tmp_path / "a.safetensors"))["h"].astype(np.float32), values)
    bf16 = (values.view(np.uint32) >> 16).astype(np.uint16)
    header = json.dumps({"b": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}).encode()
    (tmp_path / "b.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bf16.tobytes())
    assert np.array_equal(load_file(str(tmp_path / "b.safetensors"))["b"], values)


def test_truncated_safetensors_is_rejected_with_the_path(tmp_path):
    save_file({"w": np.ones((4, 4), np.float32)}, str(tmp_path / "w.safetensors"))
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-10])
    with pytest.raises(ValueError, match="cut.safetensors"):
        load_file(str(tmp_path / "cut.safetensors"))


@pytest.mark.parametrize("field,value", [("share_att_key", False), ("position_biased_input", True),
                                         ("type_vocab_size", 2), ("position_buckets", 0), ("hidden_act", "relu")])
def test_non_v3_config_is_rejected(field, value):
    config = preset_config("edge", **{field: value})
    with pytest.raises(ValueError, match=field):
        DebertaV2ForSequenceClassification(config)


def test_presets_have_the_published_shapes():
    assert (PRESETS["large"]["num_hidden_layers"], PRESETS["large"]["hidden_size"]) == (24, 1024)
    assert (PRESETS["base"]["num_hidden_layers"], PRESETS["base"]["hidden_size"]) == (12, 768)
    assert (PRESETS["small"]["num_hidden_layers"], PRESETS["small"]["hidden_size"]) == (6, 768)
    assert (PRESETS["xsmall"]["num_hidden_layers"], PRESETS["xsmall"]["hidden_size"]) == (12, 384)
    model = DebertaV2ForSequenceClassification(preset_config("xsmall"))
    # DeBERTa-v3-xsmall: 22M backbone parameters + 48M embedding parameters.
    assert 69e6 < sum(p.numel() for p in model.parameters()) < 72e6
