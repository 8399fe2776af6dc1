"""Loading a config must not run code: ``trust_remote_code`` is a keyword argument only,
and a model folder holding pickle weights is refused with a typed error."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shortlist.encoders import SentenceTransformerEncoder
from shortlist.errors import InvalidInputError, UnsafeModelError
from shortlist.rerank import load_reranker
from shortlist.rerank.cross_encoder import CrossEncoderReranker


@pytest.mark.parametrize(
    "spec",
    [
        "cross-encoder:/nowhere?trust_remote_code=true",
        "cross-encoder:/nowhere?trust_remote_code=false",
        "onnx:/nowhere?trust_remote_code=true",
    ],
)
def test_a_spec_string_cannot_carry_trust_remote_code(spec: str) -> None:
    with pytest.raises(InvalidInputError, match="keyword argument"):
        load_reranker(spec)


def test_the_keyword_still_works_and_the_spec_leaves_it_out(cross_encoder_path: Path) -> None:
    reranker = load_reranker(f"cross-encoder:{cross_encoder_path}", trust_remote_code=True)
    assert isinstance(reranker, CrossEncoderReranker) and reranker.trust_remote_code
    assert "trust_remote_code" not in reranker.spec
    assert not load_reranker(reranker.spec).trust_remote_code  # type: ignore[attr-defined]


@pytest.fixture
def pickle_model(tmp_path: Path, cross_encoder_path: Path) -> Path:
    """The shared cross-encoder with its safetensors swapped for a pickle file."""
    folder = tmp_path / "pickled"
    shutil.copytree(cross_encoder_path, folder)
    for f in folder.rglob("*.safetensors"):
        f.unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    return folder


def test_pickle_weights_are_refused_with_a_typed_error(pickle_model: Path) -> None:
    with pytest.raises(UnsafeModelError, match="safetensors"):
        CrossEncoderReranker(pickle_model)
    with pytest.raises(UnsafeModelError, match="pickle"):
        load_reranker(f"cross-encoder:{pickle_model}")
    with pytest.raises(UnsafeModelError):
        SentenceTransformerEncoder(pickle_model)
