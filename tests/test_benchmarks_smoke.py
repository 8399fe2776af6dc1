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


def test_scale_up_smoke_run_measures_every_column(tmp_path: Path) -> None:
    """``python -m benchmarks.scale_up`` end to end at a tiny size: a flat index is exact,
    so its recall against the benchmark's own brute force is 1.0 (a wrong truth fails)."""
    proc = run_benchmark(
        "scale_up", "--sizes", "3000", "--pairs", "3", "--stream", "5",
        "--label", "smoke", "--out", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((tmp_path / "scale-up-smoke.json").read_text())
    row = data["rows"][0]
    assert row["documents"] == 3000 and row["structure"] == "Flat"
    assert row["dense_recall"] == 1.0 and row["hybrid_recall"] == 1.0
    assert row["stream"] == 5 and row["load"]["load_s"] > 0 and row["peak_rss_bytes"] > 0
    assert data["machine"]["cpu_flags"]
    assert "3,000" in (tmp_path / "scale-up-smoke.md").read_text()


def test_graphs_check_scores_candidates_and_writes_nothing(
    onnx_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``benchmarks.graphs --check``: each candidate loads and scores a few pairs against
    the dequantized reference; no timing, no result files (shipped graphs: nothing built)."""
    monkeypatch.setenv("SHORTLIST_GRAPH_CACHE", str(tmp_path / "cache"))
    proc = run_benchmark(
        "graphs", "--check", "2", "--candidates", "shipped,no-skipln", "--out", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(2 pairs, no timing)" in proc.stdout
    assert "disabled_optimizers=['SkipLayerNormFusion']" in proc.stdout
    assert not (tmp_path / "graphs.json").exists() and not (tmp_path / "cache").exists()
