"""Hybrid stage 1: real BM25 (bm25s, stemming) beside real MiniLM vectors on Cranfield."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from shortlist import Document, Index, IndexWriteError, InvalidInputError, Pipeline, defaults
from shortlist.index import hybrid
from shortlist.index.lexical import Bm25
from shortlist.langchain import ShortlistRetriever as LCRetriever
from shortlist.llama_index import ShortlistRetriever as LIRetriever


def _fresh(bi_encoder, cranfield_docs, cranfield_vectors, n: int = 200) -> Index:  # type: ignore[no-untyped-def]
    idx = Index(bi_encoder)
    idx.add(cranfield_docs[:n], embeddings=cranfield_vectors[:n])
    return idx


def test_stemming_matches_another_inflection(index: Index) -> None:
    hits = index.search("fluttering", 5, mode="bm25")
    assert len(hits) == 5
    assert all("flutter" in h.text.lower() for h in hits)  # "flutter" found by "fluttering"
    assert all(h.bm25_score and h.bm25_score > 0 and h.dense_score is None for h in hits)
    assert [h.bm25_score for h in hits] == sorted((h.bm25_score for h in hits), reverse=True)


def test_a_query_with_no_known_term_finds_nothing_lexically(index: Index) -> None:
    assert index.search("the of and", 5, mode="bm25") == []  # stop words only
    assert index.search("qwzxv", 5, mode="bm25") == []
    assert len(index.search("qwzxv", 5, mode="hybrid")) == 5  # dense still answers


def test_updates_and_deletes_are_visible_to_bm25_at_once(
    bi_encoder, cranfield_docs, cranfield_vectors
) -> None:
    idx = _fresh(bi_encoder, cranfield_docs, cranfield_vectors)
    assert idx.search("zorblax", 3, mode="bm25") == []
    idx.add([Document("new", "the zorblax coefficient of a swept wing")])
    assert [h.id for h in idx.search("zorblax", 3, mode="bm25")] == ["new"]
    idx.upsert([Document("new", "a quenched plasma sheath")])
    assert idx.search("zorblax", 3, mode="bm25") == []
    assert idx.search("plasma sheath", 1, mode="bm25")[0].id == "new"
    idx.delete(["new"])
    assert all(h.id != "new" for h in idx.search("plasma sheath", 50, mode="bm25"))


def test_bm25_statistics_are_those_of_the_current_corpus(
    bi_encoder, cranfield_docs, cranfield_vectors
) -> None:
    """After deletes, scores equal a freshly built index's over the same documents."""
    idx = _fresh(bi_encoder, cranfield_docs, cranfield_vectors, 300)
    idx.delete([d.id for d in cranfield_docs[100:300]])
    fresh = _fresh(bi_encoder, cranfield_docs, cranfield_vectors, 100)
    query = "boundary layer transition"
    got = [(h.id, round(h.bm25_score or 0, 5)) for h in idx.search(query, 20, mode="bm25")]
    want = [(h.id, round(h.bm25_score or 0, 5)) for h in fresh.search(query, 20, mode="bm25")]
    assert got == want


@pytest.mark.parametrize("mode", ["bm25", "hybrid"])
def test_filters_are_exact_on_both_sides(
    bi_encoder, cranfield_docs, cranfield_vectors, mode: str
) -> None:
    docs = [Document(d.id, d.text, {"bucket": int(d.id) % 7}) for d in cranfield_docs]
    idx = Index(bi_encoder)
    idx.add(docs, embeddings=cranfield_vectors)
    query = "shock wave boundary layer interaction"
    allowed = {d.id for d in docs if d.metadata["bucket"] == 3}
    everything = idx.search(query, len(docs), mode=mode)
    expected_bm25 = [h.id for h in idx.search(query, len(docs), mode="bm25") if h.id in allowed]
    got = idx.search(query, len(docs), filter={"bucket": 3}, mode=mode)
    assert {h.id for h in got} <= allowed
    if mode == "bm25":  # every allowed lexical match, in the unfiltered order
        assert [h.id for h in got] == expected_bm25
    else:  # both sides saw every allowed document: nothing lost to post-filtering
        assert {h.id for h in got} == allowed
        assert len(everything) == len(docs)


