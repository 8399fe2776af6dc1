"""What every benchmark shares: the machine description, timing, tables, the shared assets."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from shortlist.cpu import cpu_flags, cpu_model
from shortlist.evaluation.render import markdown_table, text_table

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SHORTLIST_SHARED", REPO.parent / "shared")).resolve()
BI_ENCODER = SHARED / "models" / "all-MiniLM-L6-v2"
CROSS_ENCODER = SHARED / "models" / "ms-marco-MiniLM-L-12-v2"
CROSS_ENCODER_ONNX = SHARED / "models" / "ms-marco-MiniLM-L-12-v2-onnx-int8"
DATASETS = SHARED / "datasets"

PACKAGES = (
    "shortlist", "numpy", "faiss-cpu", "torch", "sentence-transformers", "transformers",
    "onnxruntime", "tokenizers", "langchain-core", "langchain-community", "langchain-classic",
    "langchain-huggingface", "llama-index-core",
)  # fmt: skip


def machine(threads: dict[str, Any]) -> dict[str, Any]:
    """CPU, cores, load, thread settings and library versions, printed with every result."""
    from shortlist._onnxruntime import physical_cores  # the ONNX backend's own count

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": cpu_model(),
        "cpu_flags": cpu_flags(),
        "logical_cores": os.cpu_count(),
        "physical_cores": physical_cores(),
        "load_average_at_start": [round(x, 2) for x in load],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "threads": threads,
        "versions": versions,
    }


def timed(fn: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    """(seconds, result) of one call ``fn(*args)``."""
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def median_ms(seconds: Sequence[float]) -> float:
    """Median of durations, in milliseconds."""
    return statistics.median(seconds) * 1000.0 if seconds else float("nan")


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of durations, in milliseconds."""
    import numpy as np

    return float(np.percentile(np.asarray(seconds) * 1000.0, q)) if seconds else float("nan")


def dir_bytes(path: Path) -> int:
    """Total size of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@dataclass(frozen=True)
class Table:
    """A titled table that prints aligned and renders as Markdown."""

    title: str
    head: list[str]
    rows: list[list[str]]
    note: str = ""

    def text(self) -> str:
        lines = text_table(self.head, self.rows, text_columns=(0,))
        return "\n".join([self.title, *lines] + ([self.note] if self.note else []))

    def markdown(self) -> str:
        lines = markdown_table(self.head, self.rows, text_columns=(0,))
        return "\n".join([f"### {self.title}", "", *lines] + (["", self.note] if self.note else []))


def ratio(value: float, reference: float) -> str:
    """``value / reference`` as ``0.42x`` (lower is faster)."""
    if not reference or reference != reference or value != value:
        return "-"
    return f"{value / reference:.2f}x"
