"""Hits report every stage's score under the shared metadata keys."""

from __future__ import annotations

from shortlist import FUSED_SCORE_KEY, Document, Hit


def test_fused_score_is_reported_only_when_set() -> None:
    doc = Document("a", "alpha")
    assert FUSED_SCORE_KEY not in Hit(doc, 0.5, 1, relevance_score=0.5).score_metadata()
    fused = Hit(doc, 0.03, 1, relevance_score=0.5, fused_score=0.03)
    assert fused.score_metadata()[FUSED_SCORE_KEY] == 0.03
    assert fused.to_dict()[FUSED_SCORE_KEY] == 0.03
