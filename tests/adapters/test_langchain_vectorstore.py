"""ShortlistVectorStore and LangChainEmbeddingsEncoder beyond the standard suite.

Read-only checks use the shared MiniLM index; anything that mutates builds its own
index over the same (cached) encoder, so tests cannot disturb each other.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.indexing import InMemoryRecordManager, index

from shortlist import (
    RELEVANCE_SCORE_KEY,
    RETRIEVAL_RANK_KEY,
    RETRIEVAL_SCORE_KEY,
    Index,
    InvalidInputError,
)
from shortlist.langchain import (
    LangChainEmbeddingsEncoder,
    ShortlistRetriever,
    ShortlistVectorStore,
)

from .lc_fixtures import QUERY, lc_index  # noqa: F401

SCORE_KEYS = {RETRIEVAL_SCORE_KEY, RETRIEVAL_RANK_KEY, RELEVANCE_SCORE_KEY}


@pytest.fixture
def fresh(lc_index: Index) -> ShortlistVectorStore:  # noqa: F811
    """An empty store over the real MiniLM encoder (the model is already loaded)."""
    return ShortlistVectorStore(Index(lc_index.encoder))


def test_scores_are_cosine_and_stay_out_of_metadata(lc_index: Index) -> None:  # noqa: F811
    store = ShortlistVectorStore(index=lc_index)
    assert store.index is lc_index and store.embeddings is None
    pairs = store.similarity_search_with_score(QUERY, k=5)
    hits = lc_index.search(QUERY, 5, mode="dense")  # a VectorStore is vector similarity
    assert [d.id for d, _ in pairs] == [h.id for h in hits]
    assert [s for _, s in pairs] == pytest.approx([h.score for h in hits])
    assert all(-1.0 <= s <= 1.0 for _, s in pairs)
    assert all(not SCORE_KEYS & d.metadata.keys() for d, _ in pairs)


def test_relevance_scores_and_as_retriever(lc_index: Index) -> None:  # noqa: F811
    store = ShortlistVectorStore(index=lc_index)
    rel = store.similarity_search_with_relevance_scores(QUERY, k=5)
    values = [s for _, s in rel]
    assert all(0.0 <= s <= 1.0 for s in values) and values == sorted(values, reverse=True)

    retriever = store.as_retriever(search_kwargs={"k": 3, "filter": {"parity": "odd"}})
    docs = retriever.invoke(QUERY)
    assert len(docs) == 3 and {d.metadata["parity"] for d in docs} == {"odd"}
    threshold = store.as_retriever(
        search_type="similarity_score_threshold",
        search_kwargs={"k": 5, "score_threshold": values[2]},
    )
    assert [d.id for d in threshold.invoke(QUERY)] == [d.id for d, _ in rel[:3]]


async def test_async_search_matches_sync(lc_index: Index) -> None:  # noqa: F811
    store = ShortlistVectorStore(index=lc_index)
    sync = store.similarity_search_with_score(QUERY, k=4, filter={"parity": "even"})
    asy = await store.asimilarity_search_with_score(QUERY, k=4, filter={"parity": "even"})
    assert [d.id for d, _ in asy] == [d.id for d, _ in sync]
    vector = lc_index.encoder.encode_queries([QUERY])[0].tolist()
    by_vec = await store.asimilarity_search_by_vector(vector, k=4, filter={"parity": "even"})
    assert [d.id for d in by_vec] == [d.id for d, _ in sync]


def test_upsert_replaces_and_delete_is_lenient(fresh: ShortlistVectorStore) -> None:
    ids = fresh.add_texts(["a wing in a propeller slipstream", "heat transfer in boundary layers"])
    assert len(ids) == 2 and len(fresh.index) == 2
    fresh.add_documents([LCDocument(page_content="supersonic flutter of panels", id=ids[0])])
    assert len(fresh.index) == 2
    assert fresh.get_by_ids([ids[0]])[0].page_content == "supersonic flutter of panels"
    assert fresh.similarity_search("panel flutter at supersonic speed", k=1)[0].id == ids[0]

    assert fresh.delete(["not-there", ids[1]]) is True
    assert fresh.index.ids == [ids[0]]
    assert fresh.get_by_ids(["not-there"]) == []
    with pytest.raises(InvalidInputError, match="list of ids"):
        fresh.delete(None)


def test_rejects_what_it_cannot_store(fresh: ShortlistVectorStore) -> None:
    with pytest.raises(InvalidInputError, match="JSON"):
        fresh.add_texts(["x"], metadatas=[{"when": object()}])
    with pytest.raises(InvalidInputError, match="unsupported arguments"):
        fresh.similarity_search("x", k=1, fetch_k=10)
    with pytest.raises(InvalidInputError):
        ShortlistVectorStore()
    before = len(fresh.index)
    with pytest.raises(InvalidInputError, match=r"list of texts, not a single string"):
        fresh.add_texts("abc")  # used to store three one-letter documents
    with pytest.raises(InvalidInputError, match=r"add_texts\(\) takes a list of texts"):
        asyncio.run(fresh.aadd_texts("abc"))
    assert len(fresh.index) == before


def test_store_index_serves_the_retriever(fresh: ShortlistVectorStore) -> None:
    fresh.add_texts(["boundary layer transition", "shock wave interaction"], ids=["t", "s"])
    docs = ShortlistRetriever(index=fresh.index, k=1).invoke("shock waves")
    assert docs[0].id == "s" and RETRIEVAL_SCORE_KEY in docs[0].metadata


def test_langchain_indexing_api(fresh: ShortlistVectorStore) -> None:
    """LangChain's record-manager indexing (batch_size kwarg, deletes) works on the store."""
    manager = InMemoryRecordManager(namespace="test")
    manager.create_schema()
    docs = [
        LCDocument(page_content="lift of a slender wing", metadata={"source": "a"}),
        LCDocument(page_content="drag of a blunt body", metadata={"source": "b"}),
    ]
    first = index(
        docs, manager, fresh, cleanup="incremental", source_id_key="source", key_encoder="sha256"
    )
    assert first["num_added"] == 2 and len(fresh.index) == 2
    changed = [LCDocument(page_content="drag of a sphere", metadata={"source": "b"})]
    second = index(
        changed, manager, fresh, cleanup="incremental", source_id_key="source", key_encoder="sha256"
    )
    assert second["num_added"] == 1 and second["num_deleted"] == 1
    assert sorted(d.page_content for d in fresh.get_by_ids(fresh.index.ids)) == [
        "drag of a sphere",
        "lift of a slender wing",
    ]


