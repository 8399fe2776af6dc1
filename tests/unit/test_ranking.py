"""The one rerank path as a pure function: scores in, positions and final scores out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import shortlist
from shortlist import Document, Fusion, Hit, InvalidInputError
from shortlist.rerank.ranking import RerankResult, rank_hits, retrieval_signal, select

RELEVANCE = np.array([0.2, 0.9, 0.5, 0.9, 0.1])


def test_select_sorts_best_first_and_ties_keep_input_order() -> None:
    assert select(RELEVANCE) == [
        RerankResult(1, 0.9), RerankResult(3, 0.9), RerankResult(2, 0.5),
        RerankResult(0, 0.2), RerankResult(4, 0.1),
    ]  # fmt: skip


def test_threshold_applies_to_relevance_then_top_n_cuts() -> None:
    assert [r.index for r in select(RELEVANCE, score_threshold=0.5)] == [1, 3, 2]
    assert [r.index for r in select(RELEVANCE, score_threshold=0.5, top_n=2)] == [1, 3]
    fused = select(RELEVANCE, fusion="rrf", score_threshold=0.5)
    assert {r.index for r in fused} == {1, 2, 3}  # the relevance threshold, not the fused one


def test_fusion_without_retrieval_scores_uses_input_order() -> None:
    fusion = Fusion("rrf", k=1.0)
    expected = fusion.fuse(-np.arange(5.0), RELEVANCE)
    results = select(RELEVANCE, fusion=fusion)
    assert [r.index for r in results] == list(np.argsort(-expected, kind="stable"))
    assert [r.score for r in results] == pytest.approx(sorted(expected, reverse=True))


def test_fusion_with_retrieval_scores() -> None:
    retrieval = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    results = select(RELEVANCE, retrieval, fusion="weighted:w=0.0")  # retrieval only
    assert [r.index for r in results] == [4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"top_n": 0}, "top_n must be a positive integer"),
        ({"top_n": -2}, "top_n must be a positive integer"),
        ({"top_n": True}, "top_n"),
        ({"score_threshold": "high"}, "score_threshold must be a finite number"),
        ({"score_threshold": float("nan")}, "score_threshold must be a finite number"),
        ({"fusion": "median"}, "Unknown fusion"),
        ({"fusion": 7}, "fusion must be"),
    ],
)
def test_bad_options_are_typed_errors(options: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        select(RELEVANCE, **options)


def test_mismatched_lengths_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="retrieval scores"):
        select(RELEVANCE, np.zeros(3))
    with pytest.raises(InvalidInputError, match="relevance scores"):
        rank_hits(_hits([0.5, 0.4]), np.zeros(3))


def _hits(scores: list[float | None], ranks: list[int | None] | None = None) -> list[Hit]:
    ranks = ranks or [None] * len(scores)
    return [
        Hit(Document(f"d{i}", f"text {i}"), s or 0.0, i + 1, retrieval_score=s, retrieval_rank=r)
        for i, (s, r) in enumerate(zip(scores, ranks, strict=True))
    ]


def test_retrieval_signal_uses_scores_else_ranks_never_both() -> None:
    np.testing.assert_allclose(retrieval_signal(_hits([0.9, 0.3])), [0.9, 0.3])
    np.testing.assert_allclose(retrieval_signal(_hits([0.9, None], [5, 2])), [-5, -2])
    np.testing.assert_allclose(retrieval_signal(_hits([None, None], [None, 1])), [-1, -1])


def test_rank_hits_reports_every_score() -> None:
    hits = _hits([0.9, 0.8, 0.7])
    relevance = np.array([0.1, 0.2, 0.9])
    plain = rank_hits(hits, relevance)
    assert [i for i, _ in plain] == [2, 1, 0]
    first = plain[0][1]
    assert (first.rank, first.score, first.relevance_score) == (1, 0.9, 0.9)
    assert (first.retrieval_score, first.retrieval_rank, first.fused_score) == (0.7, 3, None)
    fused = rank_hits(hits, relevance, fusion="rrf", top_n=2)
    assert len(fused) == 2
    for i, h in fused:
        assert h.fused_score == h.score and h.relevance_score == relevance[i]
        assert h.score_metadata()["fused_score"] == h.score


def test_the_package_has_one_ranking_sort() -> None:
    """Every rerank caller goes through best_first; index/ holds FAISS's own top-k search."""
    src = Path(shortlist.__file__).parent
    sorts = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if "argsort(-" in p.read_text(encoding="utf-8") and p.relative_to(src).parts[0] != "index"
    )
    assert sorts == ["rerank/fusion.py"]
