"""Plain-Python quickstart: index Cranfield, retrieve 100, rerank to 5, compare the rankings.

Runs offline on the real models in ../shared (or $SHORTLIST_SHARED):

    python examples/quickstart.py "how do shock waves interact with boundary layers"
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

import shortlist as sl

SHARED = Path(os.environ.get("SHORTLIST_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main(query: str) -> None:
    docs = sl.load_documents(SHARED / "datasets" / "cranfield")
    index = sl.Index.build(docs, encoder=SHARED / "models" / "all-MiniLM-L6-v2")

    with tempfile.TemporaryDirectory() as tmp:  # persistence: atomic, no pickle
        index.save(Path(tmp) / "cranfield")
        index = sl.Index.load(Path(tmp) / "cranfield")

    reranker = sl.load_reranker(f"onnx:{SHARED / 'models' / 'ms-marco-MiniLM-L-12-v2-onnx-int8'}")
    pipe = sl.Pipeline(index, reranker, fetch_k=100, top_n=5)
    result = pipe.run(query)
    ms1, ms2 = result.retrieve_seconds * 1000, result.rerank_seconds * 1000
    print(f"stage 1: {ms1:.0f} ms, stage 2: {ms2:.0f} ms")
    for hit in result.hits:
        print(
            f"#{hit.rank} (was #{hit.retrieval_rank}) {hit.id:>5}"
            f"  relevance={hit.relevance_score:.3f}  retrieval={hit.retrieval_score:.3f}"
            f"  {hit.text[:60]!r}"
        )

    fused = sl.Pipeline(index, reranker, fetch_k=100, top_n=5, fusion="rrf")
    hits = asyncio.run(fused.asearch(query))  # the async path, with rank fusion
    print("rrf-fused:", [h.id for h in hits])


if __name__ == "__main__":
    main(" ".join(sys.argv[1:]) or "how do shock waves interact with boundary layers")
