"""Retrieve-and-rerank inside a LlamaIndex query engine, fully offline.

Indexes the first few hundred Cranfield documents with the local all-MiniLM-L6-v2
bi-encoder (FAISS), retrieves 50 candidates with ``ShortlistRetriever``, reranks them
with the local int8 ONNX cross-encoder through ``ShortlistRerank`` and answers with
LlamaIndex's ``MockLLM`` (no API key, no network). Prints the source nodes with the score
they are ordered by and both stage scores, and marks the ones Cranfield's relevance
judgements call relevant.

Run from the repository root::

    python examples/llama_index_query_engine.py [--docs 300]

Models and data are read from ``../shared`` (override with ``SHORTLIST_SHARED``). To use
Cohere instead of the local model, change one argument:
``ShortlistRerank(reranker="cohere:rerank-v3.5", top_n=5)`` (needs ``CO_API_KEY``).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import time
from pathlib import Path

from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from shortlist import RELEVANCE_SCORE_KEY, RETRIEVAL_SCORE_KEY, Index, load_documents
from shortlist.llama_index import ShortlistRerank, ShortlistRetriever

SHARED = Path(os.environ.get("SHORTLIST_SHARED", Path(__file__).resolve().parents[2] / "shared"))
DATASET = SHARED / "datasets" / "cranfield"
BI_ENCODER = SHARED / "models" / "all-MiniLM-L6-v2"
RERANKER = f"onnx:{SHARED / 'models' / 'ms-marco-MiniLM-L-12-v2-onnx-int8'}"
QUERY_ID = "1"


def load_query() -> tuple[str, dict[str, int]]:
    """Cranfield query 1 and its graded relevance judgements (doc id -> grade)."""
    queries = load_documents(DATASET / "queries.jsonl")
    text = next(q.text for q in queries if q.id == QUERY_ID)
    with (DATASET / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t")
        qrels = {r["corpus-id"]: int(r["score"]) for r in rows if r["query-id"] == QUERY_ID}
    return text, qrels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="Cranfield docs to index")
    args = parser.parse_args()
    started = time.perf_counter()
    docs = load_documents(DATASET)[: args.docs]
    index = Index.build(docs, encoder=str(BI_ENCODER))
    print(f"indexed {len(index)} documents in {time.perf_counter() - started:.1f}s")

    engine = RetrieverQueryEngine.from_args(
        ShortlistRetriever(index=index, similarity_top_k=50),
        node_postprocessors=[ShortlistRerank(reranker=RERANKER, top_n=5)],
        llm=MockLLM(max_tokens=16),  # a stand-in: swap in any LlamaIndex LLM
    )
    query, qrels = load_query()
    print(f"\nquery: {query}\n")

    response = engine.query(query)
    # NodeWithScore.score is what the nodes are ordered by (the fused score where the
    # postprocessor fused the reranker with stage 1, else the relevance score)
    columns = ("rank", 4), ("doc", 5), ("score", 7), ("relevance", 9), ("retrieval", 9)
    print(" ".join(f"{name:>{width}}" for name, width in columns), f"{'judged':>6}  title")
    for rank, source in enumerate(response.source_nodes, 1):
        meta = source.node.metadata
        grade = qrels.get(source.node.node_id)
        print(
            f"{rank:>4} {source.node.node_id:>5} {source.score:>7.4f} "
            f"{meta[RELEVANCE_SCORE_KEY]:>9.4f} "
            f"{meta[RETRIEVAL_SCORE_KEY]:>9.4f} {'' if grade is None else grade:>6}  "
            f"{str(meta.get('title', ''))[:60]}"
        )

    # the same engine, asynchronously: retrieval and reranking run off the event loop
    aresponse = asyncio.run(engine.aquery(query))
    same = [n.node.node_id for n in aresponse.source_nodes] == [
        n.node.node_id for n in response.source_nodes
    ]
    print(f"\naquery returned the same source nodes: {same}")
    print(f"answer (MockLLM): {str(response)!r}")


if __name__ == "__main__":
    main()
