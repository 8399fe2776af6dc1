"""Index bookkeeping: ids, duplicates, validation, specs and filters."""

from __future__ import annotations

import numpy as np
import pytest

from shortlist import Document, Index, InvalidInputError, UnknownBackendError
from shortlist.index.filters import compile_filter
from shortlist.index.specs import parse_spec
from tests.unit.toy import HashEncoder


def test_add_generates_ids_and_rejects_duplicates() -> None:
    index = Index(HashEncoder())
    ids = index.add(["a", "b"])
    assert len(set(ids)) == 2 and all(len(i) == 36 for i in ids)  # uuid4 strings
    with pytest.raises(InvalidInputError, match=r"already in the index.*upsert"):
        index.add(["c"], ids=[ids[0]])
    with pytest.raises(InvalidInputError, match="Duplicate ids"):
        index.add(["x", "y"], ids=["same", "same"])
    assert len(index) == 2  # nothing half-added


def test_upsert_replaces_and_delete_ignores_unknown() -> None:
    index = Index(HashEncoder())
    index.add([Document("k", "old", {"v": 1})])
    index.upsert([Document("k", "new", {"v": 2})])
    assert len(index) == 1 and index.get(["k"])[0].metadata["v"] == 2
    assert index.search("new", k=5)[0].id == "k"
    assert index.delete(["k", "unknown"]) == 1 and len(index) == 0
    assert index.delete(["unknown"]) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metadatas": [{}]}, "metadatas has 1 entries but there are 2 texts"),
        ({"metadatas": [{"when": object()}, {}]}, "JSON-serialisable"),
        ({"metadatas": [{"x": float("nan")}, {}]}, "JSON-serialisable"),
        ({"embeddings": np.zeros((2, 3), np.float32)}, r"shape \(2, 16\)"),
        ({"embeddings": np.full((2, 16), np.nan, np.float32)}, "NaN"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict[str, object], message: str) -> None:
    index = Index(HashEncoder())
    with pytest.raises(InvalidInputError, match=message):
        index.add(["one", "two"], **kwargs)  # type: ignore[arg-type]
    assert len(index) == 0


def test_bad_queries_and_k() -> None:
    index = Index.build(["x"], HashEncoder())
    for bad in (0, -1, 1.5, True):
        with pytest.raises(InvalidInputError, match="k must be a positive integer"):
            index.search("q", k=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="non-empty"):
        index.search("   ")
    assert len(index.search("q", k=100)) == 1  # k larger than the index is fine


def test_caller_documents_are_never_mutated() -> None:
    meta = {"tags": ["a"]}
    index = Index(HashEncoder())
    index.add(["t"], metadatas=[meta], ids=["i"])
    stored = index.get(["i"])[0]
    with pytest.raises(TypeError):
        stored.metadata["new"] = 1  # type: ignore[index]
    assert meta == {"tags": ["a"]}


def test_ivfpq_needs_enough_training_data() -> None:
    with pytest.raises(
        InvalidInputError, match=r"trained on at least 256 vectors.*'flat' or 'hnsw'"
    ):
        Index.build([f"t{i}" for i in range(50)], HashEncoder(), spec="ivfpq")


@pytest.mark.parametrize(
    ("spec", "message", "error"),
    [
        ("annoy", "Unknown index type 'annoy'", UnknownBackendError),
        ("hnsw:m=abc", "must be an integer", InvalidInputError),
        (
            "hnsw:efsearch=3",
            r"Did you mean 'ef_search'\? Valid options: m, ef_construction, ef_search",
            InvalidInputError,
        ),
        ("hnsw:m=0", "must be positive", InvalidInputError),
        ("faiss:", "needs a FAISS factory string", InvalidInputError),
    ],
)
def test_bad_specs(spec: str, message: str, error: type[Exception]) -> None:
    with pytest.raises(error, match=message):
        parse_spec(spec)


def test_spec_roundtrip_and_faiss_factory() -> None:
    assert str(parse_spec("HNSW:ef_search=128")) == "hnsw:ef_construction=80,ef_search=128,m=32"
    assert parse_spec(str(parse_spec("hnsw:m=16"))) == parse_spec("hnsw:m=16")
    texts = [f"t{i}" for i in range(40)]
    index = Index.build(texts, HashEncoder(), ids=texts, spec="faiss:IVF4,Flat")
    assert index.search("t3", k=1)[0].id == "t3" and len(index) == 40


def test_filter_operators() -> None:
    meta = {"lang": "en", "year": 2021, "tags": "x"}
    cases = {
        "eq": ({"lang": "en"}, True),
        "eq-miss": ({"lang": "fr"}, False),
        "in": ({"year": {"$in": [2020, 2021]}}, True),
        "nin": ({"year": {"$nin": [2021]}}, False),
        "ne-missing-key": ({"absent": {"$ne": 1}}, True),
        "gte": ({"year": {"$gte": 2021, "$lt": 2022}}, True),
        "incomparable": ({"lang": {"$gt": 3}}, False),
        "or": ({"$or": [{"lang": "fr"}, {"year": 2021}]}, True),
        "and": ({"$and": [{"lang": "en"}, {"year": 1999}]}, False),
        "exists": ({"absent": {"$exists": False}}, True),
        "callable": (lambda m: m["year"] > 2000, True),
    }
    for name, (spec, expected) in cases.items():
        assert compile_filter(spec)(meta) is expected, name
    with pytest.raises(InvalidInputError, match="Unknown filter operator"):
        compile_filter({"year": {"$regex": "x"}})
    with pytest.raises(InvalidInputError, match="needs a list"):
        compile_filter({"year": {"$in": 2021}})


def test_filter_that_matches_nothing_returns_nothing() -> None:
    index = Index.build(["a", "b"], HashEncoder(), metadatas=[{"g": 1}, {"g": 2}])
    assert index.search("a", k=5, filter={"g": 3}) == []
    assert [h.document.metadata["g"] for h in index.search("a", k=5, filter={"g": 2})] == [2]


def test_single_query_search_runs_faiss_on_the_callers_thread_and_restores_threads() -> None:
    """One query runs FAISS single-threaded (its OpenMP team would slow the next encode);
    the thread setting is restored afterwards, and batches keep FAISS's threads."""
    import faiss

    index = Index(HashEncoder())
    index.add([f"document {i}" for i in range(50)])
    seen: list[int] = []
    inner = index._faiss_index
    original = inner.search

    class Spy:
        def search(self, *args: object, **kwargs: object) -> object:
            seen.append(faiss.omp_get_max_threads())
            return original(*args, **kwargs)

        def __getattr__(self, name: str) -> object:
            return getattr(inner, name)

    configured = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(3)  # distinguishable from 1 on any machine
    index._faiss_index = Spy()
    try:
        assert index.search("document 3", k=5)[0].id  # one query
        index.search_batch(["document 1", "document 2"], k=5)  # a batch
        assert faiss.omp_get_max_threads() == 3
    finally:
        index._faiss_index = inner
        faiss.omp_set_num_threads(configured)
    assert seen == [1, 3]
