"""The int8 -> float32 MatMul rewrite on small hand-built graphs (no model files needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from shortlist.errors import InvalidInputError
from shortlist.rerank.dequantize import dequantize_matmuls

RNG = np.random.default_rng(0)
W_INT8 = RNG.integers(-127, 128, size=(8, 4), dtype=np.int8)
W_SCALE = np.float32(0.02)


def _quantized_graph(path: Path, *, weight_is_input: bool = False) -> Path:
    """x -> DynamicQuantizeLinear -> MatMulInteger(W) -> Cast -> Mul(x_scale * w_scale)."""
    inits = [
        numpy_helper.from_array(np.int8(0), "w_zero"),
        numpy_helper.from_array(W_SCALE, "w_scale"),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])]
    if weight_is_input:
        inputs.append(helper.make_tensor_value_info("w_q", TensorProto.INT8, [8, 4]))
    else:
        inits.append(numpy_helper.from_array(W_INT8, "w_q"))
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["x"], ["x_q", "x_scale", "x_zero"], name="q"),
        helper.make_node("Mul", ["x_scale", "w_scale"], ["scales"], name="scales"),
        helper.make_node("MatMulInteger", ["x_q", "w_q", "x_zero", "w_zero"], ["y_i"], name="mm"),
        helper.make_node("Cast", ["y_i"], ["y_f"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("Mul", ["y_f", "scales"], ["y"], name="rescale"),
    ]
    graph = helper.make_graph(
        nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        initializer=inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_rewrite_computes_the_float_matmul_of_the_stored_weights(tmp_path: Path) -> None:
    path = _quantized_graph(tmp_path / "q.onnx")
    x = RNG.normal(size=(3, 8)).astype(np.float32)
    x[0, 0] = 40.0  # an outlier: int8 activations lose the small values next to it
    expected = x @ (W_INT8.astype(np.float32) * W_SCALE)

    rewritten = onnx.load_from_string(dequantize_matmuls(str(path)))
    assert {n.op_type for n in rewritten.graph.node} == {"MatMul"}
    exact = ort.InferenceSession(rewritten.SerializeToString()).run(None, {"x": x})[0]
    quantized = ort.InferenceSession(str(path)).run(None, {"x": x})[0]
    np.testing.assert_allclose(exact, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(quantized - expected).max() > 100 * np.abs(exact - expected).max()


def test_float_graph_is_returned_unchanged(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((2, 2), dtype=np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], initializer=[w],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.save(model, tmp_path / "f.onnx")
    out = onnx.load_from_string(dequantize_matmuls(str(tmp_path / "f.onnx")))
    assert [n.op_type for n in out.graph.node] == ["MatMul"]


def test_unsupported_pattern_is_a_clear_error(tmp_path: Path) -> None:
    path = _quantized_graph(tmp_path / "q.onnx", weight_is_input=True)
    with pytest.raises(InvalidInputError, match="dequantize=False"):
        dequantize_matmuls(str(path))


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "bad.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(InvalidInputError, match="not a readable ONNX model"):
        dequantize_matmuls(str(tmp_path / "bad.onnx"))
