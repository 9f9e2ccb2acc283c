import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import TRAINING, run_env
from edgeguard_train import quantize_onnx
from edgeguard_train.onnx_numpy import run_model
from edgeguard_train.quantize_onnx import QuantizationError, compare_outputs, quantize_dynamic_int8

OPSET = 14


def _model(nodes, inputs, outputs, initializers, opset=OPSET):
    graph = helper.make_graph(nodes, "test", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def _float_input(name, *dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(dims))


def _linear_model(weight, bias=None):
    """y = x @ weight (+ bias), x [batch, K]. Without a bias the MatMul is the output layer."""
    k, n = weight.shape
    nodes = [helper.make_node("MatMul", ["x", "w"], ["xw" if bias is not None else "y"], name="linear")]
    initializers = {"w": weight}
    if bias is not None:
        nodes.append(helper.make_node("Add", ["xw", "b"], ["y"], name="bias"))
        initializers["b"] = bias
    return _model(nodes, [_float_input("x", "batch", k)], [_float_input("y", "batch", n)], initializers)


def _reference_int8_linear(x, weight, per_channel, weight_qmax=127):
    """Dynamic int8 as the ONNX operators define it, written out: uint8 activations (range widened to
    include 0, zero point rounded half to even), symmetric int8 weights, int32 products, float rescale."""
    x = x.astype(np.float32)
    low, high = min(0.0, float(x.min())), max(0.0, float(x.max()))
    a_scale = np.float32((np.float32(high) - np.float32(low)) / np.float32(255))
    a_zero = np.float32(np.rint(np.clip(-np.float32(low) / a_scale, 0, 255)))
    a_q = np.clip(np.rint(x / a_scale) + a_zero, 0, 255)
    magnitude = np.abs(weight).max(axis=0) if per_channel else np.abs(weight).max()
    w_scale = (magnitude / np.float32(weight_qmax)).astype(np.float32)
    w_q = np.clip(np.rint(weight / w_scale), -weight_qmax, weight_qmax)
    products = np.array([[sum(int(a_q[i, t] - a_zero) * int(w_q[t, j]) for t in range(x.shape[1]))
                          for j in range(weight.shape[1])] for i in range(x.shape[0])], dtype=np.int64)
    return products.astype(np.float32) * (a_scale * w_scale).astype(np.float32)


# --- the rewrite ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_channel, reduce_range", [(True, False), (False, False), (True, True)])
def test_a_linear_layer_computes_the_dynamic_int8_product(per_channel, reduce_range):
    rng = np.random.default_rng(2)
    weight = rng.standard_normal((6, 3)).astype(np.float32) * np.array([0.01, 1.0, 5.0], dtype=np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    model = _linear_model(weight, bias)
    int8, report = quantize_dynamic_int8(model, per_channel=per_channel, reduce_range=reduce_range)
    onnx.checker.check_model(int8, full_check=True)
    assert report.quantized == ["linear"]
    weight_qmax = 63 if reduce_range else 127
    stored = next(numpy_helper.to_array(t) for t in int8.graph.initializer if t.data_type == TensorProto.INT8 and len(t.dims) == 2)
    assert np.abs(stored.astype(np.int32)).max() == weight_qmax
    x = rng.standard_normal((4, 6)).astype(np.float32) + 0.3
    got = run_model(int8, {"x": x})["y"]
    expected = _reference_int8_linear(x, weight, per_channel, weight_qmax) + bias
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    # and it approximates the float layer to the precision 8 bits give
    assert np.abs(got - (x @ weight + bias)).max() < 0.05 * np.abs(x @ weight).max()


def test_per_channel_scales_follow_each_column_and_per_tensor_uses_one():
    rng = np.random.default_rng(3)
    # Columns 1000x apart: one shared scale leaves the small column a few int8 steps.
    weight = rng.standard_normal((16, 2)).astype(np.float32) * np.array([0.001, 1.0], dtype=np.float32)
    model = _linear_model(weight)
    x = rng.standard_normal((8, 16)).astype(np.float32)
    exact = x @ weight
    errors = {}
    for per_channel in (True, False):
        int8, _ = quantize_dynamic_int8(model, per_channel=per_channel, quantize_output_layer=True)
        initializers = {t.name: numpy_helper.to_array(t) for t in int8.graph.initializer}
        matmul = next(n for n in int8.graph.node if n.op_type == "MatMulInteger")
        w_zero = initializers[matmul.input[3]]
        scale = next(initializers[name] for node in int8.graph.node if node.op_type == "Mul"
                     for name in node.input if name in initializers)
        assert initializers[matmul.input[1]].dtype == np.int8
        assert w_zero.dtype == np.int8 and not w_zero.any()
        assert w_zero.shape == ((2,) if per_channel else ())
        assert scale.shape == ((2,) if per_channel else ())
        errors[per_channel] = np.abs(run_model(int8, {"x": x})["y"][:, 0] - exact[:, 0]).max()
    assert errors[True] * 20 < errors[False]


def _attention_like_model(rng):
    """Q, K, V projections of one activation, their scores (two activations), a projection of a constant,
    a pooler Gemm and a classifier Gemm whose output is the graph output."""
    hidden = 8
    w = {name: rng.standard_normal((hidden, hidden)).astype(np.float32) * 0.3 for name in ("wq", "wk", "wv")}
    w.update({
        "rel": rng.standard_normal((4, hidden)).astype(np.float32),
        "wpos": rng.standard_normal((hidden, hidden)).astype(np.float32),
        "wpool": rng.standard_normal((hidden, hidden)).astype(np.float32) * 0.3,  # Gemm, transB=1: [N, K]
        "bpool": rng.standard_normal(hidden).astype(np.float32),
        "wcls": rng.standard_normal((2, hidden)).astype(np.float32),
        "bcls": rng.standard_normal(2).astype(np.float32),
    })
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"], name="query"),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="key"),
        helper.make_node("MatMul", ["x", "wv"], ["v"], name="value"),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[1, 0], name="key_t"),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="scores"),
        helper.make_node("Softmax", ["scores"], ["probs"], axis=-1, name="softmax"),
        helper.make_node("MatMul", ["probs", "v"], ["context"], name="context"),
        helper.make_node("MatMul", ["rel", "wpos"], ["pos"], name="position_projection"),
        helper.make_node("ReduceMean", ["pos"], ["pos_mean"], axes=[0], keepdims=1, name="pos_mean"),
        helper.make_node("Add", ["context", "pos_mean"], ["hidden"], name="add_pos"),
        helper.make_node("Gemm", ["hidden", "wpool", "bpool"], ["pooled"], transB=1, name="pooler"),
        helper.make_node("Gemm", ["pooled", "wcls", "bcls"], ["logits"], transB=1, name="classifier"),
    ]
    return _model(nodes, [_float_input("x", "batch", hidden)], [_float_input("logits", "batch", 2)], w)


