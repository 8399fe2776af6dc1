"""Session fixtures for the LlamaIndex adapter tests: real MiniLM + FAISS + ONNX reranker.

Kept out of tests/adapters/conftest.py (shared with the LangChain tests); test modules
import the fixtures they use (``fixture_*`` functions, registered under the
``li_*`` names, so importing them does not shadow the test parameters). The corpus is
the first 200 Cranfield documents, tagged with metadata the filter tests can select on.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import NodeWithScore

from shortlist import Document, Index
from shortlist.loaders import load_documents
from shortlist.rerank.base import Reranker

N_DOCS = 200
MAX_LENGTH = 128
"""Token limit for both models here: the adapters, not the models, are under test."""
QUERY = "what similarity laws must be obeyed when constructing aeroelastic models"
FETCH = 16
"""Candidates reranked per query: the machine has two slow cores."""


@functools.cache
def _docs(cranfield: Path) -> tuple[Document, ...]:
    """First N_DOCS docs; metadata: n (int id), group (n % 3), parity ("even"/"odd")."""
    out = []
    for d in load_documents(cranfield)[:N_DOCS]:
        n = int(d.id)
        meta = {**d.metadata, "n": n, "group": n % 3, "parity": "odd" if n % 2 else "even"}
        out.append(Document(d.id, d.text, meta))
    return tuple(out)


@functools.cache
def _onnx(model: Path) -> Reranker:
    from shortlist.rerank import load_reranker

    # 128 tokens per (query, text) pair: ~10x faster than the model's 512 on two slow
    # cores, and plenty to exercise the adapters (the backend's own tests use full length)
    return load_reranker(f"onnx:{model}", max_length=MAX_LENGTH)


@pytest.fixture(scope="session", name="li_docs")
def fixture_li_docs(cranfield_path: Path) -> tuple[Document, ...]:
    """The indexed documents."""
    return _docs(cranfield_path)


@pytest.fixture(scope="session", name="li_index")
def fixture_li_index(  # type: ignore[no-untyped-def]
    bi_encoder, cranfield_vectors, li_docs: tuple[Document, ...]
) -> Index:
    """A flat FAISS index over the session's MiniLM and its cached Cranfield vectors.

    No second model load and no re-embedding: the vectors are those of the full texts,
    computed once per session (the adapters, not the embeddings, are under test here).
    """
    index = Index(bi_encoder)
    index.add(li_docs, embeddings=cranfield_vectors[: len(li_docs)])
    return index


@pytest.fixture(scope="session", name="li_reranker")
def fixture_li_reranker(onnx_model_path: Path) -> Reranker:
    """The real int8 ONNX ms-marco-MiniLM-L-12-v2 cross-encoder (pairs cut to 128 tokens)."""
    return _onnx(onnx_model_path)


def id_scores(nodes: list[NodeWithScore]) -> list[tuple[str, float]]:
    """(id, score rounded to 5 places) per node: what two result lists must agree on."""
    return [(n.node.node_id, round(float(n.score or 0.0), 5)) for n in nodes]


async def ticks_during(work: Callable[[], Awaitable[Any]], repeat: int = 3) -> int:
    """How often a 1 ms ticker coroutine ran while ``work`` was awaited ``repeat`` times."""
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker starts before the work does (an await, no timing)
    before = ticks
    for _ in range(repeat):
        await work()
    during = ticks - before
    done.set()
    await task
    return during