def test_hybrid_hits_carry_all_three_scores(index: Index) -> None:
    hits = index.search("heat transfer in hypersonic flow", 10, mode="hybrid")
    assert len(hits) == 10
    assert all(h.retrieval_score == h.score for h in hits)
    assert any(h.dense_score is not None and h.bm25_score is not None for h in hits)
    meta = hits[0].score_metadata()
    assert {"retrieval_score", "retrieval_rank"} <= set(meta)
    assert ("dense_score" in meta) == (hits[0].dense_score is not None)


def test_rrf_and_alpha_fusion_arithmetic() -> None:
    dense = (np.array([1, 2, 3]), np.array([0.9, 0.8, 0.1]))
    bm25 = (np.array([3, 4]), np.array([12.0, 6.0]))
    rrf = hybrid.fuse(dense, bm25, 10, alpha=None, rrf_k=60)
    scores = dict(zip(rrf.keys.tolist(), rrf.scores.tolist(), strict=True))
    assert scores[3] == pytest.approx(1 / 63 + 1 / 61)
    assert scores[1] == pytest.approx(1 / 61) and scores[4] == pytest.approx(1 / 62)
    assert rrf.keys.tolist()[0] == 3  # in both lists
    mix = hybrid.fuse(dense, bm25, 2, alpha=0.25, rrf_k=60)
    mixed = dict(zip(mix.keys.tolist(), mix.scores.tolist(), strict=True))
    assert mixed[3] == pytest.approx(0.25 * 0.0 + 0.75 * 1.0)  # dense min, bm25 max
    assert mix.keys.tolist() == [3, 1]  # 3: 0.75; 1: 0.25 (dense max); 4: 0.0 (bm25 min)
    only_dense = hybrid.fuse(dense, bm25, 3, alpha=1.0, rrf_k=60)
    assert only_dense.keys.tolist() == [1, 2, 3]


def test_bad_mode_and_alpha_are_typed_errors(index: Index) -> None:
    with pytest.raises(InvalidInputError, match="mode must be one of"):
        index.search("wing", 3, mode="sparse")
    with pytest.raises(InvalidInputError, match=r"alpha must be a number within 0\.\.1"):
        index.search("wing", 3, mode="hybrid", alpha=1.5)
    with pytest.raises(InvalidInputError, match="alpha"):
        Pipeline(index, alpha=float("nan"))


def test_persistence_round_trip(index: Index, tmp_path: Path, bi_encoder) -> None:
    query = "supersonic flow over a flat plate"
    before = {m: index.search(query, 20, mode=m) for m in ("bm25", "hybrid")}
    loaded = Index.load(index.save(tmp_path / "idx"), encoder=bi_encoder)
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["bm25"]["stemmer"] == "english"
    assert any(name.startswith("bm25/") for name in manifest["files"])
    for mode, hits in before.items():
        again = loaded.search(query, 20, mode=mode)
        assert [(h.id, round(h.score, 6)) for h in again] == [
            (h.id, round(h.score, 6)) for h in hits
        ]


def test_an_index_saved_without_bm25_loads_dense_only(
    bi_encoder, cranfield_docs, cranfield_vectors, tmp_path: Path
) -> None:
    """The format before BM25: no "bm25" in the manifest, no bm25/ files."""
    idx = Index(bi_encoder, bm25=False)
    idx.add(cranfield_docs[:100], embeddings=cranfield_vectors[:100])
    path = idx.save(tmp_path / "old")
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("bm25", "stage1"):
        manifest.pop(key)
    (path / "manifest.json").write_text(json.dumps(manifest))
    loaded = Index.load(path, encoder=bi_encoder)
    assert loaded.bm25 is None and loaded.search("wing", 3)
    with pytest.raises(InvalidInputError, match=r"needs BM25.*enable_bm25"):
        loaded.search("wing", 3, mode="hybrid")
    assert Pipeline(loaded).mode == "dense"  # the funnel falls back, with no error
    upgraded = Index.load(path, encoder=bi_encoder, bm25=True)
    assert upgraded.search("wing flutter", 3, mode="bm25")


