"""Fusion of retrieval and rerank signals: the arithmetic and the spec grammar."""

from __future__ import annotations

import numpy as np
import pytest

from shortlist import Fusion, InvalidInputError


def test_rrf_matches_the_formula() -> None:
    retrieval = np.array([0.9, 0.8, 0.7])  # ranks 1, 2, 3
    relevance = np.array([0.1, 0.9, 0.5])  # ranks 3, 1, 2
    fused = Fusion("rrf", k=60).fuse(retrieval, relevance)
    expected = [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]
    np.testing.assert_allclose(fused, expected)
    assert int(np.argmax(fused)) == 1


def test_weighted_mix_of_minmax_scores() -> None:
    retrieval = np.array([0.5, 0.7, 0.6])
    relevance = np.array([10.0, 0.0, 5.0])
    np.testing.assert_allclose(
        Fusion("weighted", weight=1.0).fuse(retrieval, relevance), [1, 0, 0.5]
    )
    np.testing.assert_allclose(
        Fusion("weighted", weight=0.0).fuse(retrieval, relevance), [0, 1, 0.5]
    )
    np.testing.assert_allclose(
        Fusion("weighted", weight=0.5).fuse(retrieval, relevance), [0.5, 0.5, 0.5]
    )
    # constant scores carry no signal: every candidate fuses alike (the one min-max maps
    # all-equal scores to 1, as hybrid stage 1 does), so the order stays the input's
    np.testing.assert_allclose(Fusion("weighted").fuse(np.ones(3), np.ones(3)), [1, 1, 1])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("none", None),
        ("rrf", Fusion("rrf", k=60)),
        ("RRF:k=10", Fusion("rrf", k=10)),
        ("weighted:w=0.7", Fusion("weighted", weight=0.7)),
    ],
)
def test_parse(spec: str | None, expected: Fusion | None) -> None:
    assert Fusion.parse(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("borda", "Unknown fusion"),
        ("rrf:k=0", "must be positive"),
        ("weighted:w=1.5", "within 0..1"),
        ("rrf:z=3", "Unknown option 'z' for fusion 'rrf'"),
        ("rrf:k=abc", "must be a number"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        Fusion.parse(spec)
