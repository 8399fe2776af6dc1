"""Shards on Ray actors and rerankers as Ray Serve replicas, on a real local Ray cluster."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest

from shortlist.index import Index, ShardedIndex
from shortlist.rerank import load_reranker

pytestmark = pytest.mark.slow

SETTINGS = [{"mode": "dense"}, {"mode": "bm25"}, {"mode": "hybrid", "alpha": 0.5}]
FILTER = {"part": {"$in": [0, 2]}}


@pytest.fixture(scope="module")
def docs(cranfield_docs):  # type: ignore[no-untyped-def]
    return [replace(d, metadata={"part": i % 3}) for i, d in enumerate(cranfield_docs[:600])]


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    assert [(h.id, h.score, h.dense_score, h.bm25_score) for h in a] == [
        (h.id, h.score, h.dense_score, h.bm25_score) for h in b
    ]


def test_shards_on_ray_actors_equal_one_index(
    local_ray, bi_encoder, docs, cranfield_vectors, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    vectors = cranfield_vectors[:600]
    single = Index(bi_encoder)
    single.add(docs, embeddings=vectors)
    sharded = ShardedIndex(bi_encoder, shards=3, ray=True, shard_cpus=0.1)
    try:
        sharded.add(docs, embeddings=vectors)
        assert len(sharded) == 600
        assert sorted(a._actor_id.hex() for a in sharded._shards.actors) != []
        for q in ["flutter of wings", "heat transfer in laminar boundary layers"]:
            for settings in SETTINGS:
                for where in (None, FILTER):
                    _same(
                        sharded.search(q, 20, filter=where, **settings),
                        single.search(q, 20, filter=where, **settings),
                    )
        sharded.delete([d.id for d in docs[:50]])
        single.delete([d.id for d in docs[:50]])
        _same(
            sharded.search("wing flutter", 20, mode="bm25"),
            single.search("wing flutter", 20, mode="bm25"),
        )
        sharded.save(tmp_path / "idx")
    finally:
        sharded.close()
    loaded = ShardedIndex.load(tmp_path / "idx", bi_encoder, ray=True, shard_cpus=0.1)
    try:
        _same(
            loaded.search("wing flutter", 20, mode="hybrid", alpha=0.5),
            single.search("wing flutter", 20, mode="hybrid", alpha=0.5),
        )
    finally:
        loaded.close()


@pytest.fixture(scope="module")
def served(local_ray, onnx_model_path):  # type: ignore[no-untyped-def]
    from ray import serve

    from shortlist.scale.serve import serve_reranker

    spec = f"onnx:{onnx_model_path}?threads=1"
    serve_reranker(spec, name="rr-test", num_replicas=1, max_batch_size=8,
                   batch_wait_timeout_s=0.05, ray_actor_options={"num_cpus": 0.5})  # fmt: skip
    yield spec
    serve.shutdown()


QUERY = "what causes wing flutter at supersonic speeds"


def test_replicas_give_the_local_rerankers_scores(served, docs) -> None:  # type: ignore[no-untyped-def]
    texts = [d.text for d in docs[:30]]
    local = load_reranker(served)
    remote = load_reranker("ray:rr-test")
    assert remote.spec == "ray:rr-test"
    np.testing.assert_allclose(
        remote.score(QUERY, texts), local.score(QUERY, texts), rtol=0, atol=1e-9
    )
    hits = remote.rerank(QUERY, texts, top_n=5)
    assert [r.index for r in hits] == [r.index for r in local.rerank(QUERY, texts, top_n=5)]


def test_concurrent_clients_share_batches(served, docs) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    remote = load_reranker("ray:rr-test")
    texts = [d.text for d in docs[:10]]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: remote.score(f"{QUERY} {i}", texts), range(8)))
    assert len(results) == 8 and all(len(r) == 10 for r in results)
    sizes = remote.stats()["batch_sizes"]
    assert max(sizes) > 1  # @serve.batch put concurrent requests together
    alone = asyncio.run(remote.ascore(QUERY, texts))  # the async path, on its own loop
    np.testing.assert_allclose(alone, remote.score(QUERY, texts), rtol=0, atol=1e-9)


def test_the_langchain_compressor_uses_replicas_by_one_string(served, docs) -> None:  # type: ignore[no-untyped-def]
    from langchain_core.documents import Document as LcDocument

    from shortlist.langchain import ShortlistRerank

    lc_docs = [LcDocument(page_content=d.text, id=d.id) for d in docs[:15]]
    local = ShortlistRerank(reranker=served, top_n=3, fusion=None)
    remote = ShortlistRerank(reranker="ray:rr-test", top_n=3, fusion=None)
    want = local.compress_documents(lc_docs, QUERY)
    got = remote.compress_documents(lc_docs, QUERY)
    assert [d.id for d in got] == [d.id for d in want]
    assert got[0].metadata["scored_by"] == want[0].metadata["scored_by"]


def test_an_unknown_deployment_is_a_clear_error(served) -> None:  # type: ignore[no-untyped-def]
    from shortlist.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="serve_reranker"):
        load_reranker("ray:no-such-app").score(QUERY, ["x"])
