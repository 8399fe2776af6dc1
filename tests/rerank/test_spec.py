"""``load_reranker(r.spec)`` rebuilds ``r``: same scores, for every backend.

Serialised LlamaIndex postprocessors, trace names and evaluation labels carry the spec,
so it must name the model as the user gave it (a hub id, not the site-packages directory
it resolved to on this machine) and every option that changes scores -- and never an
API key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shortlist.rerank import load_reranker
from shortlist.rerank.cohere import CohereReranker
from shortlist.rerank.cross_encoder import CrossEncoderReranker
from shortlist.rerank.onnx import OnnxReranker
from tests.conftest import MODELS
from tests.fakes.cohere_server import FakeCohere

from .conftest import QUERY, TEXTS

HUB_ID = "cross-encoder/ms-marco-MiniLM-L-12-v2"


@pytest.fixture
def model_dir(monkeypatch: pytest.MonkeyPatch, cross_encoder_path: Path) -> None:
    """Hub ids resolve offline to ../shared/models (as a user's SHORTLIST_MODEL_DIR would)."""
    monkeypatch.setenv("SHORTLIST_MODEL_DIR", str(MODELS))


def _same_scores(a: object, b: object) -> None:
    np.testing.assert_allclose(a.score(QUERY, TEXTS), b.score(QUERY, TEXTS), atol=1e-6)  # type: ignore[attr-defined]


def test_onnx_spec_keeps_the_hub_id(model_dir: None, onnx_model_path: Path) -> None:
    reranker = OnnxReranker(HUB_ID, max_length=128, activation="none")
    assert reranker.model_path != Path(HUB_ID)  # resolved to a local directory...
    assert reranker.spec == f"onnx:{HUB_ID}?activation=none,max_length=128"  # ...not in spec
    again = load_reranker(reranker.spec)
    assert again.spec == reranker.spec
    _same_scores(again, reranker)


def test_cross_encoder_spec_round_trips(model_dir: None) -> None:
    reranker = CrossEncoderReranker(
        HUB_ID, device="cpu", max_length=128, activation="none", batch_size=4
    )
    assert reranker.spec == f"cross-encoder:{HUB_ID}?max_length=128,activation=none"
    again = load_reranker(reranker.spec, device="cpu")
    assert again.spec == reranker.spec
    _same_scores(again, reranker)
    windows = CrossEncoderReranker(HUB_ID, device="cpu", long_documents="windows", window_tokens=64)
    assert load_reranker(windows.spec).spec == windows.spec
    assert "window_tokens=64" in windows.spec


def test_cohere_spec_round_trips_without_the_key(
    monkeypatch: pytest.MonkeyPatch, cohere_server: FakeCohere
) -> None:
    reranker = CohereReranker(
        "rerank-v3.5", api_key=cohere_server.api_key, base_url=cohere_server.url, timeout=10,
        max_tokens_per_doc=256,
    )  # fmt: skip
    spec = reranker.spec
    assert cohere_server.api_key not in spec
    assert spec == f"cohere:rerank-v3.5?base_url={cohere_server.url},max_tokens_per_doc=256"
    monkeypatch.setenv("CO_API_KEY", cohere_server.api_key)  # a reload reads the key here
    again = load_reranker(spec)
    assert again.spec == spec
    _same_scores(again, reranker)
    assert load_reranker("cohere", api_key="k").spec == "cohere:rerank-v3.5"  # defaults
