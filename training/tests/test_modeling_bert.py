import json
import math
import os

import numpy as np
import pytest
import torch

from conftest import REPO_ROOT
from edgeguard_train.bert_fixtures import FIXTURES
from edgeguard_train.bert_onnx_graph import graph_from_directory
from edgeguard_train.modeling_bert import (BertConfig, BertForSequenceClassification, BertModel,
                                           RobertaForSequenceClassification, load_classifier, roberta_position_ids)
from edgeguard_train.onnx_numpy import run_model
from edgeguard_train.safetensors_io import load_file, save_file

FIXTURE_ROOT = REPO_ROOT / "tests" / "fixtures"
FIXTURE_PATHS = [spec.path for spec in FIXTURES]


def _cases(path):
    with open(FIXTURE_ROOT / path / "cases.json", encoding="utf-8") as f:
        return json.load(f)


def _inputs(case):
    return torch.tensor(case["input_ids"]), torch.tensor(case["attention_mask"]), torch.tensor(case["token_type_ids"])


def _bert_config(**overrides):
    values = dict(vocab_size=60, hidden_size=20, num_hidden_layers=2, num_attention_heads=4, intermediate_size=36,
                  max_position_embeddings=16, id2label={0: "safe", 1: "unsafe"})
    values.update(overrides)
    return BertConfig.from_dict(values)


def _roberta_config(**overrides):
    return _bert_config(model_type="roberta", type_vocab_size=1, max_position_embeddings=18, layer_norm_eps=1e-5, **overrides)


def _random(model, seed=0):
    """Weights far from the HF init, so that every part of the model moves the outputs."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if "LayerNorm" in name else 0.3)
                    + (1.0 if "LayerNorm.weight" in name else 0.0))
    return model.eval()


# --- the golden fixtures --------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURE_PATHS)
def test_fixture_float64_reproduces_every_expected_value(path):
    model = load_classifier(str(FIXTURE_ROOT / path), torch.float64)
    for case in _cases(path):
        with torch.no_grad():
            hidden = model.encode(*_inputs(case))
            pooled = model.pool(hidden)
            logits = model.classify(pooled)
        assert np.abs(logits.numpy() - np.array(case["expected_logits"])).max() <= 1e-12
        assert np.abs(pooled.numpy() - np.array(case["expected_pooled_output"])).max() <= 1e-12
        for row, expected in enumerate(case["expected_last_hidden_state"]):
            assert np.abs(hidden[row, :len(expected)].numpy() - np.array(expected)).max() <= 1e-12


@pytest.mark.parametrize("path", FIXTURE_PATHS)
def test_fixture_float32_is_within_1e4_of_float64_and_matches_its_column(path):
    model = load_classifier(str(FIXTURE_ROOT / path))
    for case in _cases(path):
        with torch.no_grad():
            logits = model(*_inputs(case)).numpy()
        assert np.abs(logits - np.array(case["expected_logits_f32"])).max() <= 1e-6
        assert np.abs(logits - np.array(case["expected_logits"])).max() <= 1e-4


@pytest.mark.parametrize("path", FIXTURE_PATHS)
def test_operator_by_operator_onnx_graph_gives_the_fixture_values(path):
    """A second implementation (ONNX operators in the numpy evaluator) agrees with the reference's expected values."""
    graph = graph_from_directory(str(FIXTURE_ROOT / path))
    names = {i.name for i in graph.graph.input}
    for case in _cases(path):
        feeds = {k: np.array(case[k], dtype=np.int64) for k in ("input_ids", "attention_mask", "token_type_ids") if k in names}
        out = run_model(graph, feeds)
        assert np.abs(out["logits"] - np.array(case["expected_logits"])).max() <= 1e-5
        assert np.abs(out["pooled_output"] - np.array(case["expected_pooled_output"])).max() <= 1e-5
        for row, expected in enumerate(case["expected_last_hidden_state"]):
            assert np.abs(out["last_hidden_state"][row, :len(expected)] - np.array(expected)).max() <= 1e-5


def test_generator_rewrites_the_committed_fixtures(tmp_path):
    from edgeguard_train.__main__ import main

    assert main(["make-fixture", "--output", str(tmp_path)]) == 0
    for path in FIXTURE_PATHS:
        for name in ("config.json", "model.safetensors"):
            assert (tmp_path / path / name).read_bytes() == (FIXTURE_ROOT / path / name).read_bytes(), f"{path}/{name}"
        new, committed = _cases(path), json.loads((tmp_path / path / "cases.json").read_text())
        assert [c["name"] for c in new] == [c["name"] for c in committed]
        for a, b in zip(new, committed):
            for key in ("input_ids", "attention_mask", "token_type_ids", "valid_lengths"):
                assert a[key] == b[key]
            assert np.abs(np.array(a["expected_logits"]) - np.array(b["expected_logits"])).max() <= 1e-12
            # float32 sums may round differently on another BLAS.
            assert np.abs(np.array(a["expected_logits_f32"]) - np.array(b["expected_logits_f32"])).max() <= 1e-6


