"""Shared servers: one per session for the toy reranker (plus the Cranfield index) and one
for the real int8 ONNX cross-encoder, so the whole serve suite starts each only once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shortlist.rerank.onnx import OnnxReranker
from shortlist.serve import BackgroundServer

from .helpers import WordOverlap, start

SMALL = {"max_body_bytes": 256 * 1024, "max_documents": 100, "max_document_chars": 20_000}
"""Limits low enough that the bad-input table can cross each one cheaply."""


@pytest.fixture(scope="session")
def toy() -> WordOverlap:
    return WordOverlap()


@pytest.fixture(scope="session")
def toy_server(toy: WordOverlap, index: Any) -> Iterator[BackgroundServer]:
    server = start(toy, indexes={"cranfield": index}, **SMALL)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def onnx(onnx_model_path: Path) -> OnnxReranker:
    return OnnxReranker(onnx_model_path)


@pytest.fixture(scope="session")
def onnx_server(onnx: OnnxReranker) -> Iterator[BackgroundServer]:
    server = start(onnx)
    yield server
    server.stop()
