"""Spec parsing, the backend registry, option checking, and backend constructor errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from shortlist.errors import (
    AuthenticationError,
    InvalidInputError,
    ModelNotFoundError,
    UnknownBackendError,
)
from shortlist.rerank import BACKENDS, load_reranker
from shortlist.rerank import _backend_class as backend_class
from shortlist.rerank import _reranker_spec as reranker_spec
from shortlist.rerank.base import apply_activation


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("cohere", ("cohere", None)),
        ("cohere:rerank-v3.5", ("cohere", "rerank-v3.5")),
        (
            "cross-encoder:cross-encoder/ms-marco-MiniLM-L-6-v2",
            ("cross-encoder", "cross-encoder/ms-marco-MiniLM-L-6-v2"),
        ),
        ("onnx:/models/a:b", ("onnx", "/models/a:b")),  # split on the first colon only
        ("  ONNX : /x ", ("onnx", "/x")),
        ("cross_encoder", ("cross-encoder", None)),
    ],
)
def test_parse_spec(spec: str, expected: tuple[str, str | None]) -> None:
    parsed = reranker_spec(spec)
    assert (parsed.name, parsed.argument) == expected


def test_unknown_backend_lists_valid_names_and_suggests() -> None:
    with pytest.raises(UnknownBackendError) as info:
        reranker_spec("onxx:/models/x")
    message = str(info.value)
    assert "Did you mean 'onnx'?" in message
    for name in BACKENDS:
        assert name in message
    assert isinstance(info.value, ValueError)


def test_unknown_backend_without_close_match() -> None:
    with pytest.raises(
        UnknownBackendError, match="Valid backends: cohere, cross-encoder, onnx, ray"
    ):
        load_reranker("faiss")


@pytest.mark.parametrize("spec", ["onnx:", "cohere:  ", "", "   ", None])
def test_empty_spec_or_model_is_a_clear_error(spec: object) -> None:
    with pytest.raises(InvalidInputError, match="spec"):
        load_reranker(spec)  # type: ignore[arg-type]


def test_registry_entries_resolve_to_reranker_classes() -> None:
    from shortlist.rerank import Reranker

    for name in BACKENDS:
        cls = backend_class(name)
        assert issubclass(cls, Reranker)
        assert cls.backend == name


def test_lazy_exports() -> None:
    import shortlist.rerank as rerank

    assert rerank.OnnxReranker is backend_class("onnx")
    assert rerank.CohereReranker is backend_class("cohere")
    assert rerank.CrossEncoderReranker is backend_class("cross-encoder")
    with pytest.raises(AttributeError):
        _ = rerank.NoSuchReranker


def test_importing_rerank_imports_nothing_heavy() -> None:
    code = (
        "import sys, shortlist.rerank as r; r._reranker_spec('onnx:x'); "
        "heavy = [m for m in ('torch', 'onnxruntime', 'cohere', 'sentence_transformers', "
        "'tokenizers') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_option_names_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError) as info:
        load_reranker("cohere", api_key="k", batchsize=8)
    message = str(info.value)
    assert "'batchsize'" in message
    assert "api_key" in message and "max_retries" in message
    assert not isinstance(info.value, TypeError)


def test_unknown_option_suggests_a_close_one(onnx_model_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="did you mean 'batch_size'"):
        load_reranker(f"onnx:{onnx_model_path}", batchsize=8)


def test_model_given_twice_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="given twice"):
        load_reranker("cohere:rerank-v3.5", model="rerank-english-v3.0", api_key="k")


def test_load_cohere_from_spec() -> None:
    reranker = load_reranker(
        "cohere:rerank-multilingual-v3.0", api_key="sk-secret", base_url="http://127.0.0.1:9/v2/"
    )
    assert reranker.backend == "cohere"
    assert reranker.model == "rerank-multilingual-v3.0"  # type: ignore[attr-defined]
    assert reranker.base_url == "http://127.0.0.1:9"  # type: ignore[attr-defined]
    assert "secret" not in repr(reranker)


def test_load_onnx_by_path_with_options(onnx_model_path: Path) -> None:
    reranker = load_reranker(f"onnx:{onnx_model_path}", batch_size=8, threads=1)
    assert reranker.backend == "onnx"
    assert reranker.batch_size == 8  # type: ignore[attr-defined]
    assert reranker.threads == 1  # type: ignore[attr-defined]
    assert reranker.max_length == 512  # type: ignore[attr-defined]


def test_load_onnx_by_hub_id_offline(
    onnx_model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHORTLIST_MODEL_DIR", str(onnx_model_path.parent))
    reranker = load_reranker("onnx:cross-encoder/ms-marco-MiniLM-L-12-v2")
    assert reranker.model_path == onnx_model_path  # type: ignore[attr-defined]


def test_missing_onnx_model_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        load_reranker(f"onnx:{tmp_path / 'nope'}")
    with pytest.raises(ModelNotFoundError, match=r"model\.onnx"):
        load_reranker(f"onnx:{tmp_path}")  # exists but holds no model


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"activation": "softmax"}, "activation"),
        ({"long_documents": "chunks"}, "long_documents"),
        ({"batch_size": 0}, "batch_size"),
        ({"threads": -1}, "threads"),
        ({"max_length": 4096}, "exceeds"),
        ({"window_tokens": 8, "long_documents": "windows"}, "too small"),
        ({"window_tokens": 64, "window_stride": 128}, "window_stride"),
    ],
)
def test_onnx_bad_options(onnx_model_path: Path, options: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        load_reranker(f"onnx:{onnx_model_path}", **options)


def test_cohere_needs_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CO_API_KEY", "COHERE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(AuthenticationError, match="CO_API_KEY") as info:
        load_reranker("cohere")
    assert "api_key" in str(info.value)
    monkeypatch.setenv("COHERE_API_KEY", "from-env")
    assert load_reranker("cohere").backend == "cohere"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"timeout": 0}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
        ({"max_docs_per_request": 0}, "max_docs_per_request"),
        ({"max_tokens_per_doc": 0}, "max_tokens_per_doc"),
    ],
)
def test_cohere_bad_options(options: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        load_reranker("cohere", api_key="k", **options)


def test_sigmoid_is_stable_and_none_is_identity() -> None:
    logits = [-1000.0, -10.0, 0.0, 10.1, 1000.0]
    probs = apply_activation(logits, "sigmoid")  # type: ignore[arg-type]
    assert probs[0] == 0.0 and probs[-1] == 1.0 and probs[2] == 0.5
    assert probs[3] == pytest.approx(0.99996, abs=1e-5)
    assert list(apply_activation(logits, "none")) == logits  # type: ignore[arg-type]


def test_spec_options_are_parsed_and_converted() -> None:
    from shortlist.rerank import _constructor_call

    for sep in "&,":  # "," is canonical, "&" is how older specs joined options
        spec = sep.join(
            [
                "onnx:/models/a:b?dequantize=true",
                "threads=2",
                "activation=none",
                "long_documents=windows",
            ]
        )
        cls, options = _constructor_call(spec, {})
        assert cls.backend == "onnx"
        assert options == {
            "dequantize": True,
            "threads": 2,
            "activation": "none",  # stays the string the backend expects
            "long_documents": "windows",
            "model": "/models/a:b",
        }
    assert _constructor_call("cohere:rerank-v3.5?timeout=2.5", {})[1]["timeout"] == 2.5
    assert _constructor_call("onnx", {})[1] == {}


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("onnx?threads", "not name=value"),
        ("onnx?=2", "not name=value"),
        ("onnx?threads=1&threads=2", "twice"),
    ],
)
def test_bad_spec_options_are_clear_errors(spec: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        load_reranker(spec)


def test_spec_options_reach_the_backend_and_conflicts_are_rejected(
    onnx_model_path: Path,
) -> None:
    reranker = load_reranker(f"onnx:{onnx_model_path}?threads=1&activation=none")
    assert reranker.threads == 1  # type: ignore[attr-defined]
    assert reranker.activation == "none"  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match="both in the spec"):
        load_reranker(f"onnx:{onnx_model_path}?threads=1", threads=2)
    with pytest.raises(InvalidInputError, match="Did you mean 'threads'"):
        load_reranker(f"onnx:{onnx_model_path}?thread=1")


def test_onnx_spec_round_trips_the_options_that_change_scores(onnx_model_path: Path) -> None:
    """Adapters serialise a reranker as its spec; reloading must give the same model."""
    plain = load_reranker(f"onnx:{onnx_model_path}")
    assert plain.spec == f"onnx:{onnx_model_path}"  # type: ignore[attr-defined]
    custom = load_reranker(
        f"onnx:{onnx_model_path}",
        dequantize=True,
        activation="none",
        max_length=256,
        long_documents="windows",
        window_tokens=64,
    )
    again = load_reranker(custom.spec)  # type: ignore[attr-defined]
    assert repr(again) == repr(custom)
    assert again.windows == custom.windows  # type: ignore[attr-defined]
    assert again.dequantize and again.max_length == 256  # type: ignore[attr-defined]


def test_as_reranker_is_the_one_way_in(onnx_model_path: Path) -> None:
    from shortlist.rerank import as_reranker

    loaded = as_reranker(f"onnx:{onnx_model_path}")
    assert as_reranker(loaded) is loaded
    with pytest.raises(UnknownBackendError):
        as_reranker("onxx:model")
    with pytest.raises(InvalidInputError, match="reranker must be"):
        as_reranker(None)  # type: ignore[arg-type]


def test_rerank_exports_no_internals() -> None:
    from shortlist import rerank

    assert {"parse_spec", "spec_options", "backend_class"}.isdisjoint(rerank.__all__)
    assert {"as_reranker", "load_reranker", "Reranker", "RerankResult"} <= set(rerank.__all__)
