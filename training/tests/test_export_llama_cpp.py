import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, TRAINING, run_env, tiny_decoder_dir
from edgeguard_train.export_llama_cpp import (TOKEN_CONTROL, TOKEN_NORMAL, TOKEN_UNUSED, ExportError, export_llama_cpp,
                                              hf_to_llama_cpp_rows, llama_cpp_to_hf_rows, read_gguf)
from edgeguard_train.safetensors_io import load_file

SMOLLM_TOKENIZER = REPO_ROOT / "tests" / "data" / "tokenizers" / "smollm-small"


def _untied_smollm_dir(path: Path) -> Path:
    """A 2-layer Llama with an untied head, one KV head, and a vocabulary larger than SmolLM's 6,003-token tokenizer."""
    import torch

    from edgeguard_train.modeling_decoder import DecoderConfig, DecoderLM, save_pretrained

    torch.manual_seed(5)
    config = DecoderConfig.from_dict({"model_type": "llama", "vocab_size": 6016, "hidden_size": 32, "intermediate_size": 40,
                                      "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
                                      "max_position_embeddings": 128, "tie_word_embeddings": False, "rope_theta": 500.0,
                                      "rms_norm_eps": 1e-6})
    save_pretrained(str(path), DecoderLM(config))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(SMOLLM_TOKENIZER / name, path / name)
    return path


def _weights(model_dir: Path) -> dict:
    return load_file(str(model_dir / "model.safetensors"))


