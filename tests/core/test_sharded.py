"""ShardedIndex (shards in this process) against one Index over the same documents, on
real Cranfield with the real bi-encoder: same ids, order and scores in every mode, with
filters, after updates, and after a save and load."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np
import pytest

from shortlist import Pipeline, defaults
from shortlist.errors import IndexFormatError, InvalidInputError
from shortlist.index import Index, ShardedIndex
from shortlist.index.shard import shard_of
from shortlist.index.sharded_storage import MANIFEST

QUERIES = 25
SETTINGS = [
    {"mode": "dense"},
    {"mode": "bm25"},
    {"mode": "hybrid"},
    {"mode": "hybrid", "alpha": 0.5},
    {"mode": "hybrid", "alpha": 0.5, "sparse_k": 40},
]
FILTER = {"part": {"$in": [0, 2]}}


def _tagged(docs):  # type: ignore[no-untyped-def]
    return [replace(d, metadata={**d.metadata, "part": i % 3}) for i, d in enumerate(docs)]


@pytest.fixture(scope="module")
def pair(bi_encoder, cranfield_docs, cranfield_vectors):  # type: ignore[no-untyped-def]
    docs = _tagged(cranfield_docs)
    single = Index(bi_encoder)
    single.add(docs, embeddings=cranfield_vectors)
    sharded = ShardedIndex(bi_encoder, shards=3)
    sharded.add(docs, embeddings=cranfield_vectors)
    return single, sharded


@pytest.fixture(scope="module")
def queries(cranfield_path):  # type: ignore[no-untyped-def]
    from shortlist.evaluation import load_beir

    return list(load_beir(cranfield_path).queries.values())[:QUERIES]


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    """Identical result lists: ids, order, every score (exact float equality)."""
    assert [h.id for h in a] == [h.id for h in b]
    assert [(h.score, h.dense_score, h.bm25_score) for h in a] == [
        (h.score, h.dense_score, h.bm25_score) for h in b
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items())
)
@pytest.mark.parametrize("filtered", [False, True], ids=["all", "filtered"])
def test_sharded_search_equals_one_index(pair, queries, settings, filtered) -> None:  # type: ignore[no-untyped-def]
    single, sharded = pair
    where = FILTER if filtered else None
    compared = 0
    for q in queries:
        expected = single.search(q, 30, filter=where, **settings)
        _same(sharded.search(q, 30, filter=where, **settings), expected)
        compared += len(expected)
    assert compared > QUERIES * 20  # real result lists were compared, not empty ones
    # A batch: FAISS scores several queries at once with kernels whose summation order
    # depends on where a vector sits in its (shard's) storage, so scores may differ in
    # the last bit (measured: 3e-8); one query at a time, as the funnel searches, is exact.
    batch = sharded.search_batch(queries[:5], 30, filter=where, **settings)
    for q, got in zip(queries[:5], batch, strict=True):
        want = single.search(q, 30, filter=where, **settings)
        assert [h.id for h in got] == [h.id for h in want]
        np.testing.assert_allclose([h.score for h in got], [h.score for h in want], atol=1e-6)


def test_documents_spread_over_every_shard_by_id(pair) -> None:  # type: ignore[no-untyped-def]
    single, sharded = pair
    counts = sharded._shards.each("count")
    assert sum(counts) == len(single) == len(sharded)
    assert min(counts) > len(single) / 3 * 0.8  # the hash spreads ids evenly (±20 %)
    assert sharded.ids == single.ids  # insertion order across shards
    for doc_id in single.ids[:50]:
        owner = shard_of(doc_id, 3)
        assert sharded._shards.one(owner, "contains", doc_id)
        assert [s for s in range(3) if sharded._shards.one(s, "contains", doc_id)] == [owner]
    assert sharded.get(["5", "nope", "1"]) == single.get(["5", "nope", "1"])


@pytest.mark.slow
def test_updates_route_to_the_owner_and_keep_results_equal(
    bi_encoder, cranfield_docs, cranfield_vectors, queries
) -> None:  # type: ignore[no-untyped-def]
    docs, vectors = cranfield_docs[:400], cranfield_vectors[:400]
    single, sharded = Index(bi_encoder), ShardedIndex(bi_encoder, shards=4)
    for index in (single, sharded):
        index.add(docs, embeddings=vectors)
        index.upsert(
            [replace(docs[3], text="wing flutter at supersonic speeds, revised")],
            embeddings=vectors[3:4],
        )
        assert index.delete([d.id for d in docs[10:60]] + ["unknown"]) == 50
        index.add(cranfield_docs[400:450], embeddings=cranfield_vectors[400:450])
    assert len(sharded) == len(single) == 400
    assert sharded.ids == single.ids
    for q in queries[:10]:
        for settings in SETTINGS:
            _same(sharded.search(q, 20, **settings), single.search(q, 20, **settings))
    with pytest.raises(InvalidInputError, match="already in the index"):
        sharded.add([docs[0]], embeddings=vectors[:1])
    assert len(sharded) == 400


def test_concurrent_adds_of_one_id_keep_exactly_one(bi_encoder) -> None:  # type: ignore[no-untyped-def]
    sharded = ShardedIndex(bi_encoder, shards=3)
    vec = np.ones((1, bi_encoder.dim), dtype=np.float32)
    outcomes: list[str] = []

    def add() -> None:
        try:
            sharded.add(["same text"], ids=["dup"], embeddings=vec)
            outcomes.append("added")
        except InvalidInputError:
            outcomes.append("refused")

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["added"] + ["refused"] * 7
    assert len(sharded) == 1 and sharded.ids == ["dup"]


@pytest.mark.slow
def test_save_and_load_give_the_same_results_and_stay_updatable(
    pair, queries, tmp_path, bi_encoder
) -> None:  # type: ignore[no-untyped-def]
    single, sharded = pair
    sharded.save(tmp_path / "idx")
    loaded = ShardedIndex.load(tmp_path / "idx", bi_encoder)
    assert loaded.shards == 3 and len(loaded) == len(single)
    for q in queries[:8]:
        for settings in SETTINGS:
            _same(
                loaded.search(q, 20, filter=FILTER, **settings),
                single.search(q, 20, filter=FILTER, **settings),
            )
    # a change after loading re-derives corpus-wide BM25 statistics on every shard
    copy = Index(bi_encoder)
    copy.add(single.get(single.ids), embeddings=np.stack([_vector(single, i) for i in single.ids]))
    for index in (copy, loaded):
        index.delete(single.ids[:100])
    for q in queries[:5]:
        _same(loaded.search(q, 20, mode="bm25"), copy.search(q, 20, mode="bm25"))
    loaded.save(tmp_path / "idx")  # saving over itself: the old shards are replaced
    folders = sorted(p.name for p in (tmp_path / "idx").iterdir() if p.name.startswith("shard-"))
    assert len(folders) == 3


def _vector(index: Index, doc_id: str) -> np.ndarray:
    key = index._store._keys[doc_id]
    return index._faiss_index.reconstruct(key)


def test_a_tampered_manifest_cannot_point_outside_the_folder(bi_encoder, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    sharded = ShardedIndex(bi_encoder, shards=2)
    sharded.add(
        ["a b c", "d e f"], ids=["a", "b"], embeddings=np.eye(2, bi_encoder.dim, dtype=np.float32)
    )
    sharded.save(tmp_path / "idx")
    manifest_path = tmp_path / "idx" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["shards"][0]["folder"] = "../elsewhere"
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="outside the index folder"):
        ShardedIndex.load(tmp_path / "idx", bi_encoder)


@pytest.mark.slow
def test_pipeline_and_both_adapters_take_a_sharded_index(pair, queries) -> None:  # type: ignore[no-untyped-def]
    from shortlist.langchain import ShortlistRetriever as LcRetriever
    from shortlist.llama_index import ShortlistRetriever as LiRetriever

    single, sharded = pair
    q = queries[0]
    expected = [h.id for h in Pipeline(single, reranker=None, fetch_k=20, top_n=5).search(q)]
    assert [
        h.id for h in Pipeline(sharded, reranker=None, fetch_k=20, top_n=5).search(q)
    ] == expected
    lc = LcRetriever(index=sharded, k=5).invoke(q)
    assert [d.id for d in lc] == [
        h.id for h in single.search(q, 5, mode="hybrid", alpha=defaults.HYBRID_ALPHA)
    ]
    li = LiRetriever(index=sharded, similarity_top_k=5).retrieve(q)
    assert [n.node.node_id for n in li] == [d.id for d in lc]


def test_cli_builds_searches_and_describes_a_sharded_index(
    tmp_path, bi_encoder_path, capsys
) -> None:  # type: ignore[no-untyped-def]
    import json

    from shortlist.cli import main

    notes = tmp_path / "notes"
    notes.mkdir()
    for name, text in {
        "wings.md": "Swept wings delay the onset of shock waves.",
        "bread.md": "Sourdough bread rises because of wild yeast.",
        "engines.md": "Jet engines compress air before combustion.",
    }.items():
        (notes / name).write_text(text)
    out = tmp_path / "idx"
    assert (
        main(
            [
                "index",
                str(notes),
                "--out",
                str(out),
                "--embedder",
                str(bi_encoder_path),
                "--shards",
                "2",
                "-q",
            ]
        )
        == 0
    )
    assert (out / MANIFEST).is_file()
    capsys.readouterr()
    assert main(["search", str(out), "shock waves on wings", "-m", "2", "--json", "-q"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["id"] == "wings.md" and len(hits) == 2
    assert main(["info", str(out)]) == 0
    assert len(json.loads(capsys.readouterr().out)["shards"]) == 2
    code = main(["index", str(notes), "--out", str(tmp_path / "x"), "--embedder",
                 str(bi_encoder_path), "--shards", "0"])  # fmt: skip
    assert code != 0 and "--shards" in capsys.readouterr().err