def test_quantized_graph_structure():
    model = _attention_like_model(np.random.default_rng(4))
    int8, report = quantize_dynamic_int8(model)
    onnx.checker.check_model(int8, full_check=True)
    graph = int8.graph
    initializers = {t.name for t in graph.initializer}
    ops = [n.op_type for n in graph.node]

    assert sorted(report.quantized) == ["key", "pooler", "query", "value"]
    assert report.kept_float[quantize_onnx.REASON_OUTPUT_LAYER] == ["classifier"]
    assert report.kept_float[quantize_onnx.REASON_CONSTANT_ACTIVATION] == ["position_projection"]
    assert sorted(report.kept_float[quantize_onnx.REASON_NO_CONSTANT_WEIGHT]) == ["context", "scores"]
    # Q, K and V read x through one DynamicQuantizeLinear; the pooler has its own.
    quantizers = [n for n in graph.node if n.op_type == "DynamicQuantizeLinear"]
    assert [n.input[0] for n in quantizers] == ["x", "hidden"] and report.activation_quantizers == 2
    integer_products = [n for n in graph.node if n.op_type == "MatMulInteger"]
    assert len(integer_products) == 4
    assert {n.input[0] for n in integer_products[:3]} == {quantizers[0].output[0]}
    # No float product with a constant weight is left but those kept on purpose.
    float_with_weight = [n.name for n in graph.node if n.op_type in ("MatMul", "Gemm") and n.input[1] in initializers]
    assert sorted(float_with_weight) == ["classifier", "position_projection"]
    # The replaced float weights are gone; the kept layers' weights stay.
    assert not {"wq", "wk", "wv", "wpool"} & initializers
    assert {"wpos", "wcls", "bpool", "bcls"} <= initializers
    # The pooler's bias is still added after the rescale, producing the original tensor name.
    assert any(n.op_type == "Add" and n.output[0] == "pooled" and "bpool" in n.input for n in graph.node)
    assert [i.name for i in graph.input] == ["x"] and [o.name for o in graph.output] == ["logits"]
    assert ops.index("DynamicQuantizeLinear") < ops.index("MatMulInteger")
    assert model.graph.node[0].op_type == "MatMul"  # the input model is untouched

    comparison = compare_outputs(model, int8, [(5, 1), (3, 1)])
    assert comparison.rows == 8 and 0 < comparison.max_abs_diff < 0.1


