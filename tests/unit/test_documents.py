"""Documents are immutable for real: metadata is deep-copied at ingestion."""

from __future__ import annotations

from pathlib import Path

from shortlist import FUSED_SCORE_KEY, Document, Hit, Index
from tests.unit.toy import HashEncoder


def test_nested_metadata_is_copied_at_ingestion(tmp_path: Path) -> None:
    meta = {"source": {"file": "a.pdf", "pages": [1, 2]}}
    index = Index(HashEncoder())
    index.add([Document("a", "alpha", meta)])
    meta["source"]["file"] = "changed.pdf"  # the caller edits its own dict afterwards
    meta["source"]["pages"].append(3)
    assert index.get(["a"])[0].metadata["source"] == {"file": "a.pdf", "pages": [1, 2]}
    loaded = Index.load(index.save(tmp_path / "idx"), encoder=HashEncoder())
    assert loaded.get(["a"])[0].metadata["source"] == {"file": "a.pdf", "pages": [1, 2]}


def test_copies_handed_out_are_deep() -> None:
    doc = Document("a", "alpha", {"tags": ["x"]})
    for copy in (doc.metadata_copy(), doc.to_dict()["metadata"]):
        copy["tags"].append("y")
    assert doc.metadata["tags"] == ["x"]


def test_fused_score_is_reported_only_when_set() -> None:
    doc = Document("a", "alpha")
    assert FUSED_SCORE_KEY not in Hit(doc, 0.5, 1, relevance_score=0.5).score_metadata()
    fused = Hit(doc, 0.03, 1, relevance_score=0.5, fused_score=0.03)
    assert fused.score_metadata()[FUSED_SCORE_KEY] == 0.03
    assert fused.to_dict()[FUSED_SCORE_KEY] == 0.03
