"""Fault campaign: 200 concurrent async queries through a ``cohere | onnx`` funnel while
the (real-HTTP, real-SDK) fake Cohere server injects faults into 25 % of requests.

Every query must answer with ``top_n`` hits, each marked with the backend that scored
it, and the ranking must be exactly what that backend alone gives (nothing silently
wrong); no query may raise or hang. With Cohere down and its breaker open, the funnel's
p95 latency must stay within 1.5x of the local-only funnel. Figures: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from shortlist.documents import Hit
from shortlist.index import Index
from shortlist.pipeline import Pipeline, PipelineResult
from shortlist.rerank.cohere import CohereReranker
from shortlist.rerank.fallback import FallbackReranker
from shortlist.rerank.onnx import OnnxReranker
from tests.fakes.cohere_server import FakeCohere, Reply, overlap_score

N_QUERIES = 200
FETCH_K, TOP_N = 10, 3
HARD_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def local(onnx_model_path: Path) -> OnnxReranker:
    return OnnxReranker(onnx_model_path, max_length=128)


@pytest.fixture
def queries(cranfield: tuple[dict[str, str], dict[str, str], object]) -> list[str]:
    texts = list(cranfield[1].values())
    return [texts[i % len(texts)] for i in range(N_QUERIES)]


def _cohere(server: FakeCohere) -> CohereReranker:
    return CohereReranker(api_key=server.api_key, base_url=server.url, timeout=0.5, max_retries=1)


def _overlap_order(query: str, candidates: list[Hit]) -> list[str]:
    scores = [overlap_score(query, h.text) for h in candidates]
    order = sorted(range(len(candidates)), key=lambda i: -scores[i])  # stable, as ranking is
    return [candidates[i].id for i in order[:TOP_N]]


async def _run_all(pipe: Pipeline, queries: list[str]) -> list[PipelineResult | BaseException]:
    async def one(q: str) -> PipelineResult:
        return await asyncio.wait_for(pipe.arun(q), HARD_TIMEOUT)

    return await asyncio.gather(*(one(q) for q in queries), return_exceptions=True)


def test_every_query_answers_marked_and_right(
    fake_cohere: FakeCohere, index: Index, local: OnnxReranker, queries: list[str]
) -> None:
    cohere = _cohere(fake_cohere)
    chain = FallbackReranker([cohere, local], failure_threshold=5, reset_seconds=1.0)
    pipe = Pipeline(index, chain, fetch_k=FETCH_K, top_n=TOP_N, fusion=None)
    fake_cohere.faults(0.25, seed=20261201, slow=1.5)
    t0 = time.perf_counter()
    results = asyncio.run(_run_all(pipe, queries))
    elapsed = time.perf_counter() - t0
    raised = [r for r in results if isinstance(r, BaseException)]
    assert not raised, raised[:3]
    by: Counter[str] = Counter()
    for query, result in zip(queries, results, strict=True):
        assert isinstance(result, PipelineResult)
        assert len(result.hits) == TOP_N
        sources = {h.scored_by for h in result.hits}
        assert len(sources) == 1 and sources <= {cohere.spec, local.spec}, sources
        source = sources.pop()
        assert source is not None
        by[source] += 1
        if source == cohere.spec:
            expected = _overlap_order(query, result.candidates)
        else:
            expected = [h.id for _, h in local.rerank_hits(query, result.candidates, top_n=TOP_N)]
        assert [h.id for h in result.hits] == expected
    faults = len(fake_cohere.requests) - by[cohere.spec]
    print(
        f"\nfault campaign: {N_QUERIES} queries in {elapsed:.1f}s; scored by cohere "
        f"{by[cohere.spec]}, by onnx {by[local.spec]}; raised 0; "
        f"{len(fake_cohere.requests)} HTTP requests ({faults} not answered normally)"
    )
    assert by[local.spec] > 0 and by[cohere.spec] > 0


def test_open_breaker_costs_nothing(
    fake_cohere: FakeCohere, index: Index, local: OnnxReranker, queries: list[str]
) -> None:
    cohere = _cohere(fake_cohere)
    chain = FallbackReranker([cohere, local], failure_threshold=3, reset_seconds=600)
    funnel = Pipeline(index, chain, fetch_k=FETCH_K, top_n=TOP_N, fusion=None)
    local_only = Pipeline(index, local, fetch_k=FETCH_K, top_n=TOP_N, fusion=None)
    fake_cohere.always(Reply(503))
    for q in queries[:3]:  # opens the breaker
        funnel.search(q)
    calls = len(fake_cohere.requests)

    async def timed(pipe: Pipeline, q: str) -> float:
        t = time.perf_counter()
        hits = await asyncio.wait_for(pipe.asearch(q), HARD_TIMEOUT)
        assert len(hits) == TOP_N
        return time.perf_counter() - t

    async def measure() -> tuple[list[float], list[float]]:
        a, b = [], []
        for q in queries[:20]:  # interleaved, so machine noise hits both alike
            a.append(await timed(funnel, q))
            b.append(await timed(local_only, q))
        return a, b

    chain_s, local_s = asyncio.run(measure())
    assert len(fake_cohere.requests) == calls  # the open breaker skipped Cohere entirely
    p95_chain, p95_local = np.percentile(chain_s, 95), np.percentile(local_s, 95)
    print(
        f"\nbreaker open: p95 chain {p95_chain * 1000:.1f} ms, local-only "
        f"{p95_local * 1000:.1f} ms, ratio {p95_chain / p95_local:.2f}"
    )
    assert p95_chain <= 1.5 * p95_local