def test_output_layer_and_excluded_nodes_are_options():
    model = _attention_like_model(np.random.default_rng(5))
    _, report = quantize_dynamic_int8(model, quantize_output_layer=True, exclude_nodes=["value"])
    assert sorted(report.quantized) == ["classifier", "key", "pooler", "query"]
    assert report.kept_float[quantize_onnx.REASON_EXCLUDED] == ["value"]
    with pytest.raises(QuantizationError, match="no-such-node"):
        quantize_dynamic_int8(model, exclude_nodes=["no-such-node"])


@pytest.mark.parametrize("trans_b, alpha, beta, bias_is_input", [
    (0, 1.0, 1.0, False), (1, 0.5, 2.0, False), (1, 1.0, 3.0, True)])
def test_gemm_attributes_survive_the_rewrite(trans_b, alpha, beta, bias_is_input):
    rng = np.random.default_rng(6)
    weight = rng.standard_normal((5, 4) if not trans_b else (4, 5)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    inputs = [_float_input("x", "batch", 5)] + ([_float_input("c", 4)] if bias_is_input else [])
    initializers = {"w": weight} if bias_is_input else {"w": weight, "c": bias}
    gemm = helper.make_node("Gemm", ["x", "w", "c"], ["h"], transB=trans_b, alpha=alpha, beta=beta, name="gemm")
    negate = helper.make_node("Neg", ["h"], ["y"], name="negate")  # keeps the Gemm from being the output layer
    model = _model([gemm, negate], inputs, [_float_input("y", "batch", 4)], initializers)
    int8, report = quantize_dynamic_int8(model)
    onnx.checker.check_model(int8, full_check=True)
    assert report.quantized == ["gemm"]
    x = rng.standard_normal((3, 5)).astype(np.float32)
    feeds = {"x": x, "c": bias} if bias_is_input else {"x": x}
    weight_kn = weight.T if trans_b else weight
    expected = -(alpha * _reference_int8_linear(x, weight_kn, True) + beta * bias)
    np.testing.assert_allclose(run_model(int8, feeds)["y"], expected, rtol=1e-5, atol=1e-5)


def test_a_weight_shared_by_two_layers_is_quantized_once_and_a_weight_read_elsewhere_stays():
    weight = np.random.default_rng(7).standard_normal((4, 4)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w"], ["b"], name="second"),
             helper.make_node("Add", ["b", "w"], ["y"], name="reads_the_weight")]
    model = _model(nodes, [_float_input("x", 4, 4)], [_float_input("y", 4, 4)], {"w": weight})
    int8, report = quantize_dynamic_int8(model)
    assert report.quantized == ["first", "second"]
    int8_weights = [t for t in int8.graph.initializer if t.data_type == TensorProto.INT8 and len(t.dims) == 2]
    assert len(int8_weights) == 1
    assert "w" in {t.name for t in int8.graph.initializer}


def test_a_model_without_a_constant_weight_is_refused():
    nodes = [helper.make_node("MatMul", ["a", "b"], ["y"], name="two_activations")]
    model = _model(nodes, [_float_input("a", 2, 3), _float_input("b", 3, 2)], [_float_input("y", 2, 2)], {})
    with pytest.raises(QuantizationError, match="nothing to quantize.*two activations"):
        quantize_dynamic_int8(model)


def test_an_initializer_that_is_also_a_graph_input_is_not_a_constant():
    weight = np.ones((3, 2), dtype=np.float32)
    model = _linear_model(weight)
    model.graph.input.append(_float_input("w", 3, 2))
    with pytest.raises(QuantizationError, match="nothing to quantize"):
        quantize_dynamic_int8(model)


def test_an_opset_without_dynamic_quantize_linear_is_refused():
    model = _linear_model(np.ones((3, 2), dtype=np.float32))
    model.opset_import[0].version = 10
    with pytest.raises(QuantizationError, match="opset 10"):
        quantize_dynamic_int8(model)


def test_models_above_the_protobuf_limit_keep_their_tensors_in_a_side_file(tmp_path, monkeypatch):
    weight = np.random.default_rng(8).standard_normal((64, 32)).astype(np.float32)
    int8, _ = quantize_dynamic_int8(_linear_model(weight), quantize_output_layer=True)
    monkeypatch.setattr(quantize_onnx, "PROTOBUF_LIMIT", 1024)
    path = tmp_path / "model.int8.onnx"
    quantize_onnx.save_model(int8, str(path))
    assert (tmp_path / "model.int8.onnx.data").exists()
    assert path.stat().st_size < 1024
    onnx.checker.check_model(str(path))
    reloaded = onnx.load(str(path))
    x = np.ones((2, 64), dtype=np.float32)
    np.testing.assert_array_equal(run_model(reloaded, {"x": x})["y"], run_model(int8, {"x": x})["y"])


# --- a DeBERTa-v3 guard exported by the export stage -------------------------------------------------------


def test_an_exported_guard_is_quantized_like_the_int8_engine(tiny_model_dir, tmp_path):
    from edgeguard_train.export import export_onnx
    from edgeguard_train.modeling_deberta import DebertaV2ForSequenceClassification

    model = DebertaV2ForSequenceClassification.from_pretrained(str(tiny_model_dir))
    path = tmp_path / "model.onnx"
    export_onnx(model, str(path))
    float_model = onnx.load(str(path))
    int8, report = quantize_dynamic_int8(float_model)
    onnx.checker.check_model(int8, full_check=True)

    layers = model.config.num_hidden_layers
    # Per layer Q, K, V, attention output, both FFN layers; then the pooler.
    assert len(report.quantized) == 6 * layers + 1
    assert report.kept_float[quantize_onnx.REASON_OUTPUT_LAYER] == ["/classifier/Gemm"]
    assert len(report.kept_float[quantize_onnx.REASON_CONSTANT_ACTIVATION]) == 2 * layers  # position projections
    # One quantizer per distinct activation: Q/K/V share, so 4 per layer plus the pooler's.
    assert report.activation_quantizers == 4 * layers + 1
    by_output = {o: n for n in int8.graph.node for o in n.output}
    for layer in range(layers):
        qkv = [n for n in int8.graph.node if n.op_type == "MatMulInteger"
               and any(f"layer.{layer}/attention/self/{p}_proj/MatMul" in n.name for p in ("query", "key", "value"))]
        assert len(qkv) == 3 and len({n.input[0] for n in qkv}) == 1
        assert by_output[qkv[0].input[0]].op_type == "DynamicQuantizeLinear"
    for graph_input in int8.graph.input:
        assert graph_input.type.tensor_type.elem_type == TensorProto.INT64
    assert [i.name for i in int8.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in int8.graph.output] == ["logits"]
    assert [(o.domain, o.version) for o in int8.opset_import] == [(o.domain, o.version) for o in float_model.opset_import]

    rng = np.random.default_rng(0)
    worst, largest, flips = 0.0, 0.0, 0
    for batch, length in ((1, 8), (3, 19), (2, 40)):
        feeds = quantize_onnx.random_feeds(float_model, batch, length, rng)
        expected = run_model(float_model, feeds)["logits"]
        got = run_model(int8, feeds)["logits"]
        error = np.abs(got - expected).max()
        worst = max(worst, error)
        largest = max(largest, np.abs(expected).max())
        flipped = np.argmax(got, axis=-1) != np.argmax(expected, axis=-1)
        # A decision may only flip where the float32 logits are closer together than the int8 error allows.
        margin = np.abs(expected[:, 1] - expected[:, 0])
        assert np.all(margin[flipped] <= 2 * error)
        flips += int(flipped.sum())
    assert 0 < worst < 0.05
    comparison = compare_outputs(float_model, int8, [(1, 8), (3, 19), (2, 40)])
    assert (comparison.max_abs_diff, comparison.max_abs_float) == (worst, largest)
    assert (comparison.rows_agreeing, comparison.rows) == (6 - flips, 6)


# --- the command line -----------------------------------------------------------------------------------------


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "edgeguard_train", "quantize-onnx", *args], env=run_env(),
                          cwd=str(TRAINING), capture_output=True, text=True, timeout=120)


