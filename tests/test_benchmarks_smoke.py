"""The benchmark harness still runs: ``python -m benchmarks.run --smoke`` (no time asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_benchmark

pytestmark = pytest.mark.slow


def test_smoke_run_writes_tables_and_parity(
    bi_encoder_path: Path, cross_encoder_path: Path, onnx_model_path: Path, tmp_path: Path
) -> None:
    out, raw = tmp_path / "benchmarks.md", tmp_path / "benchmarks.json"
    proc = run_benchmark("run", "--smoke", "--out", str(out), "--json", str(raw))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Stage 2 on cranfield (smoke slice)" in proc.stdout
    assert "Stage 1 on cranfield (smoke slice)" in proc.stdout
    doc = out.read_text()
    for heading in ("# Benchmarks", "## Machine", "## Summary", "## Quality parity", "## Method"):
        assert heading in doc
    assert "python -m benchmarks.run --smoke" in doc
    data = json.loads(raw.read_text())
    assert data["machine"]["versions"]["langchain-core"] != "not installed"
    assert data["machine"]["cpu_flags"] in doc  # int8 speed depends on them: always named
    titles = [t["title"] for t in data["tables"]]
    assert any(t.startswith("Stage 2") for t in titles) and any(
        t.startswith("Stage 1") for t in titles
    )
    peers = {row[0].strip() for t in data["tables"] for row in t["rows"]}
    for peer in ("shortlist onnx (int8)", "LangChain CrossEncoderReranker",
                 "LlamaIndex SentenceTransformerRerank", "CrossEncoder.predict (floor)",
                 "LangChain FAISS", "raw faiss.IndexFlatIP (floor)"):  # fmt: skip
        assert peer in peers
    assert data["parity"] and all({"ok", "check"} <= set(c) for c in data["parity"])
