"""The behaviour every reranker backend promises, checked on real models and real HTTP.

Parametrised over ``BACKENDS`` (see ``conftest.py``): cross-encoder (torch), onnx, and
cohere (the real SDK against the local fake server); and over both entry points, plain
texts (``rerank``) and stage-1 hits (``rerank_hits``), which share one ranking path.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

from shortlist import Document, Hit
from shortlist.errors import InvalidInputError
from shortlist.rerank import BACKENDS, Reranker, RerankResult
from shortlist.rerank.fusion import Fusion
from tests.loop_lag import max_loop_lag

from .conftest import CLIENTS, FACTORIES, QUERY, RELEVANT, TEXTS

Ranked = list[tuple[int, float]]


@pytest.fixture(params=["texts", "hits"])
def entry(request: pytest.FixtureRequest) -> str:
    """Which entry point a test goes through: ``rerank`` (texts) or ``rerank_hits``."""
    return str(request.param)


def as_hits(texts: list[str] | tuple[str, ...]) -> list[Hit]:
    """Texts as stage-1 hits without retrieval scores (input order is the retrieval order)."""
    return [Hit(Document(f"d{i}", t), 0.0, i + 1) for i, t in enumerate(texts)]


def run(reranker: Reranker, entry: str, query: Any, texts: Any, **options: Any) -> Ranked:
    """(input position, final score) pairs, best first, through the chosen entry point."""
    if entry == "texts":
        results = reranker.rerank(query, texts, **options)
        assert all(isinstance(r, RerankResult) for r in results)
        return [(r.index, r.score) for r in results]
    pairs = reranker.rerank_hits(query, as_hits(texts), **options)
    assert all(isinstance(h, Hit) for _, h in pairs)
    return [(i, h.score) for i, h in pairs]


async def arun(reranker: Reranker, entry: str, query: Any, texts: Any, **options: Any) -> Ranked:
    """Async :func:`run`."""
    if entry == "texts":
        return [(r.index, r.score) for r in await reranker.arerank(query, texts, **options)]
    pairs = await reranker.arerank_hits(query, as_hits(texts), **options)
    return [(i, h.score) for i, h in pairs]


def test_every_backend_has_a_factory() -> None:
    assert set(FACTORIES) | CLIENTS == set(BACKENDS)


def test_best_first_and_relevant_on_top(reranker: Reranker, entry: str) -> None:
    results = run(reranker, entry, QUERY, TEXTS)
    scores = [s for _, s in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0][0] == RELEVANT
    assert sorted(i for i, _ in results) == list(range(len(TEXTS)))  # a permutation


def test_scores_are_probabilities_by_default(reranker: Reranker) -> None:
    scores = reranker.score(QUERY, TEXTS)
    assert scores.shape == (len(TEXTS),)
    assert np.all((scores >= 0.0) & (scores <= 1.0))


def test_score_is_in_input_order_and_matches_rerank(reranker: Reranker, entry: str) -> None:
    scores = reranker.score(QUERY, TEXTS)
    for i, score in run(reranker, entry, QUERY, TEXTS):
        assert score == pytest.approx(scores[i], abs=1e-6)


def test_hits_keep_documents_and_report_every_score(reranker: Reranker) -> None:
    hits = as_hits(TEXTS)
    scores = reranker.score(QUERY, TEXTS)
    pairs = reranker.rerank_hits(QUERY, hits, top_n=3)
    assert [h.rank for _, h in pairs] == [1, 2, 3]
    for i, out in pairs:
        assert out.document is hits[i].document
        assert out.relevance_score == pytest.approx(scores[i], abs=1e-6) == out.score
        assert out.retrieval_rank == i + 1 and out.fused_score is None


def test_the_entry_points_agree(reranker: Reranker) -> None:
    texts = run(reranker, "texts", QUERY, TEXTS, top_n=4, fusion="rrf")
    hits = run(reranker, "hits", QUERY, TEXTS, top_n=4, fusion="rrf")
    assert [i for i, _ in texts] == [i for i, _ in hits]
    assert [s for _, s in texts] == pytest.approx([s for _, s in hits], abs=1e-12)


def test_fusion_orders_by_the_fused_score(reranker: Reranker, entry: str) -> None:
    relevance = reranker.score(QUERY, TEXTS)
    fusion = Fusion("rrf", k=1.0)  # a small k makes the retrieval order matter
    fused = fusion.fuse(-np.arange(len(TEXTS), dtype=float), relevance)  # input order
    results = run(reranker, entry, QUERY, TEXTS, fusion=fusion)
    assert [s for _, s in results] == pytest.approx([fused[i] for i, _ in results])
    assert [s for _, s in results] == sorted((s for _, s in results), reverse=True)


def test_fusion_uses_the_hits_retrieval_scores(reranker: Reranker) -> None:
    hits = [
        Hit(h.document, s, h.rank, retrieval_score=s)
        for h, s in zip(as_hits(TEXTS), [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], strict=True)
    ]  # retrieval prefers the last text: the reverse of the input order
    relevance = reranker.score(QUERY, TEXTS)
    expected = Fusion("weighted", weight=0.5).fuse(np.array([h.score for h in hits]), relevance)
    pairs = reranker.rerank_hits(QUERY, hits, fusion="weighted:w=0.5")
    assert [i for i, _ in pairs] == list(np.argsort(-expected, kind="stable"))
    for i, out in pairs:
        assert out.fused_score == pytest.approx(expected[i]) == out.score
        assert out.retrieval_score == hits[i].retrieval_score
        assert out.relevance_score == pytest.approx(relevance[i], abs=1e-6)


@pytest.mark.parametrize("top_n", [1, 3, 100])
def test_top_n_is_a_prefix_of_the_full_ranking(reranker: Reranker, entry: str, top_n: int) -> None:
    full = run(reranker, entry, QUERY, TEXTS)
    cut = run(reranker, entry, QUERY, TEXTS, top_n=top_n)
    assert len(cut) == min(top_n, len(TEXTS))
    assert [i for i, _ in cut] == [i for i, _ in full[:top_n]]


def test_score_threshold_filters(reranker: Reranker, entry: str) -> None:
    full = run(reranker, entry, QUERY, TEXTS)
    threshold = (full[0][1] + full[1][1]) / 2
    kept = run(reranker, entry, QUERY, TEXTS, score_threshold=threshold)
    assert [i for i, _ in kept] == [full[0][0]]
    assert run(reranker, entry, QUERY, TEXTS, score_threshold=2.0) == []


def test_results_are_a_subset_without_duplicates(reranker: Reranker, entry: str) -> None:
    texts = [*TEXTS, TEXTS[RELEVANT]]  # a duplicate text is still two candidates
    indices = [i for i, _ in run(reranker, entry, QUERY, texts, top_n=4)]
    assert len(set(indices)) == len(indices) == 4
    assert all(0 <= i < len(texts) for i in indices)
    assert {indices[0], indices[1]} == {RELEVANT, len(texts) - 1}


def test_empty_input_gives_empty_results(reranker: Reranker, entry: str) -> None:
    assert run(reranker, entry, QUERY, []) == []
    assert reranker.score(QUERY, []).shape == (0,)


def test_inputs_are_not_mutated(reranker: Reranker) -> None:
    texts = list(TEXTS)
    reranker.rerank(QUERY, texts, top_n=2)
    assert texts == TEXTS
    assert reranker.rerank(QUERY, tuple(TEXTS))[0].index == RELEVANT  # any sequence works
    hits = as_hits(TEXTS)
    before = list(hits)
    reranker.rerank_hits(QUERY, hits, top_n=2, fusion="rrf")
    assert hits == before  # frozen hits, same list


@pytest.mark.parametrize("query", ["", "   ", None, 3])
def test_bad_query_is_invalid_input(reranker: Reranker, entry: str, query: object) -> None:
    with pytest.raises(InvalidInputError, match="query"):
        run(reranker, entry, query, TEXTS)


@pytest.mark.parametrize("top_n", [0, -1, True, 1.5, "3"])
def test_bad_top_n_is_invalid_input(reranker: Reranker, entry: str, top_n: object) -> None:
    with pytest.raises(InvalidInputError, match="top_n"):
        run(reranker, entry, QUERY, TEXTS, top_n=top_n)


@pytest.mark.parametrize("threshold", ["high", float("nan"), float("inf"), True])
def test_bad_score_threshold_is_invalid_input(
    reranker: Reranker, entry: str, threshold: object
) -> None:
    with pytest.raises(InvalidInputError, match="score_threshold must be a finite number"):
        run(reranker, entry, QUERY, TEXTS, score_threshold=threshold)


@pytest.mark.parametrize("fusion", ["borda", 3])
def test_bad_fusion_is_invalid_input(reranker: Reranker, entry: str, fusion: object) -> None:
    with pytest.raises(InvalidInputError, match="fusion"):
        run(reranker, entry, QUERY, TEXTS, fusion=fusion)


def test_bad_texts_are_invalid_input(reranker: Reranker) -> None:
    with pytest.raises(InvalidInputError, match="single string"):
        reranker.rerank(QUERY, "just one string")
    with pytest.raises(InvalidInputError, match=r"texts\[1\]"):
        reranker.rerank(QUERY, ["ok", None])  # type: ignore[list-item]


def test_bad_hits_are_invalid_input(reranker: Reranker) -> None:
    with pytest.raises(InvalidInputError, match="sequence of shortlist Hits"):
        reranker.rerank_hits(QUERY, "just one string")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"hits\[1\]"):
        reranker.rerank_hits(QUERY, [as_hits(["ok"])[0], "text"])  # type: ignore[list-item]


async def test_async_equals_sync(reranker: Reranker, entry: str) -> None:
    sync = run(reranker, entry, QUERY, TEXTS, top_n=4)
    asyn = await arun(reranker, entry, QUERY, TEXTS, top_n=4)
    assert [i for i, _ in asyn] == [i for i, _ in sync]
    assert [s for _, s in asyn] == pytest.approx([s for _, s in sync], abs=1e-6)
    assert await arun(reranker, entry, QUERY, []) == []
    with pytest.raises(InvalidInputError):
        await arun(reranker, entry, "", TEXTS)
    with pytest.raises(InvalidInputError, match="score_threshold"):
        await arun(reranker, entry, QUERY, TEXTS, score_threshold=float("nan"))


async def test_async_does_not_block_the_event_loop(
    reranker: Reranker, entry: str, request: pytest.FixtureRequest, cranfield: tuple
) -> None:
    """The event loop keeps running while a (slow enough) rerank is awaited."""
    corpus, _, _ = cranfield
    texts = [corpus[str(i)] for i in range(1, 13)]
    if reranker.backend == "cohere":
        from tests.fakes.cohere_server import Reply

        request.getfixturevalue("fake_cohere").script(Reply(delay=0.4))
    start = time.perf_counter()
    results, lag = await max_loop_lag(arun(reranker, entry, "boundary layer flow", texts, top_n=3))
    elapsed = time.perf_counter() - start
    assert len(results) == 3
    # A blocked loop would stall for the whole rerank; a free one only for scheduling noise.
    assert lag < elapsed / 2, f"the loop stalled {lag:.3f}s during a {elapsed:.3f}s rerank"
