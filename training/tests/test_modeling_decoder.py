"""The decoder reference (modeling_decoder) and its golden fixtures (decoder_fixtures)."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT
from edgeguard_train.decoder_fixtures import FIXTURES, build_cases, seeded_model, write_fixture
from edgeguard_train.modeling_decoder import (ConfigError, DecoderConfig, DecoderLM, greedy, load_pretrained,
                                              rope_inverse_frequencies, save_pretrained)

SPECS = {spec.name: spec for spec in FIXTURES}
FIXTURE_ROOT = REPO_ROOT / "tests" / "fixtures" / "decoders"


def _model(name: str) -> DecoderLM:
    return seeded_model(SPECS[name])


@pytest.mark.parametrize("name", sorted(SPECS))
def test_cached_decoding_equals_uncached(name):
    model = _model(name)
    ids = torch.tensor([[5, 9, 17, 3, 40, 8, 11]])
    with torch.no_grad():
        full = model(ids)[0]
        cache = model.new_cache()
        rows = [model(ids[:, :3], cache=cache)[0]]
        for t in range(3, ids.shape[1]):
            rows.append(model(ids[:, t:t + 1], cache=cache)[0])
    assert torch.allclose(torch.cat(rows), full, atol=1e-10)


@pytest.mark.parametrize("name", ["llama-gqa-tied", "qwen2-gqa-bias-untied", "gpt2-long"])
def test_padded_rows_equal_rows_alone(name):
    model = _model(name)
    ids = torch.tensor([[5, 9, 17, 3], [7, 8, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        batch = model(ids, mask)
        alone = model(ids[1:, :2])
    assert torch.allclose(batch[1, :2], alone[0], atol=1e-12)


def test_grouped_query_attention_equals_multi_head_with_repeated_kv_weights():
    gqa = _model("llama-gqa-tied")
    config = dict(SPECS["llama-gqa-tied"].config, num_key_value_heads=4)
    mha = DecoderLM(DecoderConfig.from_dict(config)).double().eval()
    state = gqa.state_dict()
    head = gqa.config.head_size
    for name in list(state):
        if name.endswith(("k_proj.weight", "v_proj.weight")):
            # KV head g serves query heads 2g and 2g+1
            state[name] = state[name].view(2, head, -1).repeat_interleave(2, dim=0).reshape(4 * head, -1)
    mha.load_state_dict(state)
    ids = torch.tensor([[3, 14, 15, 92, 65]])
    with torch.no_grad():
        assert torch.allclose(gqa(ids), mha(ids), atol=1e-12)


def test_tied_head_is_the_embedding_table_and_is_not_saved(tmp_path):
    model = _model("llama-gqa-tied")
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert "lm_head.weight" not in model.state_dict_hf()
    untied = _model("llama-one-kv-head-untied")
    assert "lm_head.weight" in untied.state_dict_hf()
    assert not torch.equal(untied.lm_head.weight, untied.model.embed_tokens.weight)


def test_qwen2_has_qkv_biases_and_they_change_the_logits():
    model = _model("qwen2-gqa-bias-untied")
    attn = model.model.layers[0].self_attn
    assert attn.q_proj.bias is not None and attn.k_proj.bias is not None and attn.v_proj.bias is not None
    assert attn.o_proj.bias is None
    ids = torch.tensor([[4, 8, 15, 16, 23]])
    with torch.no_grad():
        before = model(ids)
        for layer in model.model.layers:
            layer.self_attn.q_proj.bias.zero_()
        assert (model(ids) - before).abs().max() > 1e-3


def test_llama3_rope_scaling_rescales_low_and_blends_middle_frequencies():
    spec = SPECS["llama3-rope-long"]
    scaled = rope_inverse_frequencies(DecoderConfig.from_dict(spec.config))
    plain = rope_inverse_frequencies(DecoderConfig.from_dict(dict(spec.config, rope_scaling=None)))
    wavelen = 2 * math.pi / plain
    high = wavelen < 64 / 4
    low = wavelen > 64 / 1
    middle = ~high & ~low
    assert high.any() and low.any() and middle.any()
    assert torch.equal(scaled[high], plain[high])
    assert torch.allclose(scaled[low], plain[low] / 8)
    # blended values lie strictly between the two
    assert ((scaled[middle] < plain[middle]) & (scaled[middle] > plain[middle] / 8)).all()


def test_rope_uses_rotate_half_pairs():
    # position 1 rotates dimension i with dimension i + head/2 by angle inv_freq[i]
    config = DecoderConfig.from_dict(SPECS["llama-gqa-tied"].config)
    model = DecoderLM(config).double()
    cos, sin = model.model.rotary_emb(torch.tensor([1]), torch.float64)
    inv = rope_inverse_frequencies(config).double()
    assert torch.allclose(cos[0, :4], torch.cos(inv)) and torch.allclose(cos[0, 4:], torch.cos(inv))
    assert torch.allclose(sin[0, :4], torch.sin(inv))


@pytest.mark.parametrize("change,field", [
    (dict(rope_scaling=dict(rope_type="yarn", factor=2.0)), "rope_scaling.rope_type"),
    (dict(rope_scaling=dict(type="linear", factor=2.0)), "rope_scaling.rope_type"),
    (dict(hidden_act="gelu"), "hidden_act"),
    (dict(num_key_value_heads=3), "num_key_value_heads"),
    (dict(attention_bias=True), "attention_bias"),
])
def test_unsupported_llama_variants_are_refused_naming_the_field(change, field):
    with pytest.raises(ConfigError, match=field):
        DecoderConfig.from_dict(dict(SPECS["llama-gqa-tied"].config, **change))


def test_unsupported_gpt2_and_qwen2_variants_are_refused():
    with pytest.raises(ConfigError, match="activation_function"):
        DecoderConfig.from_dict(dict(SPECS["gpt2-long"].config, activation_function="relu"))
    with pytest.raises(ConfigError, match="use_sliding_window"):
        DecoderConfig.from_dict(dict(SPECS["qwen2-gqa-bias-untied"].config, use_sliding_window=True))


def test_transformers5_rope_parameters_mean_what_rope_theta_and_rope_scaling_mean():
    spec = SPECS["llama3-rope-long"]
    v5 = {k: v for k, v in spec.config.items() if k not in ("rope_theta", "rope_scaling")}
    v5["rope_parameters"] = dict(spec.config["rope_scaling"], rope_theta=spec.config["rope_theta"])
    assert torch.equal(rope_inverse_frequencies(DecoderConfig.from_dict(v5)),
                       rope_inverse_frequencies(DecoderConfig.from_dict(spec.config)))
    per_layer = dict(v5, rope_parameters={"full_attention": {"rope_theta": 1e4}})
    with pytest.raises(ConfigError, match="rope_parameters"):
        DecoderConfig.from_dict(per_layer)


def test_gpt2_conv1d_weights_are_stored_in_out():
    model = _model("gpt2-long")
    attn = model.transformer.h[0].attn
    assert tuple(attn.c_attn.weight.shape) == (32, 96)
    assert tuple(model.transformer.h[0].mlp.c_fc.weight.shape) == (32, 128)


@pytest.mark.parametrize("bare", [False, True])
def test_gpt2_loads_both_naming_forms(tmp_path, bare):
    model = _model("gpt2-bare-names-odd-heads")
    save_pretrained(str(tmp_path), model.float(), bare_gpt2_names=bare)
    loaded = load_pretrained(str(tmp_path), torch.float64)
    ids = torch.tensor([[3, 4, 5, 6]])
    with torch.no_grad():
        assert torch.allclose(loaded(ids), model.float().double()(ids), atol=1e-12)


def test_save_and_load_round_trip_an_untied_llama(tmp_path):
    model = _model("llama-one-kv-head-untied").float()
    save_pretrained(str(tmp_path), model)
    loaded = load_pretrained(str(tmp_path))
    ids = torch.tensor([[10, 20, 30]])
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))


def test_context_and_vocabulary_limits_are_refused():
    model = _model("llama-gqa-tied")
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 65, dtype=torch.long))
    with pytest.raises(ValueError, match="token ids"):
        model(torch.tensor([[160]]))
    with pytest.raises(ValueError, match="empty"):
        greedy(model, [], 3)


def test_greedy_takes_the_lowest_id_on_ties():
    model = _model("llama-gqa-tied")
    with torch.no_grad():
        model.lm_head.weight.zero_()  # tied: zero embeddings make every logit 0
    tokens, margins = greedy(model, [5], 3)
    assert tokens == [0, 0, 0] and margins == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", sorted(SPECS))
def test_committed_fixtures_are_what_the_generator_writes(tmp_path, name):
    write_fixture(SPECS[name], str(tmp_path))
    for file in ("config.json", "model.safetensors", "cases.json"):
        written = (tmp_path / "decoders" / name / file).read_bytes()
        committed = (FIXTURE_ROOT / name / file).read_bytes()
        if file == "cases.json":
            # float64 BLAS may differ in the last digits between machines
            a, b = json.loads(written), json.loads(committed)
            for x, y in zip(a, b):
                assert x.keys() == y.keys()
                if "expected_logits" in x:
                    assert np.abs(np.array(x["expected_logits"]) - np.array(y["expected_logits"])).max() <= 2e-6
                else:
                    assert x == y
        else:
            assert written == committed, file


def test_fixture_cases_have_the_documented_layout():
    cases = json.loads((FIXTURE_ROOT / "llama-gqa-tied" / "cases.json").read_text())
    logits = [c for c in cases if "expected_logits" in c]
    greedy_cases = [c for c in cases if "expected_greedy_tokens" in c]
    assert logits and greedy_cases
    for c in logits:
        b, t = len(c["input_ids"]), len(c["input_ids"][0])
        assert np.array(c["expected_logits"]).shape == (b, t, 160)
        for row, mask, n in zip(c["input_ids"], c["attention_mask"], c["valid_lengths"]):
            assert sum(mask) == n and all(v == 0 for v in row[n:])
