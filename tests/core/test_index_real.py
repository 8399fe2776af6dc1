"""The index on real data: all-MiniLM-L6-v2 over Cranfield, judged by its human qrels."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tests.loop_lag import max_loop_lag

from shortlist import Document, EncoderMismatchError, Index
from shortlist.encoders import SentenceTransformerEncoder

# Documented tolerances (docs/index.md): approximate structures may lose at most this much
# recall@100 against the exact index on the same vectors.
RECALL_TOLERANCE = {"hnsw": 0.02, "ivfpq": 0.05}


def _qrels(dataset: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    with (dataset / "qrels" / "test.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if int(row["score"]) > 0:
                out.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return out


@pytest.fixture(scope="module")
def queries(cranfield_path: Path) -> list[tuple[str, str]]:
    with (cranfield_path / "queries.jsonl").open() as fh:
        rows = [json.loads(line) for line in fh]
    return [(r["_id"], r["text"]) for r in rows]


@pytest.fixture(scope="module")
def query_vectors(
    bi_encoder: SentenceTransformerEncoder, queries: list[tuple[str, str]]
) -> np.ndarray:
    return bi_encoder.encode_queries([q for _, q in queries])


def _recall_at(
    index: Index,
    qvecs: np.ndarray,
    queries: list[tuple[str, str]],
    qrels: dict[str, set[str]],
    k: int,
) -> float:
    results = index.search_vectors(qvecs, k)
    return float(
        np.mean(
            [
                len({h.id for h in hits} & qrels[qid]) / len(qrels[qid])
                for hits, (qid, _) in zip(results, queries, strict=True)
            ]
        )
    )


def test_recall_at_100_far_above_random_for_every_index_type(
    bi_encoder, cranfield_docs, cranfield_vectors, cranfield_path, queries, query_vectors
) -> None:
    qrels = _qrels(cranfield_path)
    random_recall = 100 / len(cranfield_docs)
    recalls = {}
    for spec in ("flat", "hnsw", "ivfpq"):
        index = Index(bi_encoder, spec=spec)
        index.add(cranfield_docs, embeddings=cranfield_vectors)
        recalls[spec] = _recall_at(index, query_vectors, queries, qrels, 100)
    assert recalls["flat"] > 5 * random_recall, recalls
    assert recalls["flat"] > 0.775 - 0.02, recalls  # measured 0.775; margin: float noise
    for spec, tol in RECALL_TOLERANCE.items():
        assert recalls[spec] >= recalls["flat"] - tol, (spec, recalls)


def test_search_ranks_by_cosine_and_keeps_empty_documents(
    cranfield_index: Index, cranfield_docs
) -> None:
    assert len(cranfield_index) == len(cranfield_docs) == 1400
    assert {"471", "995"} <= set(cranfield_index.ids)  # the two empty documents are indexed
    assert cranfield_index.get(["471"])[0].text == ""
    hits = cranfield_index.search("heat transfer in hypersonic flow", k=10)
    assert [h.rank for h in hits] == list(range(1, 11))
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0 + 1e-6 for s in scores)
    assert all(h.retrieval_score == h.score for h in hits)


def test_query_matching_a_document_finds_it_first(cranfield_index: Index, cranfield_docs) -> None:
    doc = cranfield_docs[41]
    hits = cranfield_index.search(doc.text, k=3)
    assert hits[0].id == doc.id
    assert hits[0].score == pytest.approx(1.0, abs=1e-3)


def test_save_load_roundtrip_gives_identical_results(
    cranfield_index: Index, tmp_path: Path, bi_encoder
) -> None:
    before = cranfield_index.search_batch(["wing flutter", "boundary layer transition"], k=20)
    path = cranfield_index.save(tmp_path / "idx")
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["encoder"]["name"] == bi_encoder.name and manifest["encoder"]["dim"] == 384
    assert manifest["count"] == 1400 and manifest["format_version"] == 2
    loaded = Index.load(path, encoder=bi_encoder)
    after = loaded.search_batch(["wing flutter", "boundary layer transition"], k=20)
    assert [[(h.id, round(h.score, 5)) for h in r] for r in after] == [
        [(h.id, round(h.score, 5)) for h in r] for r in before
    ]
    assert loaded.get(["1"])[0] == cranfield_index.get(["1"])[0]


def test_load_resolves_the_manifest_model_by_itself(
    cranfield_index: Index, tmp_path: Path, bi_encoder_path, monkeypatch
) -> None:
    path = cranfield_index.save(tmp_path / "idx")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["encoder"]["source_hint"] = str(tmp_path / "moved-away")  # built elsewhere
    (path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("SHORTLIST_MODEL_DIR", str(bi_encoder_path.parent))
    loaded = Index.load(path)
    assert (
        loaded.search("supersonic wing", k=5)[0].id
        == cranfield_index.search("supersonic wing", k=5)[0].id
    )


class _OtherModel:
    """Another encoder identity (constant vectors): only its name and dim matter here."""

    def __init__(self, name: str, dim: int) -> None:
        self.name, self.dim = name, dim

    def encode_documents(self, texts, *, batch_size=32, show_progress=False):  # type: ignore[no-untyped-def]
        return np.ones((len(texts), self.dim), dtype=np.float32)

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        return np.ones((len(texts), self.dim), dtype=np.float32)


@pytest.mark.parametrize(
    ("name", "dim"), [("sentence-transformers/all-mpnet-base-v2", 768), ("other-384", 384)]
)
def test_loading_with_another_encoder_fails_clearly(
    cranfield_index: Index, tmp_path: Path, name: str, dim: int
) -> None:
    cranfield_index.save(tmp_path / "idx")
    with pytest.raises(EncoderMismatchError, match=r"built with encoder .*all-MiniLM-L6-v2"):
        Index.load(tmp_path / "idx", encoder=_OtherModel(name, dim))


def test_upsert_and_delete_with_the_real_model(
    bi_encoder, cranfield_docs, cranfield_vectors
) -> None:
    index = Index(bi_encoder, spec="hnsw")
    index.add(cranfield_docs[:300], embeddings=cranfield_vectors[:300])
    new = Document("1", "turbulent heat transfer to a cryogenic propellant tank wall", {"v": 2})
    index.upsert([new])
    assert len(index) == 300
    hits = index.search("cryogenic propellant tank heat transfer", k=3)
    assert hits[0].id == "1" and hits[0].document.metadata["v"] == 2
    assert index.delete(["1", "2", "no-such-id"]) == 2
    assert "1" not in index and len(index) == 298
    assert all(h.id not in {"1", "2"} for h in index.search("cryogenic propellant tank", k=50))


def test_filters_keep_full_recall_inside_the_filtered_set(
    bi_encoder, cranfield_docs, cranfield_vectors
) -> None:
    docs = [Document(d.id, d.text, {"bucket": int(d.id) % 7}) for d in cranfield_docs]
    for spec in ("flat", "hnsw", "ivfpq"):
        index = Index(bi_encoder, spec=spec)
        index.add(docs, embeddings=cranfield_vectors)
        query = "pressure distribution on a cone at supersonic speed"
        want = [d for d in docs if d.metadata["bucket"] in (2, 5)]
        hits = index.search(query, k=len(want) + 10, filter={"bucket": {"$in": [2, 5]}})
        # every matching document comes back, and nothing else: no recall lost to filtering
        assert {h.id for h in hits} == {d.id for d in want}, spec
        eq_hits = index.search(query, k=5, filter={"bucket": 3})
        assert len(eq_hits) == 5 and all(h.document.metadata["bucket"] == 3 for h in eq_hits)


class _SlowQueries:
    """The real encoder, but each query encoding also sleeps (off the GIL) for ``pause`` s.

    A long, fixed blocking time makes "the loop kept running" a ratio, not a tick count:
    a loop blocked by the search would stall for at least ``pause``.
    """

    def __init__(self, encoder, pause: float) -> None:  # type: ignore[no-untyped-def]
        self.inner, self.pause = encoder, pause
        self.name, self.dim = encoder.name, encoder.dim

    def encode_documents(self, texts, *, batch_size=32, show_progress=False):  # type: ignore[no-untyped-def]
        return self.inner.encode_documents(texts, batch_size=batch_size)

    def encode_queries(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(self.pause)
        return self.inner.encode_queries(texts)


async def test_asearch_matches_search_and_does_not_block_the_loop(
    bi_encoder, cranfield_docs, cranfield_vectors, cranfield_index: Index
) -> None:
    pause = 0.3
    index = Index(_SlowQueries(bi_encoder, pause))
    index.add(cranfield_docs, embeddings=cranfield_vectors)
    query = "wing flutter at transonic speeds"
    hits, lag = await max_loop_lag(index.asearch(query, k=10))
    assert lag < pause / 2, f"the event loop stalled {lag:.3f}s during a {pause}s search"
    assert [h.id for h in hits] == [h.id for h in cranfield_index.search(query, k=10)]


def test_concurrent_queries_and_writes_are_safe(
    bi_encoder, cranfield_docs, cranfield_vectors
) -> None:
    index = Index(bi_encoder)
    index.add(cranfield_docs[:500], embeddings=cranfield_vectors[:500])
    errors: list[BaseException] = []
    qv = bi_encoder.encode_queries(["supersonic flow over a flat plate"])

    def reader() -> None:
        try:
            for _ in range(30):
                for hits in index.search_vectors(qv, 10):
                    assert len(hits) == 10 and len({h.id for h in hits}) == 10
        except BaseException as exc:
            errors.append(exc)

    def writer() -> None:
        try:
            for i in range(500, 700, 20):
                index.add(cranfield_docs[i : i + 20], embeddings=cranfield_vectors[i : i + 20])
                index.delete([cranfield_docs[i].id])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)] + [
        threading.Thread(target=writer)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(index) == 700 - 10
    assert time.perf_counter() - start < 120
