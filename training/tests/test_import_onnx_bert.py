import inspect
import json
import zipfile

import numpy as np
import pytest
import torch

from edgeguard_train.__main__ import main
from edgeguard_train.dotnet_resources import AssemblyError, manifest_resources, package_resources
from edgeguard_train.modeling_bert import (BertConfig, BertForSequenceClassification, BertModel,
                                           RobertaForSequenceClassification, load_classifier)
from edgeguard_train.safetensors_io import load_file
from edgeguard_train.wordpiece import WordPieceSettings, WordPieceTokenizer

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(55)]


def _config(**overrides):
    values = dict(vocab_size=len(VOCAB), hidden_size=36, num_hidden_layers=2, num_attention_heads=3, intermediate_size=40,
                  max_position_embeddings=24, layer_norm_eps=1e-12)
    values.update(overrides)
    return BertConfig.from_dict(values)


def _random(model, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2 + (1.0 if "LayerNorm.weight" in name else 0.0))
    return model.eval()


class _Encoder(BertModel):
    """What Hugging Face exports for a sentence encoder: the last hidden state and the pooler output."""

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden = super().forward(input_ids, attention_mask, token_type_ids)
        return hidden, self.pooler(hidden)


def _export(module, path, outputs, token_types=True):
    ids = torch.tensor([[2, 9, 17, 3, 30, 3], [2, 11, 3, 0, 0, 0]])
    mask = (ids != 0).long()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if token_types else [])
    args = (ids, mask, torch.zeros_like(ids)) if token_types else (ids, mask)
    extra = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(module, args, str(path), input_names=names, output_names=outputs,
                      dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names}, opset_version=14,
                      do_constant_folding=True, **extra)


@pytest.fixture
def encoder_graph(tmp_path):
    """A BERT sentence encoder exported from the reference as transformers' BertModel is: HF names, unnamed MatMul weights."""
    model = _random(_Encoder(_config()))
    _export(model, tmp_path / "model.onnx", ["last_hidden_state", "pooler_output"])
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    return model, tmp_path


def test_import_names_and_transposes_every_weight(encoder_graph, capsys):
    model, source = encoder_graph
    out = source / "imported"
    assert main(["import-onnx-bert", "--onnx", str(source / "model.onnx"), "--vocab", str(source / "vocab.txt"),
                 "--output", str(out)]) == 0
    tensors = load_file(str(out / "model.safetensors"))
    expected = {k: v.numpy() for k, v in model.state_dict().items()}
    assert set(tensors) == set(expected)
    for name, value in expected.items():
        assert np.array_equal(tensors[name], value), name
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["BertModel"] and config["model_type"] == "bert"
    assert (config["num_attention_heads"], config["num_hidden_layers"], config["intermediate_size"]) == (3, 2, 40)
    assert (config["max_position_embeddings"], config["type_vocab_size"], config["layer_norm_eps"]) == (24, 2, 1e-12)
    assert config["hidden_act"] == "gelu" and config["pad_token_id"] == 0
    assert (out / "vocab.txt").read_text(encoding="utf-8").split("\n")[:5] == VOCAB[:5]
    tokenizer = json.loads((out / "tokenizer_config.json").read_text())
    assert tokenizer["do_lower_case"] is True and tokenizer["model_max_length"] == 24
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "new_head=none" in summary and "max_abs_hidden_diff=" in summary
    assert float(summary.split("max_abs_hidden_diff=")[1].split()[0]) <= 1e-5


def test_num_labels_adds_a_seeded_head_and_keeps_the_graphs_pooler(encoder_graph, capsys):
    model, source = encoder_graph
    common = ["import-onnx-bert", "--onnx", str(source / "model.onnx"), "--vocab", str(source / "vocab.txt"), "--num-labels", "3"]
    assert main(common + ["--output", str(source / "a")]) == 0
    assert "new_head=classifier " in capsys.readouterr().out
    assert main(common + ["--output", str(source / "b")]) == 0
    assert main(common + ["--output", str(source / "c"), "--seed", "1"]) == 0
    a, b, c = (load_file(str(source / d / "model.safetensors")) for d in "abc")
    assert np.array_equal(a["classifier.weight"], b["classifier.weight"])
    assert not np.array_equal(a["classifier.weight"], c["classifier.weight"])
    assert a["classifier.weight"].shape == (3, 36) and not a["classifier.bias"].any()
    assert 0.01 < a["classifier.weight"].std() < 0.03
    assert np.array_equal(a["bert.pooler.dense.weight"], model.pooler.dense.weight.detach().numpy())
    classifier = load_classifier(str(source / "a"))
    assert isinstance(classifier, BertForSequenceClassification) and classifier.config.num_labels == 3


def test_classifier_graph_imports_its_own_head(tmp_path, capsys):
    model = _random(BertForSequenceClassification(_config(id2label={0: "safe", 1: "unsafe"})))
    _export(model, tmp_path / "model.onnx", ["logits"])
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    assert main(["import-onnx-bert", "--onnx", str(tmp_path / "model.onnx"), "--vocab", str(tmp_path / "vocab.txt"),
                 "--output", str(tmp_path / "out")]) == 0
    assert "new_head=none" in capsys.readouterr().out
    tensors = load_file(str(tmp_path / "out" / "model.safetensors"))
    for name, value in model.state_dict().items():
        assert np.array_equal(tensors[name], value.numpy()), name