def test_a_failed_bm25_write_keeps_the_old_generation(
    bi_encoder, cranfield_docs, cranfield_vectors, tmp_path: Path, monkeypatch
) -> None:
    idx = _fresh(bi_encoder, cranfield_docs, cranfield_vectors, 50)
    path = idx.save(tmp_path / "idx")
    idx.add(cranfield_docs[50:60], embeddings=cranfield_vectors[50:60])

    def full(self, folder):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device (injected)")

    monkeypatch.setattr(Bm25, "save", full)
    with pytest.raises(IndexWriteError, match="intact"):
        idx.save(path)
    monkeypatch.undo()
    assert len(Index.load(path, encoder=bi_encoder)) == 50


@pytest.mark.parametrize(
    ("mode", "li_mode"), [("dense", "default"), ("bm25", "sparse"), ("hybrid", "hybrid")]
)
def test_adapters_agree_with_the_core_in_every_mode(index: Index, mode: str, li_mode: str) -> None:
    query = "what similarity laws must be obeyed when constructing aeroelastic models"
    alpha = defaults.HYBRID_ALPHA if mode == "hybrid" else None  # the funnel's weight
    core = [(h.id, round(h.score, 6)) for h in index.search(query, 12, mode=mode, alpha=alpha)]
    lc = LCRetriever(index=index, k=12, mode=mode).invoke(query)
    li = LIRetriever(index=index, similarity_top_k=12, vector_store_query_mode=li_mode).retrieve(
        query
    )
    assert [(d.id, round(d.metadata["retrieval_score"], 6)) for d in lc] == core
    assert [(n.node.node_id, round(float(n.score or 0), 6)) for n in li] == core
    per_call = LCRetriever(index=index, k=12).invoke(query, mode=mode)
    assert [d.id for d in per_call] == [c[0] for c in core]


def test_adapters_over_an_index_default_to_the_funnel_mode(index: Index) -> None:
    query = "heat transfer to a blunt body in hypersonic flow"
    funnel = index.search(query, 8, mode="hybrid", alpha=defaults.HYBRID_ALPHA)
    hybrid_ids = [h.id for h in funnel]
    assert [d.id for d in LCRetriever(index=index, k=8).invoke(query)] == hybrid_ids
    assert [
        n.node.node_id for n in LIRetriever(index=index, similarity_top_k=8).retrieve(query)
    ] == (hybrid_ids)
    assert Pipeline(index).mode == "hybrid" and Pipeline(index).alpha == defaults.HYBRID_ALPHA
    rrf = [h.id for h in index.search(query, 8, mode="hybrid")]  # alpha=None: rank fusion
    assert [h.id for h in Pipeline(index, alpha=None, top_n=8, fetch_k=8).search(query)] == rrf


def test_llama_index_alpha_and_sparse_top_k(index: Index) -> None:
    query = "boundary layer transition"
    li = LIRetriever(
        index=index,
        similarity_top_k=5,
        vector_store_query_mode="hybrid",
        alpha=0.7,
        sparse_top_k=30,
    ).retrieve(query)
    core = index.search(query, 5, mode="hybrid", alpha=0.7, sparse_k=30)
    assert [n.node.node_id for n in li] == [h.id for h in core]
    with pytest.raises(InvalidInputError, match="vector_store_query_mode='mmr'"):
        LIRetriever(index=index, vector_store_query_mode="mmr")
