"""Incremental BM25: after any sequence of writes, rankings and scores equal a fresh build.

Real bm25s tokenisation and stemming over Cranfield, real FAISS; the vectors are the
cached MiniLM embeddings, so hybrid search is the one users run.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from shortlist import Document, Index
from shortlist.index import ShardedIndex
from shortlist.index.lexical import Bm25
from shortlist.index.postings import Postings

QUERIES = [
    "boundary layer transition on a flat plate",
    "heat transfer in hypersonic flow",
    "wing flutter at supersonic speeds",
    "buckling of cylindrical shells under pressure",
    "shock wave interaction",
]


def _same_ranking(got, want) -> None:  # type: ignore[no-untyped-def]
    """Same ids in the same order, every score within 1e-6 (the issue's bar)."""
    assert [h.id for h in got] == [h.id for h in want]
    for a, b in zip(got, want, strict=True):
        assert a.score == pytest.approx(b.score, abs=1e-6)
        for side in ("bm25_score", "dense_score"):
            x, y = getattr(a, side), getattr(b, side)
            assert (x is None) == (y is None)
            if x is not None:
                assert x == pytest.approx(y, abs=1e-6)


def _fresh_build(index: Index, bi_encoder, vectors: dict[str, np.ndarray]) -> Index:  # type: ignore[no-untyped-def]
    """An index built from scratch from ``index``'s current documents, in its order."""
    docs = index.get(index.ids)
    fresh = Index(bi_encoder)
    fresh.add(docs, embeddings=np.stack([vectors[d.text] for d in docs]))
    return fresh


@pytest.mark.parametrize("seed", [0, 1])
def test_any_write_sequence_scores_like_a_fresh_build(
    bi_encoder, cranfield_docs, cranfield_vectors, seed: int
) -> None:
    """Random adds, upserts (new text under an old id), deletes and re-adds of deleted
    ids; after every step BM25 and hybrid rankings and scores equal a fresh build's."""
    rng = random.Random(seed)
    pool = list(range(len(cranfield_docs)))
    rng.shuffle(pool)
    by_text = {d.text: cranfield_vectors[i] for i, d in enumerate(cranfield_docs)}
    index = Index(bi_encoder)
    start = pool[:150]
    index.add(
        [Document(str(i), cranfield_docs[i].text) for i in start],
        embeddings=cranfield_vectors[start],
    )
    unused = pool[150:]
    for step in range(12):
        kind = step % 4
        live = index.ids
        if kind == 0:  # add a batch of new documents
            batch, unused = unused[:25], unused[25:]
            index.add(
                [Document(str(i), cranfield_docs[i].text) for i in batch],
                embeddings=cranfield_vectors[batch],
            )
        elif kind == 1:  # upsert: an existing id gets another document's text
            ids = rng.sample(live, 10)
            sources, unused = unused[:10], unused[10:]
            index.upsert(
                [Document(i, cranfield_docs[s].text) for i, s in zip(ids, sources, strict=True)],
                embeddings=cranfield_vectors[sources],
            )
        elif kind == 2:  # delete some
            assert index.delete(rng.sample(live, 15)) == 15
        else:  # one document at a time, as a live application writes
            for _ in range(5):
                s = unused.pop()
                index.upsert([Document(f"one-{s}", cranfield_docs[s].text)],
                             embeddings=cranfield_vectors[[s]])  # fmt: skip
        fresh = _fresh_build(index, bi_encoder, by_text)
        for query in QUERIES:
            for mode in ("bm25", "hybrid"):
                got, want = index.search(query, 30, mode=mode), fresh.search(query, 30, mode=mode)
                _same_ranking(got, want)


def test_scores_equal_bm25s_lucene_on_a_fresh_corpus(cranfield_docs) -> None:
    """The query-time formula is bm25s' ``method="lucene"`` one (same tokens, same
    statistics): every document's score agrees to float32 precision."""
    bm25s = pytest.importorskip("bm25s")
    texts = [d.text for d in cranfield_docs[:400]]
    ours = Bm25()
    ours.add(np.arange(len(texts), dtype=np.int64), texts)
    theirs = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    theirs.index(ours.tokenize(texts), show_progress=False)
    for query in QUERIES:
        terms = ours.tokenize([query])[0]
        want = theirs.get_scores([t for t in terms if t in theirs.vocab_dict])
        keys, got = ours.top(query, len(texts), None)
        assert len(keys) == int((want > 0).sum()) > 0
        np.testing.assert_allclose(got, want[keys], rtol=2e-6)


def test_single_writes_keep_few_segments_and_deletes_leave_the_statistics() -> None:
    """A stream of one-document writes leaves O(log n) segments (a binary counter), and
    a deleted document's terms leave the document frequencies at once."""
    p = Postings()
    for key in range(1000):
        p.add(np.array([key], dtype=np.int64), [["alpha", f"t{key % 7}", "alpha"]])
    assert len(p.segments) <= 12
    assert p.df.view[p.vocab["alpha"]] == 1000 and p.total_len == 3000
    terms = [["alpha", "t0", "alpha"], ["alpha", "t0", "alpha"], ["alpha", "t5", "alpha"], []]
    p.remove(np.array([0, 7, 999, 5000]), terms)  # 5000 was never added: skipped
    assert p.n_live == 997 and p.total_len == 2991
    assert p.df.view[p.vocab["alpha"]] == 997 and p.df.view[p.vocab["t0"]] == 141
    assert p.df.view[p.vocab["t5"]] == 142
    before = p.accumulate([(p.vocab["t0"], 1.0)], 1.2, 0.75, 3.0)[p.live.view]
    p.compact()
    assert len(p.segments) == 1 and p.n_rows == 997 and p.live.view.all()
    after = p.accumulate([(p.vocab["t0"], 1.0)], 1.2, 0.75, 3.0)
    np.testing.assert_array_equal(before, after)


def test_saved_and_loaded_after_writes_scores_like_a_fresh_build(
    bi_encoder, cranfield_docs, cranfield_vectors, tmp_path: Path
) -> None:
    """A save merges the segments and drops deleted rows; the loaded (memory-mapped)
    postings score the same, and take writes again."""
    by_text = {d.text: cranfield_vectors[i] for i, d in enumerate(cranfield_docs)}
    index = Index(bi_encoder)
    index.add(cranfield_docs[:300], embeddings=cranfield_vectors[:300])
    index.delete([d.id for d in cranfield_docs[:40]])
    for i in range(300, 320):
        index.add([cranfield_docs[i]], embeddings=cranfield_vectors[[i]])
    loaded = Index.load(index.save(tmp_path / "idx"), encoder=bi_encoder)
    assert isinstance(loaded, Index) and loaded.bm25 is not None
    fresh = _fresh_build(index, bi_encoder, by_text)
    for query in QUERIES:
        _same_ranking(loaded.search(query, 30, mode="bm25"), fresh.search(query, 30, mode="bm25"))
    loaded.upsert([Document(cranfield_docs[50].id, cranfield_docs[400].text)],
                  embeddings=cranfield_vectors[[400]])  # fmt: skip
    index.upsert([Document(cranfield_docs[50].id, cranfield_docs[400].text)],
                 embeddings=cranfield_vectors[[400]])  # fmt: skip
    fresh = _fresh_build(index, bi_encoder, by_text)
    for query in QUERIES:
        _same_ranking(loaded.search(query, 30, mode="hybrid"), fresh.search(query, 30))
    # saved again: documents from the mapped arena and the in-memory one after it, one
    # of them deleted, stream into one file
    reloaded = Index.load(loaded.save(tmp_path / "again"), encoder=bi_encoder)
    assert reloaded.ids == fresh.ids and reloaded.get(fresh.ids) == fresh.get(fresh.ids)
    for query in QUERIES:
        _same_ranking(reloaded.search(query, 30, mode="hybrid"), fresh.search(query, 30))


def test_a_sharded_index_after_writes_scores_like_one_fresh_index(
    bi_encoder, cranfield_docs, cranfield_vectors
) -> None:
    """Shards score with the whole corpus' statistics, kept exact through writes."""
    by_text = {d.text: cranfield_vectors[i] for i, d in enumerate(cranfield_docs)}
    sharded = ShardedIndex(bi_encoder, shards=3)
    sharded.add(cranfield_docs[:200], embeddings=cranfield_vectors[:200])
    sharded.delete([d.id for d in cranfield_docs[:30]])
    sharded.upsert([Document(cranfield_docs[60].id, cranfield_docs[300].text)],
                   embeddings=cranfield_vectors[[300]])  # fmt: skip
    single = Index(bi_encoder)
    docs = sharded.get(sharded.ids)
    single.add(docs, embeddings=np.stack([by_text[d.text] for d in docs]))
    for query in QUERIES:
        _same_ranking(sharded.search(query, 20, mode="bm25"), single.search(query, 20, mode="bm25"))
