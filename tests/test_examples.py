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


def _score_rows(stdout: str) -> list[tuple[float, float, float]]:
    """(score, relevance, retrieval) of each printed hit: the score the hits are ordered by,
    and both stage scores."""
    number = r"(-?\d\.\d{4})"
    rows = re.findall(
        rf"^\s*\*?\s*(?:\d+\s+)?\d+\s+{number}\s+([01]\.\d{{4}})\s+{number}", stdout, re.M
    )
    return [(float(a), float(b), float(c)) for a, b, c in rows]


def _ordered_by_printed_score(rows: list[tuple[float, float, float]]) -> bool:
    """The invariant that holds on every CPU: hits come in the order of the score printed
    as theirs (the relevance column alone may not be sorted when fusion decided the order,
    and which near-tied hits swap depends on the CPU's int8 kernels)."""
    scores = [score for score, _, _ in rows]
    return scores == sorted(scores, reverse=True)


def test_langchain_rag_chain(bi_encoder_path: Path, onnx_model_path: Path) -> None:
    out = _run("langchain_rag.py", "--docs", "80")
    assert "indexed 80 docs" in out
    rows = _score_rows(out)
    assert len(rows) == 5  # retrieve 50, rerank to 5
    assert _ordered_by_printed_score(rows), out
    assert "A: (fake LLM)" in out


def test_llama_index_query_engine(bi_encoder_path: Path, onnx_model_path: Path) -> None:
    out = _run("llama_index_query_engine.py", "--docs", "80")
    assert "indexed 80 documents" in out
    rows = _score_rows(out)
    assert len(rows) == 5
    assert _ordered_by_printed_score(rows), out
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