@pytest.mark.parametrize("act", ["gelu_new", "relu"])
def test_activation_is_read_from_the_graph(tmp_path, act):
    model = _random(_Encoder(_config(hidden_act=act)))
    _export(model, tmp_path / "model.onnx", ["last_hidden_state", "pooler_output"])
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    assert main(["import-onnx-bert", "--onnx", str(tmp_path / "model.onnx"), "--vocab", str(tmp_path / "vocab.txt"),
                 "--output", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "config.json").read_text())["hidden_act"] == act


def test_wrong_head_count_fails_the_parity_check_and_writes_nothing(encoder_graph, capsys):
    _, source = encoder_graph
    out = source / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["import-onnx-bert", "--onnx", str(source / "model.onnx"), "--vocab", str(source / "vocab.txt"),
                 "--output", str(out), "--num-heads", "6"]) == 1
    assert "PARITY-FAILED" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_vocabulary_of_another_size_is_refused(encoder_graph):
    _, source = encoder_graph
    (source / "short.txt").write_text("\n".join(VOCAB[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="vocab.txt has 59 pieces, the graph's word embeddings 60 rows"):
        main(["import-onnx-bert", "--onnx", str(source / "model.onnx"), "--vocab", str(source / "short.txt"),
              "--output", str(source / "out")])


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
def test_roberta_graph_is_refused(tmp_path):
    model = _random(RobertaForSequenceClassification(_config(model_type="roberta", type_vocab_size=1, pad_token_id=1)))
    _export(model, tmp_path / "model.onnx", ["logits"], token_types=False)
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="CumSum"):
        main(["import-onnx-bert", "--onnx", str(tmp_path / "model.onnx"), "--vocab", str(tmp_path / "vocab.txt"),
              "--output", str(tmp_path / "out")])


def test_missing_inputs_are_refused_with_the_path(tmp_path):
    with pytest.raises(SystemExit, match="--onnx needs --vocab"):
        main(["import-onnx-bert", "--onnx", str(tmp_path / "model.onnx"), "--output", str(tmp_path / "out")])
    with pytest.raises(SystemExit, match="absent.dll: no such file"):
        main(["import-onnx-bert", "--assembly", str(tmp_path / "absent.dll"), "--output", str(tmp_path / "out")])
    (tmp_path / "model.onnx").write_bytes(b"not a graph")
    (tmp_path / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(SystemExit, match="not an ONNX model"):
        main(["import-onnx-bert", "--onnx", str(tmp_path / "model.onnx"), "--vocab", str(tmp_path / "vocab.txt"),
              "--output", str(tmp_path / "out")])


def test_assembly_reader_refuses_files_that_are_not_dotnet_assemblies(tmp_path):
    (tmp_path / "a.dll").write_bytes(b"plain text, no MZ header")
    with pytest.raises(AssemblyError, match="a.dll: not a PE file"):
        manifest_resources(str(tmp_path / "a.dll"))
    (tmp_path / "b.dll").write_bytes(b"MZ" + b"\0" * 58 + (64).to_bytes(4, "little") + b"XX\0\0" + b"\0" * 64)
    with pytest.raises(AssemblyError, match="no PE signature"):
        manifest_resources(str(tmp_path / "b.dll"))
    with zipfile.ZipFile(tmp_path / "p.nupkg", "w") as package:
        package.writestr("lib/netstandard2.1/x.dll", b"not an assembly")
    with pytest.raises(AssemblyError, match=r"p.nupkg!lib/netstandard2.1/x.dll"):
        package_resources(str(tmp_path / "p.nupkg"))
    with pytest.raises(SystemExit, match="a.dll: not a PE file"):
        main(["import-onnx-bert", "--assembly", str(tmp_path / "a.dll"), "--output", str(tmp_path / "out")])


def test_wordpiece_splits_as_bert_does():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", "'", "hello", "world", "un", "##aff", "##able",
             "cafe", "s", "中", "sep", "[", "]"]
    tokenizer = WordPieceTokenizer(vocab)
    ids = {p: i for i, p in enumerate(vocab)}
    assert tokenizer.encode("Hello,\tUNAFFABLE  world!\u0000") == [ids[p] for p in ["hello", ",", "un", "##aff", "##able", "world", "!"]]
    assert tokenizer.encode("Hello, UNAFFABLE world!") == [ids[p] for p in ["hello", ",", "un", "##aff", "##able", "world", "!"]]
    assert tokenizer.encode("Caf\u00e9's CAFE\u0301 中文 xylophone") == [
        ids[p] for p in ["cafe", "'", "s", "cafe", "中", "[UNK]", "[UNK]"]]
    assert tokenizer.encode("[SEP]") == [ids["["], ids["sep"], ids["]"]]
    assert tokenizer.encode_pair("hello", "world", max_length=16) == ([2, 8, 3, 9, 3], [0, 0, 0, 1, 1])
    cased = WordPieceTokenizer(vocab, WordPieceSettings(lower_case=False))
    assert cased.encode("Hello hello") == [ids["[UNK]"], ids["hello"]]