def test_cli_writes_a_checked_int8_model_and_reports_the_comparison(tmp_path):
    model = _attention_like_model(np.random.default_rng(9))
    source = tmp_path / "model.onnx"
    onnx.save(model, str(source))
    for flag, expected in (("--per-channel", "weights=per-channel "), ("--per-tensor", "weights=per-tensor "),
                           ("--reduce-range", "weights=per-channel-7bit ")):
        output = tmp_path / f"out{flag}.onnx"
        result = _cli("--input", str(source), "--output", str(output), flag, "--check-shapes", "4x1,2x1")
        assert result.returncode == 0, result.stderr
        line = result.stdout.strip().splitlines()[-1]
        assert line.startswith("quantize-onnx: ") and expected in line
        assert "quantized=4 " in line and "activation_quantizers=2 " in line and "decisions_agree=" in line
        assert "max_abs_logit_diff=" in line and "max_abs_f32_logit=" in line and "/6" in line
        assert "kept float32, output layer" in result.stderr
        onnx.checker.check_model(str(output), full_check=True)
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("kind, message", [
    ("missing", "does not exist"), ("directory", "is a directory"),
    ("text", "is not an ONNX model"), ("empty", "is not an ONNX model")])
def test_cli_bad_inputs_are_clear_errors(tmp_path, kind, message):
    source = tmp_path / f"{kind}.onnx"
    if kind == "directory":
        source.mkdir()
    elif kind == "text":
        source.write_text("this is not a model\n")
    elif kind == "empty":
        source.write_bytes(b"")
    result = _cli("--input", str(source), "--output", str(tmp_path / "out.onnx"))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("output, message", [("same", "must differ from --input"), ("directory", "is a directory")])
