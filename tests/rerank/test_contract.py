"""The behaviour every reranker backend promises, checked on real models and real HTTP.

Parametrised over ``BACKENDS`` (see ``conftest.py``): cross-encoder (torch), onnx, and
cohere (the real SDK against the local fake server).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from shortlist.errors import InvalidInputError
from shortlist.rerank import BACKENDS, Reranker, RerankResult

from .conftest import FACTORIES, QUERY, RELEVANT, TEXTS


def test_every_backend_has_a_factory() -> None:
    assert set(FACTORIES) == set(BACKENDS)


def test_best_first_and_relevant_on_top(reranker: Reranker) -> None:
    results = reranker.rerank(QUERY, TEXTS)
    assert all(isinstance(r, RerankResult) for r in results)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert results[0].index == RELEVANT
    assert sorted(r.index for r in results) == list(range(len(TEXTS)))  # a permutation


def test_scores_are_probabilities_by_default(reranker: Reranker) -> None:
    scores = reranker.score(QUERY, TEXTS)
    assert scores.shape == (len(TEXTS),)
    assert np.all((scores >= 0.0) & (scores <= 1.0))


def test_score_is_in_input_order_and_matches_rerank(reranker: Reranker) -> None:
    scores = reranker.score(QUERY, TEXTS)
    for r in reranker.rerank(QUERY, TEXTS):
        assert r.score == pytest.approx(scores[r.index], abs=1e-6)


@pytest.mark.parametrize("top_n", [1, 3, 100])
def test_top_n_is_a_prefix_of_the_full_ranking(reranker: Reranker, top_n: int) -> None:
    full = reranker.rerank(QUERY, TEXTS)
    cut = reranker.rerank(QUERY, TEXTS, top_n=top_n)
    assert len(cut) == min(top_n, len(TEXTS))
    assert [r.index for r in cut] == [r.index for r in full[:top_n]]


def test_score_threshold_filters(reranker: Reranker) -> None:
    full = reranker.rerank(QUERY, TEXTS)
    threshold = (full[0].score + full[1].score) / 2
    kept = reranker.rerank(QUERY, TEXTS, score_threshold=threshold)
    assert [r.index for r in kept] == [full[0].index]
    assert reranker.rerank(QUERY, TEXTS, score_threshold=2.0) == []


def test_results_are_a_subset_without_duplicates(reranker: Reranker) -> None:
    texts = [*TEXTS, TEXTS[RELEVANT]]  # a duplicate text is still two candidates
    results = reranker.rerank(QUERY, texts, top_n=4)
    indices = [r.index for r in results]
    assert len(set(indices)) == len(indices) == 4
    assert all(0 <= i < len(texts) for i in indices)
    assert {indices[0], indices[1]} == {RELEVANT, len(texts) - 1}


def test_empty_texts_give_empty_results(reranker: Reranker) -> None:
    assert reranker.rerank(QUERY, []) == []
    assert reranker.score(QUERY, []).shape == (0,)


def test_inputs_are_not_mutated(reranker: Reranker) -> None:
    texts = list(TEXTS)
    reranker.rerank(QUERY, texts, top_n=2)
    assert texts == TEXTS
    assert reranker.rerank(QUERY, tuple(TEXTS))[0].index == RELEVANT  # any sequence works


@pytest.mark.parametrize("query", ["", "   ", None, 3])
def test_bad_query_is_invalid_input(reranker: Reranker, query: object) -> None:
    with pytest.raises(InvalidInputError, match="query"):
        reranker.rerank(query, TEXTS)  # type: ignore[arg-type]


@pytest.mark.parametrize("top_n", [0, -1, True, 1.5, "3"])
def test_bad_top_n_is_invalid_input(reranker: Reranker, top_n: object) -> None:
    with pytest.raises(InvalidInputError, match="top_n"):
        reranker.rerank(QUERY, TEXTS, top_n=top_n)  # type: ignore[arg-type]


def test_bad_texts_are_invalid_input(reranker: Reranker) -> None:
    with pytest.raises(InvalidInputError, match="single string"):
        reranker.rerank(QUERY, "just one string")
    with pytest.raises(InvalidInputError, match=r"texts\[1\]"):
        reranker.rerank(QUERY, ["ok", None])  # type: ignore[list-item]


async def test_arerank_equals_rerank(reranker: Reranker) -> None:
    sync = reranker.rerank(QUERY, TEXTS, top_n=4)
    asyn = await reranker.arerank(QUERY, TEXTS, top_n=4)
    assert [r.index for r in asyn] == [r.index for r in sync]
    assert [r.score for r in asyn] == pytest.approx([r.score for r in sync], abs=1e-6)
    assert await reranker.arerank(QUERY, []) == []
    with pytest.raises(InvalidInputError):
        await reranker.arerank("", TEXTS)


async def test_arerank_does_not_block_the_event_loop(
    reranker: Reranker, request: pytest.FixtureRequest, cranfield: tuple
) -> None:
    """A ticker coroutine keeps running while a (slow enough) rerank is awaited."""
    corpus, _, _ = cranfield
    texts = [corpus[str(i)] for i in range(1, 13)]
    if reranker.backend == "cohere":
        from tests.fakes.cohere_server import Reply

        request.getfixturevalue("fake_cohere").script(Reply(delay=0.4))
    ticks: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = time.perf_counter()
    results = await reranker.arerank("boundary layer flow", texts, top_n=3)
    elapsed = time.perf_counter() - start
    done.set()
    await task
    assert len(results) == 3
    during = [t for t in ticks if start < t < start + elapsed]
    # A blocked loop would tick at most once while the rerank ran.
    assert len(during) >= 5, f"{len(during)} ticks in {elapsed:.2f}s"