def test_fixtures_cover_the_shapes_and_inputs_they_promise():
    heads = {}
    for path in FIXTURE_PATHS:
        config = json.loads((FIXTURE_ROOT / path / "config.json").read_text())
        heads[path] = config["hidden_size"] // config["num_attention_heads"]
        cases = {c["name"]: c for c in _cases(path)}
        roberta = path.startswith("roberta/")
        longest = config["max_position_embeddings"] - (2 if roberta else 0)
        assert any(len(c["input_ids"][0]) == longest for c in cases.values())
        assert any(len(c["input_ids"][0]) == 1 for c in cases.values())
        assert any(min(c["valid_lengths"]) < len(c["input_ids"][0]) for c in cases.values())
        if roberta:
            pair = cases["pair"]["input_ids"][0]
            assert pair[0] == 0 and pair[-1] == 2 and [2, 2] == pair[6:8]
        else:
            assert any(1 in row for row in cases["pair_token_types"]["token_type_ids"])
        assert (FIXTURE_ROOT / path / "model.safetensors").stat().st_size + (FIXTURE_ROOT / path / "cases.json").stat().st_size < 1 << 20
    assert {12, 5} <= set(heads.values())


# --- the architecture ------------------------------------------------------------------------------


def test_shapes_of_hidden_states_pooled_output_and_logits():
    bert = _random(BertForSequenceClassification(_bert_config(id2label={0: "a", 1: "b", 2: "c"})))
    roberta = _random(RobertaForSequenceClassification(_roberta_config()))
    ids = torch.randint(5, 60, (3, 7))
    for model in (bert, roberta):
        with torch.no_grad():
            assert tuple(model.encode(ids).shape) == (3, 7, 20)
            assert tuple(model.pooled(ids).shape) == (3, 20)
    with torch.no_grad():
        assert tuple(bert(ids).shape) == (3, 3)
        assert tuple(roberta(ids).shape) == (3, 2)


