"""Export a cross-encoder folder to the int8 ONNX graph the ``onnx`` backend serves.

The graph is written by :func:`shortlist.onnx_export.export_graph` (float, or int8
weights per channel, as the shipped ``ms-marco-MiniLM-L-12-v2-onnx-int8`` graph was made).
The tokenizer files are copied beside it (with the model's ``max_length``), so
``onnx:<dir>`` loads with no torch and truncates where torch does. :func:`check_export`
compares the graph's ranking with the torch model's; ``tune`` keeps the int8 graph only
when that holds, and exports float32 otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from shortlist._optional import require
from shortlist.onnx_export import export_graph

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
    tokenizer files; return ``out_dir``."""
    st = require("sentence_transformers", feature=_FEATURE, extra="train")
    src, out = Path(model_dir), Path(out_dir)
    cross_encoder = st.CrossEncoder(os.fspath(src), device="cpu")
    sample = cross_encoder.tokenizer(
        ["a query", "another query"],
        ["a document to score", "a second, longer document to score"],
        padding=True,
        return_tensors="pt",
    )
    export_graph(
        cross_encoder.model,
        sample,
        out / "model.onnx",
        output="logits",
        output_axes={0: "batch"},
        quantize=quantize,
        feature=_FEATURE,
    )
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
    limit = getattr(cross_encoder, "max_seq_length", None) or cross_encoder.max_length
    _pin_max_length(out / "tokenizer_config.json", int(limit or 512))
    return out


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
