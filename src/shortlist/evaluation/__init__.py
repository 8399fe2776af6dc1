"""Measure whether reranking pays: quality (nDCG, MRR, recall) and cost (latency) per stage.

Named ``evaluation`` (not ``eval``) so ``from shortlist import evaluation`` cannot shadow
the builtin. Typical use::

    from shortlist.evaluation import load_beir, index_dataset, evaluate, format_table

    data = load_beir("datasets/cranfield")
    index = index_dataset(data, "sentence-transformers/all-MiniLM-L6-v2")  # embed once
    report = evaluate(index, data, rerankers=["onnx:cross-encoder/ms-marco-MiniLM-L-12-v2"])
    print(format_table(report))

Any ``query -> ranked results`` callable can be evaluated too (a LangChain or LlamaIndex
retriever, a function over your own stack); see :func:`evaluate`. Names resolve lazily, so
registering the ``shortlist eval`` command costs nothing until it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shortlist._lazy import lazy_names

if TYPE_CHECKING:
    from shortlist.evaluation.beir import Dataset, load_beir
    from shortlist.evaluation.calibration import Calibration, calibrate
    from shortlist.evaluation.metrics import (
        mean_scores,
        ndcg,
        per_query,
        recall,
        reciprocal_rank,
    )
    from shortlist.evaluation.render import format_table, write_report
    from shortlist.evaluation.report import evaluate, index_dataset
    from shortlist.evaluation.results import Latency, Report, Row
    from shortlist.evaluation.verdict import FunnelVerdict, Verdict

_LAZY = {
    "Dataset": ".beir",
    "load_beir": ".beir",
    "mean_scores": ".metrics",
    "ndcg": ".metrics",
    "per_query": ".metrics",
    "recall": ".metrics",
    "reciprocal_rank": ".metrics",
    "format_table": ".render",
    "write_report": ".render",
    "evaluate": ".report",
    "index_dataset": ".report",
    "Latency": ".results",
    "Report": ".results",
    "Row": ".results",
    "Verdict": ".verdict",
    "FunnelVerdict": ".verdict",
    "Calibration": ".calibration",
    "calibrate": ".calibration",
}

__all__ = [
    "Calibration",
    "Dataset",
    "FunnelVerdict",
    "Latency",
    "Report",
    "Row",
    "Verdict",
    "calibrate",
    "evaluate",
    "format_table",
    "index_dataset",
    "load_beir",
    "mean_scores",
    "ndcg",
    "per_query",
    "recall",
    "reciprocal_rank",
    "write_report",
]


__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
