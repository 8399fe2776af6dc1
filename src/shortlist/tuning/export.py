"""Export a cross-encoder folder to the int8 ONNX graph the ``onnx`` backend serves.

torch's ONNX exporter writes the float graph (dynamic batch and sequence axes, the three
BERT inputs, one ``logits`` output); onnxruntime's ``quantize_dynamic`` turns its weight
matrices into int8, which is how the shipped ``ms-marco-MiniLM-L-12-v2-onnx-int8`` graph
was made. The tokenizer files are copied beside it (with the model's ``max_length``), so
``onnx:<dir>`` loads with no torch and truncates where torch does. :func:`check_export`
compares the graph's ranking with the torch model's; ``tune`` keeps the int8 graph only
when that holds, and exports float32 otherwise.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from shortlist._optional import require

_FEATURE = "Exporting a tuned cross-encoder to ONNX"
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)


def export_onnx(
    model_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *, quantize: bool = True
) -> Path:
    """Write ``out_dir/model.onnx`` (int8 with ``quantize``, else float32) and the
    tokenizer files; return ``out_dir``. Weights are quantized per channel: per-tensor
    scales, fine for the shipped model, distorted a fine-tuned one's logits by several
    units in our tests."""
    torch = require("torch", feature=_FEATURE, extra="train")
    st = require("sentence_transformers", feature=_FEATURE, extra="train")
    quantization = require("onnxruntime.quantization", feature=_FEATURE, extra="onnx")
    src, out = Path(model_dir), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cross_encoder = st.CrossEncoder(os.fspath(src), device="cpu")
    model = cross_encoder.model.eval()
    sample = cross_encoder.tokenizer(
        ["a query", "another query"],
        ["a document to score", "a second, longer document to score"],
        padding=True,
        return_tensors="pt",
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    inputs = tuple(sample[n] for n in names if n in sample)
    dynamic = {n: {0: "batch", 1: "sequence"} for n in names if n in sample}
    # torch's exporter and onnxruntime's quantizer warn about tracing details that do not
    # apply to a BERT encoder; check_export is what says whether the graph is right
    with tempfile.TemporaryDirectory(dir=out) as tmp, warnings.catch_warnings(), _quiet_root():
        warnings.simplefilter("ignore")
        float_graph = Path(tmp) / "float.onnx"
        with torch.no_grad():
            torch.onnx.export(
                model,
                inputs,
                os.fspath(float_graph),
                input_names=[n for n in names if n in sample],
                output_names=["logits"],
                dynamic_axes={**dynamic, "logits": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        if quantize:
            quantization.quantize_dynamic(
                os.fspath(float_graph),
                os.fspath(out / "model.onnx"),
                weight_type=quantization.QuantType.QInt8,
                per_channel=True,
                extra_options={"MatMulConstBOnly": True},
            )
        else:
            shutil.move(float_graph, out / "model.onnx")
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    limit = getattr(cross_encoder, "max_seq_length", None) or cross_encoder.max_length
    _pin_max_length(out / "tokenizer_config.json", int(limit or 512))
    return out


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


def _pin_max_length(path: Path, max_length: int) -> None:
    """Make the ONNX backend truncate where the torch model does (the tuned model's
    ``max_length`` is usually shorter than the tokenizer's 512, and the ONNX backend reads
    its limit from tokenizer_config.json)."""
    config = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    config["model_max_length"] = max_length
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def check_export(
    model_dir: str | os.PathLike[str],
    onnx_dir: str | os.PathLike[str],
    samples: list[tuple[str, list[str]]],
) -> float:
    """Mean Spearman correlation of the torch and ONNX scores over ``samples`` (query,
    candidate texts); 1 = the same order.

    Ranks, not raw logits, are compared: int8 weights move logits a little, while the
    ranking is all a reranker is used for.
    """
    from shortlist.rerank import load_reranker

    torch_model = load_reranker(f"cross-encoder:{os.fspath(model_dir)}")
    onnx_model = load_reranker(f"onnx:{os.fspath(onnx_dir)}")
    values = [
        _spearman(torch_model.score(query, texts), onnx_model.score(query, texts))
        for query, texts in samples
        if len(texts) > 1
    ]
    return float(np.mean(values)) if values else 1.0


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(np.float64)
    rb = np.argsort(np.argsort(b)).astype(np.float64)
    if ra.std() == 0 or rb.std() == 0:
        return 1.0
    return float(np.corrcoef(ra, rb)[0, 1])
