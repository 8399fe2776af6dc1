"""More of the bad-input campaign: the funnel, rerankers, updates, filters, persistence
arguments, both framework adapters and the CLI. Same rule as test_bad_input.py: each row
is an input that must raise a typed error whose message says what to pass; add rows,
never loosen one."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shortlist import Document, Index, IndexFormatError, InvalidInputError, Pipeline
from shortlist.documents import Hit
from shortlist.index import ShardedIndex
from shortlist.rerank.base import Reranker
from shortlist.rerank.fusion import Fusion
from tests.unit.test_bad_input import _index
from tests.unit.toy import HashEncoder


class Overlap(Reranker):
    """Word-overlap scores: a real Reranker subclass with no model."""

    backend = "overlap"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        words = set(query.split())
        return np.array([len(words & set(t.split())) for t in texts], dtype=np.float64)


def _set_against_list(_: Index) -> Any:
    index = Index.build(["t", "u"], HashEncoder(), metadatas=[{"tags": ["x"]}, {"tags": "y"}])
    return index.search("t", 2, filter={"tags": {"$in": {"x"}}})


def _sharded() -> ShardedIndex:
    return ShardedIndex.build(["alpha", "beta"], HashEncoder(), ids=["a", "b"])


HITS = [Hit(Document("a", "alpha text"), score=0.9, rank=1, retrieval_score=0.9)]

NAN = float("nan")
INF = float("inf")

CASES: list[tuple[str, Callable[[Index], Any], str]] = [
    # the funnel
    ("fetch_k=0", lambda i: Pipeline(i, Overlap(), fetch_k=0), "fetch_k"),
    ("fetch_k as a string", lambda i: Pipeline(i, Overlap(), fetch_k="10"), "fetch_k"),  # type: ignore[arg-type]
    ("fetch_k=True", lambda i: Pipeline(i, Overlap(), fetch_k=True), "fetch_k"),
    ("top_n above fetch_k", lambda i: Pipeline(i, Overlap(), fetch_k=2, top_n=3), "exceeds"),
    ("top_n=-1", lambda i: Pipeline(i, Overlap(), top_n=-1), "top_n"),
    ("mode typo", lambda i: Pipeline(i, Overlap(), mode="hybird"), "mode must be one of"),
    ("alpha NaN", lambda i: Pipeline(i, Overlap(), alpha=NAN), "alpha"),
    ("budget 0", lambda i: Pipeline(i, Overlap(), rerank_budget_ms=0), "rerank_budget_ms"),
    ("budget -5", lambda i: Pipeline(i, Overlap(), rerank_budget_ms=-5), "rerank_budget_ms"),
    ("budget inf", lambda i: Pipeline(i, Overlap(), rerank_budget_ms=INF), "rerank_budget_ms"),
    ("fusion typo", lambda i: Pipeline(i, Overlap(), fusion="rff"), "Unknown fusion"),
    ("per-call fetch_k=0", lambda i: Pipeline(i, Overlap()).search("q", fetch_k=0), "fetch_k"),
    ("per-call top_n=0", lambda i: Pipeline(i, Overlap()).search("q", top_n=0), "top_n"),
    ("reranker of the wrong type", lambda i: Pipeline(i, 42), "reranker"),  # type: ignore[arg-type]
    ("unknown reranker backend", lambda i: Pipeline(i, "colbert:x"), "colbert"),
    # rerankers
    ("rerank a single string", lambda i: Overlap().rerank("q", "alpha"), "not a single string"),
    ("rerank a non-str text", lambda i: Overlap().rerank("q", ["a", 3]), r"texts\[1\]"),  # type: ignore[list-item]
    ("rerank an empty query", lambda i: Overlap().rerank(" ", ["a"]), "non-empty"),
    ("rerank top_n=-2", lambda i: Overlap().rerank("q", ["a"], top_n=-2), "top_n"),
    ("rerank threshold NaN", lambda i: Overlap().rerank("q", ["a"], score_threshold=NAN), "finite"),
    ("rerank_hits with texts", lambda i: Overlap().rerank_hits("q", ["a"]), "shortlist Hit"),  # type: ignore[list-item]
    ("rerank_hits budget NaN", lambda i: Overlap().rerank_hits("q", HITS, budget_ms=NAN), "budget"),
    ("weighted w=2", lambda i: Fusion.parse("weighted:w=2"), "within 0..1"),
    ("rrf k=0", lambda i: Fusion.parse("rrf:k=0"), "positive"),
    ("rrf unknown option", lambda i: Fusion.parse("rrf:x=1"), "Unknown option 'x'"),
    ("fusion option not a number", lambda i: Fusion.parse("rrf:k=ten"), "must be a number"),
    ("fusion of the wrong type", lambda i: Fusion.parse(3), "fusion must be"),  # type: ignore[arg-type]
    # updates
    ("ids shorter than texts", lambda i: i.add(["x", "y"], ids=["x"]), "ids"),
    ("metadatas shorter than texts", lambda i: i.add(["x", "y"], metadatas=[{}]), "metadatas"),
    ("duplicate ids in one batch", lambda i: i.add(["x", "y"], ids=["d", "d"]), "Duplicate ids"),
    ("an id already taken", lambda i: i.add(["x"], ids=["a"]), "already"),
    ("a None text", lambda i: i.add([None]), "str"),  # type: ignore[list-item]
    ("a bytes text", lambda i: i.add([b"bytes"]), "str"),  # type: ignore[list-item]
    ("embeddings of the wrong width", lambda i: i.add(["x"], embeddings=np.ones((1, 3))), "shape"),
    ("embeddings of the wrong count", lambda i: i.add(["x"], embeddings=np.ones((2, 16))), "1"),
    ("NaN embeddings", lambda i: i.add(["x"], embeddings=np.full((1, 16), NAN)), "NaN"),
    ("metadata not a dict", lambda i: i.add(["x"], metadatas=["year=2020"]), "metadata"),  # type: ignore[list-item]
    ("metadata value not JSON", lambda i: i.add(["x"], metadatas=[{"s": {1, 2}}]), "JSON"),
    ("delete a single string", lambda i: i.delete("a"), "not a single string"),
    ("delete an int id", lambda i: i.delete([0]), "str"),  # type: ignore[list-item]
    ("upsert a single string", lambda i: i.upsert("hello"), "not a single string"),
    # filters
    ("$in with a scalar", lambda i: i.search("q", 2, filter={"year": {"$in": 2020}}), r"\$in"),
    ("unknown operator", lambda i: i.search("q", 2, filter={"year": {"$regex": "2"}}), "regex"),
    ("$and with a dict", lambda i: i.search("q", 2, filter={"$and": {"year": 2020}}), r"\$and"),
    ("filter not a dict", lambda i: i.search("q", 2, filter="year=2020"), "filter"),  # type: ignore[arg-type]
    ("$gt with a list", lambda i: i.search("q", 2, filter={"year": {"$gt": [1]}}), r"\$gt"),
    # search
    ("k as a float", lambda i: i.search("q", 2.5), "positive integer"),  # type: ignore[arg-type]
    ("k=True", lambda i: i.search("q", True), "positive integer"),
    ("query not a str", lambda i: i.search(["q"], 2), "str"),  # type: ignore[arg-type]
    ("search_batch with one string", lambda i: i.search_batch("q", 2), "list of queries"),
    ("vector of the wrong width", lambda i: i.search_vectors(np.ones((1, 3)), 2), "dim"),
    ("3-D query vectors", lambda i: i.search_vectors(np.ones((1, 16, 16)), 2), "2-D array"),
    ("query vectors of strings", lambda i: i.search_vectors([["a"] * 16], 2), "must be numbers"),
    # the outside campaign's last raw (numpy / Python) and silent rows
    ("$in with a set against list metadata", _set_against_list, "callable filter"),
    ("embeddings of strings", lambda i: i.add(["x"], embeddings=[["a"] * 16]), "must be numbers"),
    (
        "embeddings of numeric strings",
        lambda i: i.upsert(["x"], embeddings=[["1"] * 16]),
        "numbers",
    ),
    ("ragged embeddings", lambda i: i.add(["x", "y"], embeddings=[[1.0] * 16, [1.0]]), "numeric"),
    ("delete(None)", lambda i: i.delete(None), r"list of ids, got None; .*index\.ids"),  # type: ignore[arg-type]
    ("get(None)", lambda i: i.get(None), "list of ids, got None"),  # type: ignore[arg-type]
    ("get an int id", lambda i: i.get([0]), r"ids\[0\] is 0"),  # type: ignore[list-item]
    ("batch_size=0", lambda i: Index(HashEncoder(), batch_size=0), "batch_size must be a positive"),
    ("batch_size='32'", lambda i: Index(HashEncoder(), batch_size="32"), "batch_size"),  # type: ignore[arg-type]
    ("batch_size=-1 (was silent)", lambda i: Index(HashEncoder(), batch_size=-1), "batch_size"),
    ("sharded batch_size=0", lambda i: ShardedIndex(HashEncoder(), batch_size=0), "batch_size"),
    ("sharded get(None)", lambda i: _sharded().get(None), "list of ids"),  # type: ignore[arg-type]
    ("sharded 3-D vectors", lambda i: _sharded().search_vectors(np.ones((2, 2, 16))), "2-D"),
]


@pytest.mark.parametrize(("case", "call", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_typed_error(case: str, call: Callable[[Index], Any], message: str) -> None:
    index = _index()
    before = [(d.id, d.text, d.metadata) for d in index.get(index.ids)]
    with pytest.raises(InvalidInputError, match=message):
        call(index)
    assert [(d.id, d.text, d.metadata) for d in index.get(index.ids)] == before


def test_save_and_load_refuse_bad_paths(tmp_path: Path) -> None:
    index = _index()
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InvalidInputError, match=r"not a directory|is a file"):
        index.save(tmp_path / "a-file")
    with pytest.raises(IndexFormatError, match="missing"):
        Index.load(tmp_path / "missing", encoder=HashEncoder())