def test_cli_refuses_an_output_that_would_overwrite_the_input_or_is_a_directory(tmp_path, output, message):
    source = tmp_path / "model.onnx"
    onnx.save(_linear_model(np.ones((3, 2), dtype=np.float32), np.zeros(2, dtype=np.float32)), str(source))
    (tmp_path / "out").mkdir()
    result = _cli("--input", str(source), "--output", str(source if output == "same" else tmp_path / "out"))
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert onnx.load(str(source)).graph.node[0].op_type == "MatMul"


def test_cli_refuses_a_model_with_nothing_to_quantize(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    source = tmp_path / "relu.onnx"
    onnx.save(_model(nodes, [_float_input("x", 2)], [_float_input("y", 2)], {}), str(source))
    result = _cli("--input", str(source), "--output", str(tmp_path / "out.onnx"))
    assert result.returncode != 0
    assert "nothing to quantize" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.onnx").exists()


def test_cli_rejects_malformed_check_shapes(tmp_path):
    source = tmp_path / "model.onnx"
    onnx.save(_linear_model(np.ones((3, 2), dtype=np.float32)), str(source))
    result = _cli("--input", str(source), "--output", str(tmp_path / "out.onnx"), "--check-shapes", "3by19")
    assert result.returncode != 0 and "BATCHxLENGTH" in result.stderr
