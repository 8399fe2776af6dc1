"""Per-query overhead of shortlist's own code around stage 2, sync and async.

The model is taken out of the measurement: a reranker whose ``_score`` counts shared
words (microseconds) and an encoder that hashes words into a vector, so what is timed is
shortlist's path itself -- validation, the cache/batcher/fallback composition, ranking,
the event-loop and thread hops. Each row is one entry point called repeatedly, one call at
a time (sync in a loop, async awaited in a loop on one event loop); the figure is the
median per call, minus the median of calling the backend's ``_score`` directly on the
same input (the work every path must do).

Rows: ``rerank_hits`` with a remote-style backend (no batcher) and a local-style one
(``batched``: every call goes through the dispatcher thread that keeps concurrent callers
from oversubscribing the cores), the same behind a two-member fallback chain, and the
whole ``Pipeline.search`` over a 2,000-document hybrid index (fetch 100, keep 5).

    python -m benchmarks.overhead [--calls 400] [--out docs/results/overhead.md]

Run it against another checkout's code with ``PYTHONPATH=<checkout>/src`` (the before/after
figures in the issue notes come from two such runs back to back on one machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmarks.common import Table
from shortlist import Document, Hit, Index, Pipeline, Reranker
from shortlist.cpu import cpu_flags, cpu_model
from shortlist.rerank import FallbackReranker

DIM = 64
DOCS = 2_000
CANDIDATES = 100
_WORD = re.compile(r"\w+")


class HashEncoder:
    """Words hashed into a unit vector: an encoder with no model (what is timed is ours)."""

    name = "hash-64"
    dim = DIM

    def _one(self, text: str) -> np.ndarray:
        v = np.zeros(DIM, dtype=np.float32)
        for w in _WORD.findall(text.lower()):
            v[zlib.crc32(w.encode()) % DIM] += 1.0
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def encode_documents(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, DIM), "f4")

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_documents(texts)


class Overlap(Reranker):
    """Shared-word count: a backend that costs microseconds, like a remote one's client."""

    backend = "overlap"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        q = set(query.split())
        return np.array([len(q.intersection(t.split())) for t in texts], dtype=np.float64)


class LocalOverlap(Overlap):
    """The same, queued through the batcher as the local models are."""

    backend = "local-overlap"
    batched: ClassVar[bool] = True


def _corpus() -> list[Document]:
    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(500)]
    return [Document(id=str(i), text=" ".join(rng.choice(vocab, size=40))) for i in range(DOCS)]


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def _sync(fn: Callable[[], object], calls: int) -> float:
    fn()
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return _median_us(samples)


def _async(fn: Callable[[], Awaitable[object]], calls: int) -> float:
    async def run() -> float:
        await fn()
        samples = []
        for _ in range(calls):
            t0 = time.perf_counter()
            await fn()
            samples.append(time.perf_counter() - t0)
        return _median_us(samples)

    return asyncio.run(run())


def measure(calls: int) -> dict[str, dict[str, float]]:
    """Median microseconds per call, per entry point: sync, async, and the bare backend."""
    docs = _corpus()
    index = Index(HashEncoder())  # type: ignore[arg-type]
    index.add(docs)
    query = docs[0].text[:60]
    hits: list[Hit] = index.search(query, CANDIDATES)
    texts = [h.document.text for h in hits]
    rows: dict[str, dict[str, float]] = {}
    for name, reranker in (
        ("rerank_hits, remote-style backend", Overlap()),
        ("rerank_hits, batched local backend", LocalOverlap()),
        ("rerank_hits, fallback chain (2 members)", FallbackReranker([Overlap(), Overlap()])),
    ):
        bare = _sync(lambda r=reranker: r._score(query, texts), calls)  # type: ignore[misc]
        rows[name] = {
            "backend_us": bare,
            "sync_us": _sync(lambda r=reranker: r.rerank_hits(query, hits, top_n=5), calls),
            "async_us": _async(lambda r=reranker: r.arerank_hits(query, hits, top_n=5), calls),
        }
    pipe = Pipeline(index, LocalOverlap(), fetch_k=CANDIDATES, top_n=5)
    bare = _sync(lambda: index.search(query, CANDIDATES), calls)
    rows["Pipeline.search (stage 1 + batched rerank)"] = {
        "backend_us": bare,
        "sync_us": _sync(lambda: pipe.search(query), calls),
        "async_us": _async(lambda: pipe.asearch(query), calls),
    }
    return rows


def table(rows: dict[str, dict[str, float]], label: str) -> Table:
    body = [
        [
            name,
            f"{r['backend_us']:.0f}",
            f"{r['sync_us']:.0f}",
            f"{r['sync_us'] - r['backend_us']:.0f}",
            f"{r['async_us']:.0f}",
            f"{r['async_us'] - r['backend_us']:.0f}",
        ]
        for name, r in rows.items()
    ]
    return Table(
        f"Per-call overhead, {label} (median µs, {CANDIDATES} candidates)",
        ["entry point", "backend alone", "sync", "sync overhead", "async", "async overhead"],
        body,
        "'backend alone' is the bare `_score` (for the pipeline: `Index.search`); overhead = "
        "the entry point minus it.",
    )


def compare(runs: list[Path]) -> str:
    """Markdown: each entry point's overhead per labelled run (the best of that label's
    repeats, so a background hiccup in one repeat does not decide), sync and async."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for path in runs:
        run = json.loads(path.read_text(encoding="utf-8"))
        by_label.setdefault(run["label"], []).append(run)
    labels = list(by_label)
    first = by_label[labels[0]][0]
    head = ["entry point"] + [f"{lab}: {kind}" for kind in ("sync", "async") for lab in labels]
    body = []
    for name in first["rows"]:
        cells = [name]
        for kind in ("sync", "async"):
            for lab in labels:
                best = min(
                    r["rows"][name][f"{kind}_us"] - r["rows"][name]["backend_us"]
                    for r in by_label[lab]
                )
                cells.append(f"{best:.0f}")
        body.append(cells)
    note = (
        f"Overhead per call in µs (entry point minus the bare backend), best of "
        f"{len(by_label[labels[0]])} alternating runs per label; CPU: {first['cpu']} "
        f"({first['flags']}). Reproduce: `python -m benchmarks.overhead --label L --json F` "
        "per checkout (`PYTHONPATH=<checkout>/src`), then `--compare F...`."
    )
    return Table("Sync and async overhead per call", head, body, note).markdown() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.overhead", description=__doc__)
    p.add_argument("--calls", type=int, default=400, help="calls per entry point")
    p.add_argument("--label", default="this checkout", help="names the code measured")
    p.add_argument("--json", type=Path, help="write the raw figures and machine here")
    p.add_argument("--compare", type=Path, nargs="+", help="render these --json files")
    p.add_argument("--out", type=Path, help="with --compare: write the Markdown here")
    args = p.parse_args(argv)
    if args.compare:
        text = compare(args.compare)
        if args.out:
            args.out.write_text(text, encoding="utf-8")
        print(text)
        return 0
    rows = measure(args.calls)
    print(table(rows, args.label).text())
    if args.json:
        payload = {"label": args.label, "rows": rows, "cpu": cpu_model(), "flags": cpu_flags()}
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