def _numpy_layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def test_bert_encoder_equals_a_numpy_implementation_of_the_paper():
    """Post-LN BERT written again in numpy from the formulas: embeddings, masked attention with head size 5, GELU FFN."""
    config = _bert_config()
    model = _random(BertForSequenceClassification(config)).double()
    w = {k: v.numpy() for k, v in model.state_dict().items()}
    ids = np.array([[2, 9, 17, 33, 3, 40, 3], [2, 11, 3, 0, 0, 0, 0]])
    mask = (ids != 0).astype(np.float64)
    types = np.array([[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0, 0]])
    e = "bert.embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "position_embeddings.weight"][np.arange(7)] + w[e + "token_type_embeddings.weight"][types]
    x = _numpy_layer_norm(x, w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], config.layer_norm_eps)
    erf = np.vectorize(math.erf)
    for n in range(config.num_hidden_layers):
        p = f"bert.encoder.layer.{n}."

        def dense(h, name):
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def heads(h):
            return h.reshape(2, 7, 4, 5).transpose(0, 2, 1, 3)

        q, k, v = (heads(dense(x, "attention.self." + m)) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(5) + np.where(mask[:, None, None, :] > 0, 0.0, -1e30)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(2, 7, 20)
        x = _numpy_layer_norm(dense(context, "attention.output.dense") + x, w[p + "attention.output.LayerNorm.weight"],
                              w[p + "attention.output.LayerNorm.bias"], config.layer_norm_eps)
        inner = dense(x, "intermediate.dense")
        inner = 0.5 * inner * (1.0 + erf(inner / math.sqrt(2.0)))
        x = _numpy_layer_norm(dense(inner, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                              w[p + "output.LayerNorm.bias"], config.layer_norm_eps)
    pooled = np.tanh(x[:, 0] @ w["bert.pooler.dense.weight"].T + w["bert.pooler.dense.bias"])
    logits = pooled @ w["classifier.weight"].T + w["classifier.bias"]
    with torch.no_grad():
        hidden = model.encode(torch.tensor(ids), torch.tensor(mask).long(), torch.tensor(types)).numpy()
        got = model(torch.tensor(ids), torch.tensor(mask).long(), torch.tensor(types)).numpy()
    assert np.abs(hidden[0] - x[0]).max() <= 1e-12 and np.abs(hidden[1, :3] - x[1, :3]).max() <= 1e-12
    assert np.abs(got - logits).max() <= 1e-12


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_padding_changes_nothing_at_valid_positions(family):
    config = _bert_config() if family == "bert" else _roberta_config()
    model = _random((BertForSequenceClassification if family == "bert" else RobertaForSequenceClassification)(config)).double()
    pad = config.pad_token_id
    row = [0 if family == "roberta" else 2, 17, 23, 9, 2 if family == "roberta" else 3]
    padded = torch.tensor([row + [pad] * 4])
    mask = torch.tensor([[1] * 5 + [0] * 4])
    with torch.no_grad():
        alone = model.encode(torch.tensor([row]))
        both = model.encode(padded, mask)
        assert torch.abs(both[:, :5] - alone).max() <= 1e-12
        assert torch.abs(model(padded, mask) - model(torch.tensor([row]))).max() <= 1e-12
        # Without the mask the padding would be attended to: the test above could fail.
        assert torch.abs(model(padded) - model(torch.tensor([row]))).max() > 1e-3


def test_roberta_positions_start_after_the_pad_id_and_skip_padding():
    ids = torch.tensor([[0, 7, 8, 2, 1, 1], [0, 2, 1, 1, 1, 1]])
    assert roberta_position_ids(ids, 1).tolist() == [[2, 3, 4, 5, 1, 1], [2, 3, 1, 1, 1, 1]]
    assert roberta_position_ids(torch.tensor([[5, 6, 0, 0]]), 0).tolist() == [[1, 2, 0, 0]]


def test_roberta_embeds_those_positions_and_bert_counts_from_zero():
    roberta = _random(RobertaForSequenceClassification(_roberta_config())).double()
    bert = _random(BertForSequenceClassification(_bert_config())).double()
    ids = torch.tensor([[0, 7, 8, 9, 2]])
    with torch.no_grad():
        assert torch.equal(roberta.encode(ids), roberta.encode(ids, position_ids=torch.tensor([[2, 3, 4, 5, 6]])))
        assert torch.abs(roberta.encode(ids) - roberta.encode(ids, position_ids=torch.arange(5)[None])).max() > 1e-3
        assert torch.equal(bert.encode(ids), bert.encode(ids, position_ids=torch.arange(5)[None]))


def test_bert_token_types_select_their_embedding_row():
    model = _random(BertForSequenceClassification(_bert_config())).double()
    ids = torch.tensor([[2, 9, 3, 11, 3]])
    with torch.no_grad():
        assert torch.abs(model(ids, None, torch.tensor([[0, 0, 0, 1, 1]])) - model(ids)).max() > 1e-3


def test_bert_pooler_and_classifier_are_tanh_dense_on_token_0_then_linear():
    model = _random(BertForSequenceClassification(_bert_config())).double()
    ids = torch.tensor([[2, 9, 17, 3]])
    with torch.no_grad():
        hidden = model.encode(ids)
        pooled = torch.tanh(hidden[:, 0] @ model.bert.pooler.dense.weight.T + model.bert.pooler.dense.bias)
        assert torch.abs(model.pooled(ids) - pooled).max() <= 1e-14
        assert torch.abs(model(ids) - (pooled @ model.classifier.weight.T + model.classifier.bias)).max() <= 1e-14


def test_roberta_head_is_dense_tanh_on_token_0_then_out_proj_without_a_pooler():
    model = _random(RobertaForSequenceClassification(_roberta_config())).double()
    assert model.roberta.pooler is None and not any(k.startswith("roberta.pooler") for k in model.state_dict())
    ids = torch.tensor([[0, 9, 17, 2]])
    head = model.classifier
    with torch.no_grad():
        hidden = model.encode(ids)
        pooled = torch.tanh(hidden[:, 0] @ head.dense.weight.T + head.dense.bias)
        assert torch.abs(model.pooled(ids) - pooled).max() <= 1e-14
        assert torch.abs(model(ids) - (pooled @ head.out_proj.weight.T + head.out_proj.bias)).max() <= 1e-14


@pytest.mark.parametrize("act", ["gelu_new", "gelu_pytorch_tanh", "relu"])
def test_other_supported_activations_change_the_output(act):
    base = _random(BertForSequenceClassification(_bert_config()))
    other = BertForSequenceClassification(_bert_config(hidden_act=act))
    other.load_state_dict(base.state_dict())
    ids = torch.tensor([[2, 9, 17, 3]])
    with torch.no_grad():
        assert torch.abs(other.eval()(ids) - base(ids)).max() > 1e-6


def test_float32_and_float64_agree_closely():
    model = _random(BertForSequenceClassification(_bert_config()))
    ids = torch.randint(5, 60, (2, 9))
    with torch.no_grad():
        f32 = model(ids).double()
        f64 = model.double()(ids)
    assert torch.abs(f32 - f64).max() <= 1e-5


# --- files and configs -----------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_save_and_load_round_trip_is_exact(tmp_path, family):
    config = _bert_config() if family == "bert" else _roberta_config()
    config.extra["finetuning_task"] = "guard"
    model = _random((BertForSequenceClassification if family == "bert" else RobertaForSequenceClassification)(config))
    model.save_pretrained(str(tmp_path))
    again = load_classifier(str(tmp_path))
    assert type(again) is type(model)
    a, b = model.state_dict(), again.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == family and saved["finetuning_task"] == "guard"
    assert saved["id2label"] == {"0": "safe", "1": "unsafe"} and saved["label2id"] == {"safe": 0, "unsafe": 1}
    assert saved["architectures"] == [f"{'Bert' if family == 'bert' else 'Roberta'}ForSequenceClassification"]
    names = set(load_file(str(tmp_path / "model.safetensors")))
    prefix = "bert." if family == "bert" else "roberta."
    assert f"{prefix}encoder.layer.1.attention.self.query.weight" in names
    assert ("bert.pooler.dense.weight" in names) == (family == "bert")
    assert ({"classifier.dense.weight", "classifier.out_proj.bias"} <= names) == (family == "roberta")


def test_load_ignores_buffers_and_pretraining_heads_but_names_missing_tensors(tmp_path):
    model = _random(BertForSequenceClassification(_bert_config()))
    model.save_pretrained(str(tmp_path))
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["bert.embeddings.position_ids"] = np.arange(16)[None].astype(np.int64)
    tensors["cls.predictions.bias"] = np.zeros(60, np.float32)
    save_file(tensors, str(tmp_path / "model.safetensors"))
    load_classifier(str(tmp_path))
    del tensors["bert.encoder.layer.1.output.dense.bias"]
    save_file(tensors, str(tmp_path / "model.safetensors"))
    with pytest.raises(ValueError, match="bert.encoder.layer.1.output.dense.bias"):
        load_classifier(str(tmp_path))


def test_base_model_loads_with_and_without_a_prefix_and_pooler(tmp_path):
    model = _random(BertForSequenceClassification(_bert_config()))
    model.save_pretrained(str(tmp_path))
    base = BertModel.from_pretrained(str(tmp_path))
    ids = torch.tensor([[2, 9, 3]])
    with torch.no_grad():
        assert torch.equal(base(ids), model.encode(ids)) and base.pooler is not None
    tensors = {k[len("bert."):]: v for k, v in load_file(str(tmp_path / "model.safetensors")).items()
               if k.startswith("bert.") and not k.startswith("bert.pooler")}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    bare = BertModel.from_pretrained(str(tmp_path))
    assert bare.pooler is None
    with pytest.raises(ValueError, match="no pooler"):
        bare.pooled(ids)


def test_roberta_config_defaults_are_robertas():
    config = BertConfig.from_dict({"model_type": "xlm-roberta"})
    assert (config.vocab_size, config.pad_token_id, config.bos_token_id, config.eos_token_id) == (50265, 1, 0, 2)
    assert config.max_sequence_length == config.max_position_embeddings - 2
    assert BertConfig.from_dict({"num_labels": 3}).num_labels == 3


@pytest.mark.parametrize("field,value", [
    ("hidden_act", "silu"), ("position_embedding_type", "relative_key"), ("is_decoder", True),
    ("add_cross_attention", True), ("num_attention_heads", 3), ("type_vocab_size", 0), ("model_type", "deberta-v2"),
    ("layer_norm_eps", 0.0), ("embedding_size", 8), ("pad_token_id", 60)])
def test_unsupported_config_is_refused_naming_the_field(field, value):
    config = _bert_config(**{field: value})
    with pytest.raises(ValueError, match=field):
        BertForSequenceClassification(config)


def test_roberta_without_room_for_positions_is_refused():
    with pytest.raises(ValueError, match="max_position_embeddings"):
        RobertaForSequenceClassification(BertConfig.from_dict({"model_type": "roberta", "max_position_embeddings": 2}))


def test_classifier_of_the_other_family_refuses_the_directory(tmp_path):
    _random(RobertaForSequenceClassification(_roberta_config())).save_pretrained(str(tmp_path))
    with pytest.raises(ValueError, match="model_type 'roberta'"):
        BertForSequenceClassification.from_pretrained(str(tmp_path))
    assert os.path.isfile(tmp_path / "config.json")
