"""Export a tuned cross-encoder to the ONNX graph the ``onnx`` backend serves, and check it.

The export itself is :func:`shortlist.rerank.export.export_onnx`, shared with
``shortlist export-reranker`` (float, or int8 weights per channel, through
:func:`shortlist.onnx_export.export_graph`; tokenizer files beside it with the model's
``max_length``). :func:`check_export` compares the graph's ranking with the torch model's on
the user's held-out queries; ``tune`` keeps the int8 graph only when that holds, and
exports float32 otherwise.
"""

from __future__ import annotations

import os

import numpy as np

from shortlist.rerank.export import export_onnx

__all__ = ["check_export", "export_onnx"]


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
