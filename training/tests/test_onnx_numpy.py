import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edgeguard_train.onnx_numpy import run_model


def _model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "test", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("values, scale, zero_point, expected", [
    # the examples of the ONNX operator documentation
    ([0, 2, -3, -2.5, 1.34, 0.5], 0.0196078438, 153, [153, 255, 0, 26, 221, 179]),
    ([-1.0, -2.1, -1.3, -2.5, -3.34, -4.0], 0.0156862754, 255, [191, 121, 172, 96, 42, 0]),
    ([1, 2.1, 1.3, 2.5, 3.34, 4.0], 0.0156862754, 0, [64, 134, 83, 159, 213, 255]),
    # scale 1, zero point 0.5 and values .5 apart: round half to even, not half up
    ([-0.5, 254.5, 2.5], 1.0, 0, [0, 254, 2]),
    # zero point 1.5 rounds to 2, and 253.5 + 2 saturates at 255
    ([-1.5, 253.5], 1.0, 2, [0, 255]),
    # all zeros: exact with any scale (the specification's formula would divide by zero)
    ([0.0, 0.0], 1.0, 0, [0, 0]),
])
def test_dynamic_quantize_linear_follows_the_specification(values, scale, zero_point, expected):
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "y_scale", "y_zero_point"])
    model = _model([node], [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(values)])],
                   [helper.make_tensor_value_info("y", TensorProto.UINT8, [len(values)]),
                    helper.make_tensor_value_info("y_scale", TensorProto.FLOAT, []),
                    helper.make_tensor_value_info("y_zero_point", TensorProto.UINT8, [])], {})
    out = run_model(model, {"x": np.array(values, dtype=np.float32)})
    assert out["y"].dtype == np.uint8 and out["y_zero_point"].dtype == np.uint8
    assert out["y"].tolist() == expected
    assert int(out["y_zero_point"]) == zero_point
    assert float(out["y_scale"]) == pytest.approx(scale, rel=1e-6)


def test_matmul_integer_with_per_row_and_per_column_zero_points():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, size=(3, 5)).astype(np.uint8)
    b = rng.integers(-128, 128, size=(5, 4)).astype(np.int8)
    a_zero = np.array([0, 128, 255], dtype=np.uint8)
    b_zero = np.array([0, -1, 7, -128], dtype=np.int8)
    node = helper.make_node("MatMulInteger", ["a", "b", "a_zero", "b_zero"], ["y"])
    model = _model([node], [helper.make_tensor_value_info("a", TensorProto.UINT8, [3, 5])],
                   [helper.make_tensor_value_info("y", TensorProto.INT32, [3, 4])],
                   {"b": b, "a_zero": a_zero, "b_zero": b_zero})
    got = run_model(model, {"a": a})["y"]
    expected = [[sum((int(a[i, t]) - int(a_zero[i])) * (int(b[t, j]) - int(b_zero[j])) for t in range(5))
                 for j in range(4)] for i in range(3)]
    assert got.dtype == np.int32
    assert got.tolist() == expected


@pytest.mark.parametrize("exclusive, reverse, expected", [
    # the examples of the ONNX operator documentation
    (0, 0, [1, 3, 6, 10, 15]),
    (1, 0, [0, 1, 3, 6, 10]),
    (0, 1, [15, 14, 12, 9, 5]),
    (1, 1, [14, 12, 9, 5, 0]),
])
def test_cumsum_follows_the_specification(exclusive, reverse, expected):
    node = helper.make_node("CumSum", ["x", "axis"], ["y"], exclusive=exclusive, reverse=reverse)
    model = _model([node], [helper.make_tensor_value_info("x", TensorProto.INT64, [5])],
                   [helper.make_tensor_value_info("y", TensorProto.INT64, [5])], {"axis": np.array(0, dtype=np.int64)})
    assert run_model(model, {"x": np.arange(1, 6, dtype=np.int64)})["y"].tolist() == expected
