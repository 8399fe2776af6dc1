"""The framework-free two-stage pipeline on real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from shortlist import Index, InvalidInputError, Pipeline, defaults
from shortlist.rerank import load_reranker
from shortlist.rerank.base import Reranker

QUERY = (
    "what similarity laws must be obeyed when constructing aeroelastic models of heated high "
    "speed aircraft"
)


@pytest.fixture(scope="module")
def reranker(onnx_model_path: Path) -> Reranker:
    return load_reranker(f"onnx:{onnx_model_path}", max_length=256)


def test_run_reranks_the_candidates_and_keeps_both_scores(index: Index, reranker: Reranker) -> None:
    result = Pipeline(index, reranker, fetch_k=20, top_n=5, fusion=None).run(QUERY)
    assert [h.id for h in result.candidates] == [
        h.id for h in index.search(QUERY, k=20, mode="hybrid", alpha=defaults.HYBRID_ALPHA)
    ]
    assert len(result.hits) == 5 and [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    relevance = [h.relevance_score for h in result.hits]
    assert relevance == sorted(relevance, reverse=True)
    assert all(0.0 <= r <= 1.0 for r in relevance)  # sigmoid probabilities by default
    by_id = {h.id: h for h in result.candidates}
    for h in result.hits:
        assert h.score == h.relevance_score
        assert h.retrieval_score == by_id[h.id].score and h.retrieval_rank == by_id[h.id].rank
    # the reranked top 5 are the 5 best of all 20 candidates by the reranker's own scores
    all_scores = reranker.score(QUERY, [h.text for h in result.candidates])
    assert sorted(all_scores, reverse=True)[:5] == pytest.approx(relevance)
    assert result.retrieve_seconds > 0 and result.rerank_seconds > 0


async def test_async_equals_sync(index: Index, reranker: Reranker) -> None:
    pipe = Pipeline(index, reranker, fetch_k=15, top_n=4, fusion="rrf")
    sync = pipe.search(QUERY)
    async_ = await pipe.asearch(QUERY)
    assert [(h.id, round(h.score, 9)) for h in sync] == [(h.id, round(h.score, 9)) for h in async_]


def test_fusion_orders_by_fused_score_and_keeps_raw_scores(
    index: Index, reranker: Reranker
) -> None:
    hits = Pipeline(index, reranker, fetch_k=15, top_n=15, fusion="rrf").search(QUERY)
    plain = Pipeline(index, reranker, fetch_k=15, top_n=15, fusion=None).search(QUERY)
    plain = {h.id: h for h in plain}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for h in hits:
        rerank_rank = plain[h.id].rank
        assert h.score == pytest.approx(1 / (60 + h.retrieval_rank) + 1 / (60 + rerank_rank))
        assert h.relevance_score == pytest.approx(plain[h.id].relevance_score)


def test_threshold_filters_on_relevance_and_spec_strings_work(
    index: Index, onnx_model_path: Path
) -> None:
    pipe = Pipeline(
        index, f"onnx:{onnx_model_path}", fetch_k=10, top_n=10, score_threshold=0.5, fusion=None
    )
    hits = pipe.search(QUERY)
    unfiltered = Pipeline(index, pipe.reranker, fetch_k=10, top_n=10, fusion=None).search(QUERY)
    kept = [h.id for h in unfiltered if (h.relevance_score or 0) >= 0.5]
    assert [h.id for h in hits] == kept  # exactly those at or above 0.5, in the same order
    assert 0 < len(kept) < 10  # this query has candidates on both sides of 0.5


def test_without_reranker_it_is_stage_one(index: Index) -> None:
    hits = Pipeline(index, fetch_k=50, top_n=3).search(QUERY)
    stage1 = index.search(QUERY, k=50, mode="hybrid", alpha=defaults.HYBRID_ALPHA)
    assert [h.id for h in hits] == [h.id for h in stage1[:3]]
    assert all(h.relevance_score is None for h in hits)


def test_bad_configuration(index: Index) -> None:
    with pytest.raises(InvalidInputError, match="fetch_k must be a positive integer"):
        Pipeline(index, fetch_k=0)
    with pytest.raises(InvalidInputError, match="Unknown fusion"):
        Pipeline(index, fusion="borda")
    with pytest.raises(InvalidInputError, match="top_n=20 exceeds fetch_k=10"):
        Pipeline(index, fetch_k=10, top_n=20)
    with pytest.raises(InvalidInputError, match="reranker must be"):
        Pipeline(index, 42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"top_n": -2}, "top_n must be a positive integer"),  # used to return 8 hits
        ({"top_n": 0}, "top_n must be a positive integer"),  # used to mean "the default"
        ({"fetch_k": 0}, "fetch_k must be a positive integer"),  # likewise
        ({"top_n": 2.5}, "top_n must be a positive integer"),
        ({"top_n": 20}, "top_n=20 exceeds fetch_k=10"),  # used to return 10 silently
        ({"fetch_k": 3}, "top_n=5 exceeds fetch_k=3"),
    ],
)
async def test_per_call_sizes_mean_what_they_say(index: Index, options: dict, match: str) -> None:
    pipe = Pipeline(index, fetch_k=10, top_n=5)
    with pytest.raises(InvalidInputError, match=match):
        pipe.search(QUERY, **options)
    with pytest.raises(InvalidInputError, match=match):
        await pipe.asearch(QUERY, **options)
    assert len(pipe.search(QUERY, top_n=2)) == 2
    assert len(pipe.search(QUERY, fetch_k=20, top_n=20)) == 20


def test_search_takes_explicit_keywords_only(index: Index) -> None:
    with pytest.raises(TypeError):
        Pipeline(index).search(QUERY, topn=3)  # type: ignore[call-arg]


@pytest.mark.parametrize("threshold", ["high", float("nan"), float("inf")])
def test_bad_score_threshold_fails_at_construction(
    index: Index, reranker: Reranker, threshold: object
) -> None:
    with pytest.raises(InvalidInputError, match="score_threshold must be a finite number"):
        Pipeline(index, reranker, score_threshold=threshold)  # type: ignore[arg-type]


def test_fused_hits_carry_the_fused_score(index: Index, reranker: Reranker) -> None:
    hits = Pipeline(index, reranker, fetch_k=8, top_n=3, fusion="rrf").search(QUERY)
    assert all(h.fused_score == h.score for h in hits)
    plain = Pipeline(index, reranker, fetch_k=8, fusion=None).search(QUERY)
    assert all(h.fused_score is None for h in plain)
    default = Pipeline(index, reranker, fetch_k=8).search(QUERY)  # the funnel fuses by default
    assert all(h.fused_score == h.score for h in default)
