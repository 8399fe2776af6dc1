"""Plain-Python quickstart: index Cranfield, retrieve 100, rerank to 5, compare the rankings.

Runs offline on the real models in ../shared (or $SHORTLIST_SHARED):

    python examples/quickstart.py ["how do shock waves interact with boundary layers"] [--docs 300]

Good candidates all score close to 1.0 (the sigmoid of a large logit), so each hit shows
its relevance to six places and the model's logit, which is what tells them apart.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
from pathlib import Path

import shortlist as sl

SHARED = Path(os.environ.get("SHORTLIST_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def logit(probability: float) -> float:
    """Undo the sigmoid: the reranker's raw score, unbounded, so near-1.0 scores separate."""
    if probability >= 1.0:
        return math.inf
    if probability <= 0.0:
        return -math.inf
    return math.log(probability) - math.log1p(-probability)


def main(query: str, n_docs: int | None) -> None:
    docs = sl.load_documents(SHARED / "datasets" / "cranfield")[:n_docs]
    index = sl.Index.build(docs, encoder=SHARED / "models" / "all-MiniLM-L6-v2")

    with tempfile.TemporaryDirectory() as tmp:  # persistence: atomic, no pickle
        index.save(Path(tmp) / "cranfield")
        index = sl.Index.load(Path(tmp) / "cranfield")

    reranker = sl.load_reranker(f"onnx:{SHARED / 'models' / 'ms-marco-MiniLM-L-12-v2-onnx-int8'}")
    pipe = sl.Pipeline(index, reranker, top_n=5, fusion=None)  # the reranker's own order
    result = pipe.run(query)
    ms1, ms2 = result.retrieve_seconds * 1000, result.rerank_seconds * 1000
    print(f"stage 1: {ms1:.0f} ms, stage 2: {ms2:.0f} ms")
    for hit in result.hits:
        relevance = hit.relevance_score or 0.0
        print(
            f"#{hit.rank} (was #{hit.retrieval_rank}) {hit.id:>5}"
            f"  relevance={relevance:.6f} (logit {logit(relevance):+.2f})"
            f"  retrieval={hit.retrieval_score:.3f}  {hit.text[:50]!r}"
        )

    funnel = sl.Pipeline(index, reranker, top_n=5)  # the defaults: rerank fused with stage 1
    hits = asyncio.run(funnel.asearch(query))  # the async path
    print(f"default funnel ({funnel.fusion}):", [h.id for h in hits])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "query", nargs="*", default=["how do shock waves interact with boundary layers"]
    )
    parser.add_argument("--docs", type=int, default=None, help="index only the first N docs")
    args = parser.parse_args()
    main(" ".join(args.query), args.docs)
