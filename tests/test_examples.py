"""The examples in examples/ run as documented, offline, on the shared models."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        cwd=REPO,
        env={**os.environ, "SHORTLIST_SHARED": str(SHARED), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _score_rows(stdout: str) -> list[tuple[float, float]]:
    """(relevance, retrieval) of each printed hit: both stage scores must be shown."""
    rows = re.findall(r"^\s*\*?\s*(?:\d+\s+)?\d+\s+([01]\.\d{4})\s+(-?[01]\.\d{4})", stdout, re.M)
    return [(float(a), float(b)) for a, b in rows]


def test_langchain_rag_chain(bi_encoder_path: Path, onnx_model_path: Path) -> None:
    out = _run("langchain_rag.py", "--docs", "80")
    assert "indexed 80 docs" in out
    rows = _score_rows(out)
    assert len(rows) == 5  # retrieve 50, rerank to 5
    assert [r for r, _ in rows] == sorted((r for r, _ in rows), reverse=True)
    assert "A: (fake LLM)" in out


def test_llama_index_query_engine(bi_encoder_path: Path, onnx_model_path: Path) -> None:
    out = _run("llama_index_query_engine.py", "--docs", "80")
    assert "indexed 80 documents" in out
    rows = _score_rows(out)
    assert len(rows) == 5
    assert [r for r, _ in rows] == sorted((r for r, _ in rows), reverse=True)
    assert "aquery returned the same source nodes: True" in out


def test_quickstart_tells_the_reranked_hits_apart(
    bi_encoder_path: Path, onnx_model_path: Path
) -> None:
    """Top hits all score ~1.0 after the sigmoid: the printout must still separate them."""
    out = _run("quickstart.py", "--docs", "150")
    shown = re.findall(r"relevance=(\d\.\d{6}) \(logit ([+-]\d+\.\d\d)\)", out)
    assert len(shown) == 5, out
    assert len(set(shown)) == 5, f"two hits print the same scores:\n{out}"
    logits = [float(lg) for _, lg in shown]
    assert logits == sorted(logits, reverse=True)
    assert "default funnel (weighted:w=0.2):" in out
