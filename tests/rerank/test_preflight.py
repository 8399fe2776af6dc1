"""check_reranker: every cheap mistake in a spec fails before any runtime or model loads.

The checks run in a fresh interpreter, so "nothing heavy was imported" is observable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shortlist.errors import AuthenticationError, ModelNotFoundError, ShortlistError
from shortlist.rerank import check_reranker

HEAVY = ["torch", "faiss", "onnxruntime", "cohere", "sentence_transformers", "transformers"]


def _check_in_fresh_process(spec: str) -> dict[str, object]:
    code = (
        "import json, sys\n"
        "from shortlist.rerank import check_reranker\n"
        "try:\n"
        f"    check_reranker({spec!r}); error = None\n"
        "except Exception as exc:\n"
        "    error = [type(exc).__name__, str(exc)]\n"
        f"print(json.dumps({{'error': error, 'heavy': [m for m in {HEAVY!r} "
        "if m in sys.modules]}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CO_API_KEY", "COHERE_API_KEY")}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize(
    ("spec", "error", "says"),
    [
        ("onx:cross-encoder/ms-marco-MiniLM-L-12-v2", "UnknownBackendError", "'onnx'"),
        ("onnx?treads=2", "InvalidInputError", "Did you mean 'threads'?"),
        ("onnx?threads=0", "InvalidInputError", "threads must be a positive integer"),
        ("onnx?activation=softmax", "InvalidInputError", "activation must be"),
        ("onnx:./no-such-model-dir", "ModelNotFoundError", "does not exist"),
        ("cross-encoder:./no-such-model-dir", "ModelNotFoundError", "does not exist"),
        ("cross-encoder?batch_size=0", "InvalidInputError", "batch_size"),
        ("cohere:rerank-v3.5", "AuthenticationError", "CO_API_KEY"),
    ],
)
def test_mistakes_fail_without_loading_anything(spec: str, error: str, says: str) -> None:
    result = _check_in_fresh_process(spec)
    assert result["error"] is not None, spec
    name, message = result["error"]  # type: ignore[misc]
    assert name == error and says in message, message
    assert result["heavy"] == []


def test_a_valid_spec_passes_without_loading_anything(onnx_model_path: Path) -> None:
    assert _check_in_fresh_process(f"onnx:{onnx_model_path}?threads=1") == {
        "error": None,
        "heavy": [],
    }


def test_cohere_key_from_either_variable_or_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CO_API_KEY", "COHERE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(AuthenticationError, match="CO_API_KEY"):
        check_reranker("cohere")
    check_reranker("cohere", api_key="explicit")
    monkeypatch.setenv("COHERE_API_KEY", "from-env")
    check_reranker("cohere")


def test_check_raises_what_load_would(cross_encoder_path: Path) -> None:
    """Same error types as load_reranker, so callers catch one family."""
    with pytest.raises(ShortlistError):
        check_reranker(f"cross-encoder:{cross_encoder_path}?max_length=4")
    with pytest.raises(ModelNotFoundError):
        check_reranker("onnx:nosuch-org/nosuch-model")
