"""Run a dynamically int8-quantized ONNX graph in float32, with the same weights.

A graph made by onnxruntime's ``quantize_dynamic`` stores each weight matrix as int8
and also quantizes every *activation* to uint8 at run time (``DynamicQuantizeLinear``,
one scale per tensor). The weight rounding is part of the model; the activation rounding
is noise that moves a cross-encoder's logits by up to ~0.8, enough to swap near-tied
candidates. :func:`dequantize_matmuls` rewrites each

    DynamicQuantizeLinear(x) -> MatMulInteger(xq, Wq) -> Cast -> Mul(x_scale * w_scale)

into ``MatMul(x, (Wq - w_zero_point) * w_scale)``: the weights are exactly the stored ones,
the activations stay float32. The result computes what a float model with those weights
computes (e.g. the sentence-transformers checkpoint rebuilt from the same int8 weights),
at roughly twice the int8 graph's cost.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.errors import InvalidInputError

logger = logging.getLogger(__name__)


def dequantize_matmuls(model_path: str) -> bytes:
    """The serialized model with every quantized MatMul replaced by a float32 MatMul.

    A graph without quantized MatMuls comes back unchanged. A ``MatMulInteger`` whose
    weight is not a constant, or that is not followed by the usual ``Cast`` + scale
    ``Mul``, raises :class:`InvalidInputError`: rewriting part of it would silently mix
    precisions.
    """
    onnx = require("onnx", feature="Dequantizing an ONNX graph", extra="onnx")
    numpy_helper, helper = onnx.numpy_helper, onnx.helper
    try:
        model = onnx.load(model_path)
    except Exception as exc:  # protobuf's DecodeError, OSError: say which file and why
        raise InvalidInputError(f"{model_path} is not a readable ONNX model: {exc}") from exc
    graph = model.graph
    constants = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers = _consumers(graph)

    replaced: dict[int, Any] = {}  # id(scale Mul) -> the float MatMul taking its place
    dropped: set[int] = set()
    for node in graph.node:
        if node.op_type != "MatMulInteger":
            continue
        x_q, w_q, _, w_zero = [*node.input, "", "", ""][:4]
        quantize = producer.get(x_q)
        cast = _only_consumer(consumers, node.output[0], "Cast")
        scale_mul = _only_consumer(consumers, cast.output[0], "Mul") if cast else None
        if (
            quantize is None
            or quantize.op_type != "DynamicQuantizeLinear"
            or w_q not in constants
            or scale_mul is None
        ):
            raise InvalidInputError(
                f"{model_path}: cannot dequantize node {node.name!r} (not the "
                "DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul pattern of "
                "onnxruntime's quantize_dynamic); load it with dequantize=False."
            )
        weight = numpy_helper.to_array(constants[w_q]).astype(np.float32)
        zero = numpy_helper.to_array(constants[w_zero]).astype(np.float32) if w_zero else 0.0
        scale = _weight_scale(numpy_helper, constants, producer, scale_mul, cast, x_q, quantize)
        name = f"{node.name}/dequantized_weight"
        graph.initializer.append(numpy_helper.from_array((weight - zero) * scale, name))
        matmul = helper.make_node(
            "MatMul", [quantize.input[0], name], [scale_mul.output[0]], name=f"{node.name}/float"
        )
        replaced[id(scale_mul)] = matmul
        dropped |= {id(node), id(cast)}

    if not replaced:
        logger.info("%s has no quantized MatMuls; dequantize=True changes nothing.", model_path)
        return bytes(model.SerializeToString())
    nodes = [replaced.get(id(n), n) for n in graph.node if id(n) not in dropped]
    del graph.node[:]
    graph.node.extend(_live(nodes, {o.name for o in graph.output}))
    logger.info("%s: %d quantized MatMuls now run in float32.", model_path, len(replaced))
    return bytes(model.SerializeToString())


def _consumers(graph: Any) -> dict[str, list[Any]]:
    """Tensor name -> the nodes that read it."""
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    return consumers


def _only_consumer(consumers: dict[str, list[Any]], name: str, op_type: str) -> Any:
    users = consumers.get(name, [])
    return users[0] if len(users) == 1 and users[0].op_type == op_type else None


def _weight_scale(
    numpy_helper: Any,
    constants: dict[str, Any],
    producer: dict[str, Any],
    scale_mul: Any,
    cast: Any,
    x_q: str,
    quantize: Any,
) -> np.ndarray:
    """The weight's scale: the factor of ``x_scale * w_scale`` that is a constant."""
    combined = next(i for i in scale_mul.input if i != cast.output[0])
    factors = producer[combined].input if combined in producer else [combined]
    x_scale = quantize.output[1]
    weight_factors = [f for f in factors if f != x_scale and f in constants]
    if len(weight_factors) != 1 or x_scale not in factors:
        raise InvalidInputError(
            f"cannot find the weight scale of the quantized MatMul fed by {x_q!r}; load the "
            "model with dequantize=False."
        )
    return np.asarray(numpy_helper.to_array(constants[weight_factors[0]]), dtype=np.float32)


def _live(nodes: list[Any], outputs: set[str]) -> list[Any]:
    """Drop nodes whose results nothing uses any more (the now idle quantize steps)."""
    while True:
        used = outputs | {name for node in nodes for name in node.input}
        kept = [n for n in nodes if any(o in used for o in n.output)]
        if len(kept) == len(nodes):
            return kept
        nodes = kept
