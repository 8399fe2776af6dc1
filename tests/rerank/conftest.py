"""Reranker fixtures: real models loaded once per session, and a real fake Cohere server.

``reranker`` is parametrised over :data:`shortlist.rerank.BACKENDS`; a new backend only
needs one factory line in ``FACTORIES`` to be covered by the contract tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from shortlist.rerank import BACKENDS, Reranker
from shortlist.rerank.cohere import CohereReranker
from shortlist.rerank.cross_encoder import CrossEncoderReranker
from shortlist.rerank.onnx import OnnxReranker
from tests.fakes.cohere_server import FakeCohere

FACTORIES = {
    "cross-encoder": "st_reranker",
    "onnx": "onnx_reranker",
    "cohere": "cohere_reranker",
}

QUERY = "What causes scurvy?"
TEXTS = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
    "Vitamin C is found in citrus fruits such as oranges and lemons.",
    "A lack of vitamin C in the diet causes scurvy.",
    "Python is a popular programming language.",
    "Sailors on long voyages once suffered from scurvy.",
    "The stock market closed higher on Friday.",
]
RELEVANT = 2


@pytest.fixture(scope="session")
def st_reranker(cross_encoder_path: Path) -> CrossEncoderReranker:
    return CrossEncoderReranker(cross_encoder_path, device="cpu", batch_size=16)


@pytest.fixture(scope="session")
def onnx_reranker(onnx_model_path: Path) -> OnnxReranker:
    return OnnxReranker(onnx_model_path)


@pytest.fixture(scope="session")
def cohere_server() -> Iterator[FakeCohere]:
    with FakeCohere() as server:
        yield server


@pytest.fixture
def fake_cohere(cohere_server: FakeCohere) -> Iterator[FakeCohere]:
    """The session server, with no programmed replies or recorded requests."""
    cohere_server.reset()
    yield cohere_server
    cohere_server.reset()


@pytest.fixture(scope="session")
def cohere_reranker(cohere_server: FakeCohere) -> Iterator[CohereReranker]:
    reranker = CohereReranker(api_key=cohere_server.api_key, base_url=cohere_server.url, timeout=10)
    yield reranker
    reranker.close()


@pytest.fixture(scope="session")
def served_cohere_reranker(onnx_reranker: OnnxReranker) -> Iterator[CohereReranker]:
    """shortlist's ``cohere:`` backend pointed at ``shortlist serve`` serving the ONNX model."""
    from tests.serve.helpers import API_KEY, start

    server = start(onnx_reranker)
    reranker = CohereReranker(api_key=API_KEY, base_url=server.url, timeout=10)
    yield reranker
    reranker.close()
    server.stop()


SERVED = {"cohere@shortlist-serve": "served_cohere_reranker"}
"""The Cohere backend against shortlist's own server (tests/serve): the contract holds
end to end over HTTP, with a real model behind it."""

CLIENTS = {"ray"}
"""Backends that are clients of another backend (Serve replicas of any reranker): their
tests (tests/scale/) check they return the served reranker's scores."""


@pytest.fixture(params=[*sorted(set(BACKENDS) - CLIENTS), *SERVED])
def reranker(request: pytest.FixtureRequest) -> Reranker:
    """Every registered backend, the remote one against the fake server (and against
    ``shortlist serve``)."""
    if request.param in SERVED:
        return request.getfixturevalue(SERVED[request.param])
    if request.param == "cohere":
        request.getfixturevalue("fake_cohere")
    return request.getfixturevalue(FACTORIES[request.param])


@pytest.fixture(scope="session")
def cranfield(
    cranfield_path: Path,
) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """(corpus id -> text, query id -> text, qrels) of the shared Cranfield collection."""
    corpus = {}
    with (cranfield_path / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            corpus[row["_id"]] = row["text"]
    queries = {}
    with (cranfield_path / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            queries[row["_id"]] = row["text"]
    qrels: dict[str, dict[str, int]] = {}
    with (cranfield_path / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            qid, did, score = line.split()
            qrels.setdefault(qid, {})[did] = int(score)
    return corpus, queries, qrels