def test_rows_move_from_rotate_half_to_adjacent_pairs() -> None:
    heads, head_dim = 3, 8
    weight = np.arange(heads * head_dim * 2, dtype=np.float32).reshape(heads * head_dim, 2)
    moved = hf_to_llama_cpp_rows(weight, heads)
    for h in range(heads):
        for i in range(head_dim // 2):
            np.testing.assert_array_equal(moved[h * head_dim + 2 * i], weight[h * head_dim + i])
            np.testing.assert_array_equal(moved[h * head_dim + 2 * i + 1], weight[h * head_dim + head_dim // 2 + i])
    np.testing.assert_array_equal(llama_cpp_to_hf_rows(moved, heads), weight)
    with pytest.raises(ExportError, match="do not split"):
        hf_to_llama_cpp_rows(np.zeros((10, 4), np.float32), 3)


def _rope_rotate_half(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """Hugging Face's RoPE on [T, head_dim]: feature i rotates with i + head_dim / 2."""
    half = x.shape[-1] // 2
    angles = positions[:, None] * theta ** (-np.arange(half) * 2.0 / x.shape[-1])[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    a, b = x[:, :half], x[:, half:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def _rope_adjacent_pairs(x: np.ndarray, positions: np.ndarray, theta: float) -> np.ndarray:
    """llama.cpp's RoPE for the llama architecture on [T, head_dim]: feature 2i rotates with 2i + 1."""
    half = x.shape[-1] // 2
    angles = positions[:, None] * theta ** (-np.arange(half) * 2.0 / x.shape[-1])[None, :]
    cos, sin = np.cos(angles), np.sin(angles)
    a, b = x[:, 0::2], x[:, 1::2]
    out = np.empty_like(x)
    out[:, 0::2] = a * cos - b * sin
    out[:, 1::2] = b * cos + a * sin
    return out


def test_attention_scores_are_unchanged_by_the_export(tmp_path: Path) -> None:
    model_dir = _untied_smollm_dir(tmp_path / "model")
    gguf = read_gguf(str(export_llama_cpp(str(model_dir), str(tmp_path / "m.gguf"))["output"]))
    hf = _weights(model_dir)
    heads, kv_heads, head_dim, theta = 4, 1, 8, 500.0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 32))
    positions = np.arange(6, dtype=np.float64)
    for layer in range(2):
        q_hf, k_hf = x @ hf[f"model.layers.{layer}.self_attn.q_proj.weight"].T, x @ hf[f"model.layers.{layer}.self_attn.k_proj.weight"].T
        q_cpp, k_cpp = x @ gguf.tensors[f"blk.{layer}.attn_q.weight"].data.T, x @ gguf.tensors[f"blk.{layer}.attn_k.weight"].data.T
        for h in range(heads):
            g = h // (heads // kv_heads)
            cols, kv_cols = slice(h * head_dim, (h + 1) * head_dim), slice(g * head_dim, (g + 1) * head_dim)
            scores_hf = _rope_rotate_half(q_hf[:, cols], positions, theta) @ _rope_rotate_half(k_hf[:, kv_cols], positions, theta).T
            scores_cpp = _rope_adjacent_pairs(q_cpp[:, cols], positions, theta) @ _rope_adjacent_pairs(k_cpp[:, kv_cols], positions, theta).T
            np.testing.assert_allclose(scores_cpp, scores_hf, rtol=1e-5, atol=1e-6)


def test_tied_model_exports_llama_keys_names_and_shapes(tmp_path: Path) -> None:
    model_dir = tiny_decoder_dir(tmp_path / "model", seed=1)
    fields = export_llama_cpp(str(model_dir), str(tmp_path / "tiny.gguf"))
    assert fields["tied"] is True and fields["padded_tokens"] == 0 and fields["pre"] == "gpt-2"
    gguf = read_gguf(str(tmp_path / "tiny.gguf"))
    meta = gguf.metadata
    assert gguf.version == 3
    assert meta["general.architecture"] == "llama"
    assert {k: meta[f"llama.{k}"] for k in ("context_length", "embedding_length", "block_count", "feed_forward_length",
                                             "attention.head_count", "attention.head_count_kv", "rope.dimension_count",
                                             "vocab_size")} == {
        "context_length": 64, "embedding_length": 32, "block_count": 2, "feed_forward_length": 48,
        "attention.head_count": 4, "attention.head_count_kv": 2, "rope.dimension_count": 8, "vocab_size": 512}
    assert meta["llama.rope.freq_base"] == pytest.approx(10000.0)
    assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6, rel=1e-3)
    assert "llama.attention.key_length" not in meta

    tokenizer = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "gpt-2"
    assert len(meta["tokenizer.ggml.tokens"]) == 512 == len(meta["tokenizer.ggml.token_type"])
    assert meta["tokenizer.ggml.tokens"][:3] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert meta["tokenizer.ggml.token_type"][:4] == [TOKEN_CONTROL, TOKEN_CONTROL, TOKEN_CONTROL, TOKEN_NORMAL]
    assert meta["tokenizer.ggml.merges"] == tokenizer["model"]["merges"]
    assert meta["tokenizer.ggml.bos_token_id"] == 0 and meta["tokenizer.ggml.eos_token_id"] == 0
    assert meta["tokenizer.ggml.add_bos_token"] is False

    layer_names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
    expected = {"token_embd.weight", "output_norm.weight"} | {f"blk.{i}.{n}.weight" for i in range(2) for n in layer_names}
    assert set(gguf.tensors) == expected
    assert all(t.type_name == "F32" for t in gguf.tensors.values())
    # GGUF lists dimensions innermost first.
    dims = {name: gguf.tensors[name].dims for name in ("token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight",
                                                        "blk.0.ffn_down.weight", "blk.1.attn_norm.weight")}
    assert dims == {"token_embd.weight": (32, 512), "blk.0.attn_q.weight": (32, 32), "blk.0.attn_k.weight": (32, 16),
                    "blk.0.ffn_down.weight": (48, 32), "blk.1.attn_norm.weight": (32,)}

    hf = _weights(model_dir)
    np.testing.assert_array_equal(gguf.tensors["token_embd.weight"].data, hf["model.embed_tokens.weight"])
    np.testing.assert_array_equal(gguf.tensors["output_norm.weight"].data, hf["model.norm.weight"])
    for i in range(2):
        np.testing.assert_array_equal(llama_cpp_to_hf_rows(gguf.tensors[f"blk.{i}.attn_q.weight"].data, 4),
                                      hf[f"model.layers.{i}.self_attn.q_proj.weight"])
        np.testing.assert_array_equal(llama_cpp_to_hf_rows(gguf.tensors[f"blk.{i}.attn_k.weight"].data, 2),
                                      hf[f"model.layers.{i}.self_attn.k_proj.weight"])
        assert not np.array_equal(gguf.tensors[f"blk.{i}.attn_q.weight"].data, hf[f"model.layers.{i}.self_attn.q_proj.weight"])
        np.testing.assert_array_equal(gguf.tensors[f"blk.{i}.attn_v.weight"].data, hf[f"model.layers.{i}.self_attn.v_proj.weight"])
        np.testing.assert_array_equal(gguf.tensors[f"blk.{i}.ffn_down.weight"].data, hf[f"model.layers.{i}.mlp.down_proj.weight"])


def test_untied_model_writes_output_and_pads_the_vocabulary(tmp_path: Path) -> None:
    model_dir = _untied_smollm_dir(tmp_path / "model")
    fields = export_llama_cpp(str(model_dir), str(tmp_path / "m.gguf"))
    assert fields["pre"] == "smollm" and fields["padded_tokens"] == 6016 - 6003
    gguf = read_gguf(str(tmp_path / "m.gguf"))
    meta = gguf.metadata
    assert meta["tokenizer.ggml.pre"] == "smollm"
    assert meta["tokenizer.ggml.tokens"][6003:] == [f"[PAD{i}]" for i in range(6003, 6016)]
    assert meta["tokenizer.ggml.token_type"][6003:] == [TOKEN_UNUSED] * 13
    # SmolLM's tokenizer_config names <|im_start|> as BOS and <|im_end|> as EOS.
    assert meta["tokenizer.ggml.bos_token_id"] == 1 and meta["tokenizer.ggml.eos_token_id"] == 2
    assert meta["llama.attention.head_count_kv"] == 1
    assert gguf.tensors["output.weight"].dims == (32, 6016)
    np.testing.assert_array_equal(gguf.tensors["output.weight"].data, _weights(model_dir)["lm_head.weight"])


def test_bad_directories_are_refused_naming_the_problem(tmp_path: Path) -> None:
    model_dir = tiny_decoder_dir(tmp_path / "model", seed=2)
    with pytest.raises(ExportError, match="config.json is missing"):
        export_llama_cpp(str(tmp_path / "nowhere"), str(tmp_path / "x.gguf"))

    small_vocab = tmp_path / "small-vocab"
    shutil.copytree(model_dir, small_vocab)
    config = json.loads((small_vocab / "config.json").read_text())
    config["vocab_size"] = 400
    (small_vocab / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match="token id 511 does not fit the model's vocab_size=400"):
        export_llama_cpp(str(small_vocab), str(tmp_path / "x.gguf"))

    gpt2 = tmp_path / "gpt2"
    shutil.copytree(model_dir, gpt2)
    (gpt2 / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 512, "n_embd": 32, "n_layer": 2, "n_head": 4}))
    with pytest.raises(ExportError, match="model_type='gpt2'"):
        export_llama_cpp(str(gpt2), str(tmp_path / "x.gguf"))

    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(model_dir, no_tokenizer)
    (no_tokenizer / "tokenizer.json").unlink()
    with pytest.raises(ExportError, match="tokenizer.json is missing"):
        export_llama_cpp(str(no_tokenizer), str(tmp_path / "x.gguf"))

    more_layers = tmp_path / "more-layers"
    shutil.copytree(model_dir, more_layers)
    config = json.loads((more_layers / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (more_layers / "config.json").write_text(json.dumps(config))
    with pytest.raises(ExportError, match=r"missing \['model.layers.2"):
        export_llama_cpp(str(more_layers), str(tmp_path / "x.gguf"))

    not_gguf = tmp_path / "not.gguf"
    not_gguf.write_bytes(b"GGML" + bytes(20))
    with pytest.raises(ExportError, match="not a GGUF file"):
        read_gguf(str(not_gguf))
    assert not (tmp_path / "x.gguf").exists()


def test_stage_prints_its_summary_and_refuses_a_missing_model(tmp_path: Path) -> None:
    model_dir = tiny_decoder_dir(tmp_path / "model", seed=3)
    done = subprocess.run([sys.executable, "-m", "edgeguard_train", "export-llama-cpp", "--model", str(model_dir),
                           "--output", str(tmp_path / "out" / "m.gguf")], env=run_env(), cwd=TRAINING,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("export-llama-cpp: output=") and "tensors=20" in done.stdout and "tied=True" in done.stdout
    assert read_gguf(str(tmp_path / "out" / "m.gguf")).metadata["general.name"] == "model"
    assert not (tmp_path / "out" / "m.gguf.tmp").exists()

    failed = subprocess.run([sys.executable, "-m", "edgeguard_train", "export-llama-cpp", "--model", str(tmp_path / "none"),
                             "--output", str(tmp_path / "m.gguf")], env=run_env(), cwd=TRAINING,
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0
    assert "export-llama-cpp:" in failed.stderr and "config.json is missing" in failed.stderr
