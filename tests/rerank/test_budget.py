"""A latency budget: rerank best-retrieval-first until it is spent, the rest keep their
retrieval order below, marked ``scored_by="stage1"``; same through every entry point."""

from __future__ import annotations

import time

import numpy as np
import pytest
from langchain_core.documents import Document as LCDocument
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from shortlist.documents import SCORED_BY_KEY, STAGE1, Document, Hit
from shortlist.errors import InvalidInputError
from shortlist.index import Index
from shortlist.langchain import ShortlistRerank as LCRerank
from shortlist.llama_index import ShortlistRerank as LIRerank
from shortlist.pipeline import Pipeline
from shortlist.rerank.base import Reranker
from shortlist.rerank.budget import BUDGET_CHUNK

N = 4 * BUDGET_CHUNK


class Slow(Reranker):
    """Each call takes ``seconds``; later candidates score higher (reverses the order)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    @property
    def spec(self) -> str:
        return "slow"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        time.sleep(self.seconds)
        return np.array([int(t.split()[1]) for t in texts], dtype=np.float64)


HITS = [
    Hit(
        Document(str(i), f"doc {i}"), score=1.0 - i / 100, rank=i + 1, retrieval_score=1.0 - i / 100
    )
    for i in range(N)
]


def _check(ranked: list[Hit], top_n: int) -> None:
    scored = [h for h in ranked if h.scored_by == "slow"]
    rest = [h for h in ranked if h.scored_by == STAGE1]
    assert len(ranked) == top_n and len(scored) + len(rest) == top_n
    assert 0 < len(scored) < N
    assert len(scored) % BUDGET_CHUNK == 0 or len(rest) == 0
    m = len(scored) if rest else None
    # reranked ones first (best relevance first), then the unscored in retrieval order
    assert [h.relevance_score for h in scored] == sorted(
        (h.relevance_score for h in scored), reverse=True
    )
    if m is not None:
        assert [int(h.id) for h in rest] == list(range(m, m + len(rest)))
        assert all(h.relevance_score is None for h in rest)
    assert [h.rank for h in ranked] == list(range(1, top_n + 1))


def test_sync_budget_stops_between_chunks() -> None:
    ranked = [h for _, h in Slow(0.1).rerank_hits("q", HITS, budget_ms=150)]
    # chunk 1 starts at 0 ms, chunk 2 at ~100 ms (< 150), none at ~200 ms; a loaded
    # machine may push chunk 1 past the deadline, never start a third
    assert len([h for h in ranked if h.scored_by == "slow"]) in (BUDGET_CHUNK, 2 * BUDGET_CHUNK)
    _check(ranked, N)


async def test_async_budget_cancels_at_the_deadline() -> None:
    t = time.perf_counter()
    ranked = [h for _, h in await Slow(0.05).arerank_hits("q", HITS, budget_ms=120, top_n=N)]
    assert time.perf_counter() - t < 0.5
    _check(ranked, N)


def test_a_generous_budget_reranks_everything_chunk_by_chunk() -> None:
    ranked = [h for _, h in Slow(0).rerank_hits("q", HITS, budget_ms=10_000, top_n=5)]
    assert [h.id for h in ranked] == [str(i) for i in range(N - 1, N - 6, -1)]
    assert {h.scored_by for h in ranked} == {"slow"}


def test_budget_must_be_positive() -> None:
    with pytest.raises(InvalidInputError):
        Slow(0).rerank_hits("q", HITS, budget_ms=0)


async def test_adapters_honour_the_budget() -> None:
    lc_in = [LCDocument(id=h.id, page_content=h.text, metadata={}) for h in HITS]
    li_in = [NodeWithScore(node=TextNode(id_=h.id, text=h.text), score=h.score) for h in HITS]
    lc = LCRerank(reranker=Slow(0.05), top_n=N, rerank_budget_ms=80)
    li = LIRerank(reranker=Slow(0.05), top_n=N, rerank_budget_ms=80)
    outs = [
        [d.metadata[SCORED_BY_KEY] for d in lc.compress_documents(lc_in, "q")],
        [d.metadata[SCORED_BY_KEY] for d in await lc.acompress_documents(lc_in, "q")],
        [n.node.metadata[SCORED_BY_KEY] for n in li.postprocess_nodes(li_in, QueryBundle("q"))],
        [
            n.node.metadata[SCORED_BY_KEY]
            for n in await li.apostprocess_nodes(li_in, QueryBundle("q"))
        ],
    ]
    for sources in outs:
        assert "slow" in sources and STAGE1 in sources
        assert sources.index(STAGE1) == sources.count("slow")  # reranked ones first


def test_pipeline_records_how_many_were_reranked(cranfield_index: Index) -> None:
    class SlowOverlap(Slow):
        def _score(self, query: str, texts: list[str]) -> np.ndarray:
            time.sleep(self.seconds)
            return np.array([len(t) for t in texts], dtype=np.float64)

    pipe = Pipeline(cranfield_index, SlowOverlap(0.1), fetch_k=N, top_n=N, rerank_budget_ms=150)
    result = pipe.run("boundary layer flow")
    assert result.reranked in (BUDGET_CHUNK, 2 * BUDGET_CHUNK)
    unscored = [h.id for h in result.hits[result.reranked :]]
    assert unscored == [h.id for h in result.candidates[result.reranked :]]
    assert Pipeline(cranfield_index, SlowOverlap(0), fetch_k=N, top_n=3).run("x y").reranked == 3