# ---------------------------------------------------------------------------- encoder
def test_embeddings_encoder_probe_name_and_shape_check() -> None:
    emb = DeterministicFakeEmbedding(size=6)
    enc = LangChainEmbeddingsEncoder(emb)
    assert enc.dim == 6 and enc.name == "langchain:DeterministicFakeEmbedding:6d"
    vecs = enc.encode_documents(["a", "b"])
    assert vecs.shape == (2, 6) and vecs.dtype == np.float32
    assert enc.encode_documents([]).shape == (0, 6)
    assert LangChainEmbeddingsEncoder(emb, name="mine", dim=6).name == "mine"
    with pytest.raises(InvalidInputError, match="shape"):
        LangChainEmbeddingsEncoder(emb, dim=7).encode_queries(["a"])
    with pytest.raises(InvalidInputError):
        LangChainEmbeddingsEncoder(object())  # type: ignore[arg-type]


def test_store_from_texts_saves_and_reloads(tmp_path: Path) -> None:
    emb = DeterministicFakeEmbedding(size=6)
    store = ShortlistVectorStore.from_texts(
        ["foo", "bar"], emb, metadatas=[{"n": 1}, {"n": 2}], ids=["f", "b"]
    )
    assert store.embeddings is emb
    store.index.save(tmp_path / "idx")
    reloaded = ShortlistVectorStore(Index.load(tmp_path / "idx", LangChainEmbeddingsEncoder(emb)))
    assert reloaded.embeddings is emb
    assert reloaded.similarity_search("bar", k=1) == [
        LCDocument(id="b", page_content="bar", metadata={"n": 2})
    ]
