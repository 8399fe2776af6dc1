"""Write a torch transformer as an ONNX graph, optionally with int8 weights.

One path for every export shortlist makes (a tuned cross-encoder for the ``onnx``
reranker, a bi-encoder for the ``onnx:`` embedder): torch's exporter writes the float
graph with dynamic batch and sequence axes; onnxruntime's ``quantize_dynamic`` turns its
weight matrices into int8 per channel (per-tensor scales distorted a fine-tuned model's
logits by several units in our tests). Needs torch, so it lives outside the query path.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from shortlist._optional import require

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17
QUANTIZATION = {
    "method": "dynamic (onnxruntime quantize_dynamic)",
    "weights": "int8, one scale per output channel",
    "activations": "uint8, scale computed per batch at run time",
    "operators": "MatMul with constant weights (MatMulConstBOnly)",
}
"""What :func:`quantize_graph` does, in words: exports record it in their model cards."""


def export_graph(
    module: Any,
    sample: Mapping[str, Any],
    out_file: Path,
    *,
    output: str,
    output_axes: dict[int, str],
    quantize: bool,
    feature: str,
) -> Path:
    """Export ``module(**inputs)`` (its first output named ``output``) to ``out_file``.

    ``sample`` is a tokenizer's batch of at least two rows of different lengths (its
    ``input_ids``/``attention_mask``/``token_type_ids`` are the graph's inputs, in that
    order); ``output_axes`` names the output's dynamic axes.
    """
    torch = require("torch", feature=feature, extra="train")
    if quantize:  # a missing quantizer fails now, not after the export
        require("onnxruntime.quantization", feature=feature, extra="onnx")
    names = [n for n in INPUT_NAMES if n in sample]
    inputs = tuple(sample[n] for n in names)
    dynamic: dict[str, dict[int, str]] = {n: {0: "batch", 1: "sequence"} for n in names}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    # torch's exporter and onnxruntime's quantizer warn about tracing details that do not
    # apply to a BERT encoder; the callers' parity checks say whether the graph is right
    with (
        tempfile.TemporaryDirectory(dir=out_file.parent) as tmp,
        warnings.catch_warnings(),
        _quiet_root(),
    ):
        warnings.simplefilter("ignore")
        float_graph = Path(tmp) / "float.onnx"
        with torch.no_grad():
            torch.onnx.export(
                module.eval(),
                inputs,
                os.fspath(float_graph),
                input_names=names,
                output_names=[output],
                dynamic_axes={**dynamic, output: output_axes},
                opset_version=OPSET,
                dynamo=False,
            )
        if quantize:
            quantize_graph(float_graph, out_file, feature=feature)
        else:
            shutil.move(float_graph, out_file)
    return out_file


def quantize_graph(float_graph: Path, out_file: Path, *, feature: str) -> Path:
    """Write ``float_graph`` with int8 weights to ``out_file`` (see :data:`QUANTIZATION`).

    Separate from :func:`export_graph` so a caller can check the float graph first and
    quantize that same graph, rather than export twice.
    """
    quantization = require("onnxruntime.quantization", feature=feature, extra="onnx")
    with warnings.catch_warnings(), _quiet_root():
        warnings.simplefilter("ignore")
        quantization.quantize_dynamic(
            os.fspath(float_graph),
            os.fspath(out_file),
            weight_type=quantization.QuantType.QInt8,
            per_channel=True,
            extra_options={"MatMulConstBOnly": True},
        )
    return out_file


@contextlib.contextmanager
def _quiet_root() -> Iterator[None]:
    """onnxruntime's quantizer logs advice through the root logger; hold it back."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)
