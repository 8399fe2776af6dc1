"""``python -m benchmarks.serve --quick`` still runs end to end (no time asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_benchmark

pytestmark = pytest.mark.slow


def test_quick_serve_benchmark_writes_its_table(onnx_model_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "serve.md"
    proc = run_benchmark("serve", "--quick", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = out.read_text()
    assert "python -m benchmarks.serve --quick" in doc
    rows = [line.split("|")[1:-1] for line in doc.splitlines() if line.startswith("| ")][1:]
    assert {(r[0].strip(), r[1].strip()) for r in rows} == {
        (name, str(n)) for name in ("in-process", "shortlist serve") for n in (1, 8, 32)
    }
    assert all(float(r[2]) > 0 for r in rows)


def test_the_http_overhead_part_measures_both_paths() -> None:
    from benchmarks.serve import http_overhead, requests

    asks, _ = requests(quick=True)
    got = http_overhead(asks, 10)
    assert got["candidates"] == len(asks[0][1])
    # served includes the direct work plus a real round trip: it cannot be cheaper
    assert got["served_p50"] > got["direct_p50"] > 0
