"""Session fixtures for the LangChain adapter tests: real MiniLM + FAISS + ONNX reranker.

Kept out of tests/adapters/conftest.py (shared with the LlamaIndex tests). Test modules
import the fixtures they use; the heavy objects are cached per process, so importing
the fixtures into several modules still builds each model and index once.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from shortlist import Document, Index
from shortlist.loaders import load_documents
from shortlist.rerank.base import Reranker

N_DOCS = 200
MAX_CHARS = 400
"""Texts are cut to about 80 tokens: adapter tests need real text, not long text, and the
cross-encoder's cost grows with length (keeps the suite quick on a 2-core CPU)."""
QUERY = "what similarity laws must be obeyed when constructing aeroelastic models"


@functools.cache
def _docs(cranfield: Path) -> tuple[Document, ...]:
    """The first N_DOCS cranfield docs (cut to MAX_CHARS), tagged parity=even/odd."""
    docs = load_documents(cranfield)[:N_DOCS]
    return tuple(
        Document(
            d.id,
            d.text[:MAX_CHARS].rsplit(" ", 1)[0],
            {**d.metadata, "parity": "even" if i % 2 == 0 else "odd"},
        )
        for i, d in enumerate(docs)
    )


@functools.cache
def _onnx(model: Path) -> Reranker:
    from shortlist.rerank import load_reranker

    return load_reranker(f"onnx:{model}")


@pytest.fixture(scope="session")
def lc_index(bi_encoder, cranfield_vectors, cranfield_path: Path) -> Index:  # type: ignore[no-untyped-def]
    """200 cranfield docs in a flat FAISS index over the session's MiniLM and cached vectors.

    No second model load and no re-embedding (the vectors are the full texts', computed
    once per session); the stored texts are cut to MAX_CHARS for the reranker's speed.
    """
    docs = _docs(cranfield_path)
    index = Index(bi_encoder)
    index.add(docs, embeddings=cranfield_vectors[: len(docs)])
    return index


@pytest.fixture(scope="session")
def lc_reranker(onnx_model_path: Path) -> Reranker:
    """The real int8 ONNX ms-marco-MiniLM-L-12-v2 cross-encoder."""
    return _onnx(onnx_model_path)
