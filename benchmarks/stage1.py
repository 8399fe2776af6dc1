"""Stage 1: index build throughput, query latency and size on disk, vs LangChain's FAISS.

Both stacks embed with the same all-MiniLM-L6-v2 weights (``SentenceTransformerEncoder``
vs ``langchain_huggingface.HuggingFaceEmbeddings``, both batch 32, normalised vectors), so
the comparison is of everything around the model. LangChain's ``FAISS`` keeps its default
L2 distance; with normalised vectors it ranks exactly like our cosine. The floor is a raw
``faiss.IndexFlatIP`` over the same vectors: vector search with no wrapper at all.

Both indexes are built chunk by chunk, alternating, so drifting background load on a
shared machine cannot favour one of them. Query latency is measured twice: from text
(encoding + search, what a user calls) and from a precomputed vector (search only, where
the wrappers differ).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import BI_ENCODER, dir_bytes, timed
from shortlist.evaluation import Dataset
from shortlist.index import Index

OURS = "shortlist Index (flat)"
LANGCHAIN = "LangChain FAISS"
RAW = "raw faiss.IndexFlatIP (floor)"
"""From text, the floor is the same SentenceTransformer's ``encode`` + this raw index."""
K = 100
CHUNK = 200
"""Both indexes are built in chunks of this many documents, alternating who goes first,
so a change in background load hits both stacks alike."""


@dataclass
class Stage1Result:
    """Build seconds, per-query latency samples, disk bytes and ranking agreement."""

    dataset: str
    docs: int
    build_s: dict[str, float] = field(default_factory=dict)
    text_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    vector_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    disk_bytes: dict[str, int] = field(default_factory=dict)
    same_top10: int = 0
    queries: int = 0


def run_stage1(
    dataset: Dataset, repeats: int, progress: Callable[[str], None]
) -> tuple[Index, Stage1Result]:
    """Build both indexes (timed), query both (timed); returns our index for stage 2."""
    import faiss
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document as LCDocument
    from langchain_huggingface import HuggingFaceEmbeddings
    from sentence_transformers import SentenceTransformer

    from shortlist.encoders import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(BI_ENCODER, device="cpu")
    embeddings = HuggingFaceEmbeddings(
        model_name=str(BI_ENCODER),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": 32},
    )
    docs = list(dataset.corpus)
    lc_docs = [LCDocument(id=d.id, page_content=d.text, metadata=dict(d.metadata)) for d in docs]
    encoder.encode_documents([d.text for d in docs[:8]])  # warm-up both models
    embeddings.embed_documents([d.text for d in docs[:8]])
    result = Stage1Result(dataset.name, len(docs))

    progress(f"{dataset.name}: building {OURS} and {LANGCHAIN} over {len(docs)} docs")
    index, store = Index(encoder), None
    result.build_s = {OURS: 0.0, LANGCHAIN: 0.0}
    for i, start in enumerate(range(0, len(docs), CHUNK)):
        chunk, lc_chunk = docs[start : start + CHUNK], lc_docs[start : start + CHUNK]
        for name in (OURS, LANGCHAIN) if i % 2 == 0 else (LANGCHAIN, OURS):
            if name == OURS:
                seconds, _ = timed(index.add, chunk)
            elif store is None:
                seconds, store = timed(FAISS.from_documents, lc_chunk, embeddings)
            else:
                seconds, _ = timed(store.add_documents, lc_chunk)
            result.build_s[name] += seconds
    assert store is not None
    raw = faiss.IndexFlatIP(index.dim)
    raw.add(store.index.reconstruct_n(0, store.index.ntotal))  # the very same vectors

    bare = SentenceTransformer(str(BI_ENCODER), device="cpu")
    text_calls: list[tuple[str, Callable[[str], Any]]] = [
        (OURS, lambda q: [h.id for h in index.search(q, K)]),
        (LANGCHAIN, lambda q: [d.id for d, _ in store.similarity_search_with_score(q, k=K)]),
        (RAW, lambda q: raw.search(bare.encode([q], normalize_embeddings=True), K)),
    ]
    vector_calls: list[tuple[str, Callable[[Any], Any]]] = [
        (OURS, lambda v: index.search_vectors(v, K)),
        (LANGCHAIN, lambda v: store.similarity_search_with_score_by_vector(v[0].tolist(), k=K)),
        (RAW, lambda v: raw.search(v, K)),
    ]
    for qi, query in enumerate(dataset.queries.values()):
        vec = encoder.encode_queries([query])
        if qi == 0:  # untimed warm-up
            for _, text_call in text_calls:
                text_call(query)
            for _, vector_call in vector_calls:
                vector_call(vec)
        ranked: dict[str, list[str]] = {}
        shift = qi % 2  # alternate who goes first
        for _ in range(repeats):
            for name, text_call in text_calls[shift:] + text_calls[:shift]:
                seconds, ranked[name] = timed(text_call, query)
                result.text_s[name].append(seconds)
            for name, vector_call in vector_calls[shift:] + vector_calls[:shift]:
                seconds, _ = timed(vector_call, vec)
                result.vector_s[name].append(seconds)
        result.same_top10 += ranked[OURS][:10] == ranked[LANGCHAIN][:10]
        result.queries += 1

    with tempfile.TemporaryDirectory() as tmp:
        result.disk_bytes[OURS] = dir_bytes(index.save(Path(tmp) / "ours"))
        store.save_local(str(Path(tmp) / "lc"))
        result.disk_bytes[LANGCHAIN] = dir_bytes(Path(tmp) / "lc")
        faiss.write_index(raw, str(Path(tmp) / "raw.faiss"))
        result.disk_bytes[RAW] = (Path(tmp) / "raw.faiss").stat().st_size
    return index, result
