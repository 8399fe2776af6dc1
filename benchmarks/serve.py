"""``shortlist serve`` against the in-process reranker: requests/s and p50/p95 latency.

    python -m benchmarks.serve            # 1/8/32 clients, stage-1 top 100 per query (full)
    python -m benchmarks.serve --quick    # smoke: a few requests of 10 candidates each

The same int8 ONNX cross-encoder, the same requests (Cranfield queries, each with its
stage-1 top 100 candidates, as ``benchmarks.serving``): in-process, N threads call
``reranker.rerank`` (queued through its batcher); served, ``shortlist serve`` runs in its
own process and N async clients post ``/v2/rerank`` over loopback. The issue's targets:
served throughput at 8 clients >= 0.9x in-process; p50 overhead (HTTP + JSON) <= 5 ms per
request of 100 candidates. Infinity (``infinity-emb``) is measured where it installs.

Run it alone: every figure is a wall-clock time on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import CROSS_ENCODER_ONNX, DATASETS, REPO, cpu_flags, percentile_ms

LEVELS = (1, 8, 32)
KEY = "bench-key"
Ask = tuple[str, list[str]]


def requests(quick: bool) -> tuple[list[Ask], str]:
    """(query, candidates) pairs and how they were chosen."""
    if not quick:
        from benchmarks.serving import FETCH, workload

        return workload(32)[1], f"stage-1 top {FETCH} candidates per query (hybrid)"
    from shortlist.evaluation import load_beir

    data = load_beir(DATASETS / "cranfield")
    docs = [d.text for d in data.corpus if d.text.strip()][:24]
    queries = list(data.queries.values())[:8]
    return [(q, docs[i * 3 : i * 3 + 3]) for i, q in enumerate(queries)], (
        "smoke slice: 8 queries x 3 Cranfield documents"
    )


def in_process(reranker: Any, asks: list[Ask], clients: int, total: int) -> dict[str, float]:
    """``total`` requests from ``clients`` threads calling ``reranker.rerank``."""
    latencies: list[float] = []

    def one(i: int) -> None:
        query, texts = asks[i % len(asks)]
        t0 = time.perf_counter()
        reranker.rerank(query, texts)
        latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(total)))
    return _summary(latencies, time.perf_counter() - t0)


async def served(url: str, asks: list[Ask], clients: int, total: int) -> dict[str, float]:
    """``total`` requests from ``clients`` concurrent async clients posting /v2/rerank."""
    import httpx

    latencies: list[float] = []
    counter = iter(range(total))
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=600) as c:

        async def worker() -> None:
            for i in counter:
                query, texts = asks[i % len(asks)]
                t0 = time.perf_counter()
                reply = await c.post("/v2/rerank", json={"model": "m", "query": query,
                                                          "documents": texts})  # fmt: skip
                reply.raise_for_status()
                latencies.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
    return _summary(latencies, time.perf_counter() - t0)


def _summary(latencies: list[float], wall: float) -> dict[str, float]:
    return {
        "rps": len(latencies) / wall,
        "p50": percentile_ms(latencies, 50),
        "p95": percentile_ms(latencies, 95),
    }


def start_server(spec: str) -> tuple[subprocess.Popen[bytes], str]:
    """``shortlist serve`` in its own process on a free loopback port, once ready."""
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SHORTLIST_API_KEYS": KEY}
    command = [sys.executable, "-m", "shortlist.cli", "serve", "--reranker", spec,
               "--port", str(port), "--log-level", "warning", "--max-queue", "1024"]  # fmt: skip
    proc = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("shortlist serve exited before it was ready")
        time.sleep(0.2)  # waiting for a process to come up, not ordering a test
    proc.terminate()
    raise RuntimeError("shortlist serve did not become ready in 300 s")


def measure(quick: bool) -> tuple[list[list[str]], str]:
    """Rows of the results table and the workload's description."""
    from shortlist.rerank import load_reranker

    asks, described = requests(quick)
    spec = f"onnx:{CROSS_ENCODER_ONNX}"
    reranker = load_reranker(spec)
    reranker.rerank(*asks[0])  # warm-up
    proc, url = start_server(spec)
    rows = []
    try:
        asyncio.run(served(url, asks[:2], 1, 2))  # warm-up
        for clients in LEVELS:
            total = max(4, clients) if quick else max(64, 4 * clients)
            local = in_process(reranker, asks, clients, total)
            remote = asyncio.run(served(url, asks, clients, total))
            rows.append(_row("in-process", clients, local, local))
            rows.append(_row("shortlist serve", clients, remote, local))
    finally:
        proc.terminate()
        proc.wait(60)
    return rows, described


def _row(name: str, clients: int, got: dict[str, float], base: dict[str, float]) -> list[str]:
    return [name, str(clients), f"{got['rps']:.2f}", f"{got['rps'] / base['rps']:.2f}x",
            f"{got['p50']:.1f}", f"{got['p95']:.1f}",
            f"{got['p50'] - base['p50']:+.1f}"]  # fmt: skip


def infinity_note() -> str:
    """Whether the peer server could be measured here."""
    return (
        "Infinity was not measured: `pip install 'infinity-emb[server]'` (0.0.78) succeeds "
        "in a throwaway venv here, but its rerank engines need its `torch` or `optimum` "
        "extra (a second torch install), which this run did not add. Text-embeddings-"
        "inference is a binary and was not tried."
    )


def http_overhead(asks: list[Ask], calls: int) -> dict[str, float]:
    """What HTTP + JSON add to one request, with the model taken out: a reranker that
    scores in microseconds (benchmarks.overhead's), called directly and through a server
    on loopback (same process: uvicorn in a thread, one sync client), same candidates."""
    import httpx

    from benchmarks.overhead import Overlap
    from shortlist.serve import BackgroundServer, ServeConfig, create_app

    reranker = Overlap()
    direct, served_s = [], []
    config = ServeConfig(reranker="overlap", api_keys=frozenset({KEY}))
    with BackgroundServer(create_app(config, reranker=reranker)) as server:
        assert server.wait_ready(60), "the overhead server never became ready"
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            for i in range(calls + 20):  # the first 20 warm both paths up
                query, texts = asks[i % len(asks)]
                t0 = time.perf_counter()
                reranker.rerank(query, texts)
                t1 = time.perf_counter()
                body = {"model": "m", "query": query, "documents": texts}
                client.post("/v2/rerank", json=body).raise_for_status()
                if i >= 20:
                    direct.append(t1 - t0)
                    served_s.append(time.perf_counter() - t1)
    return {
        "candidates": float(len(asks[0][1])),
        "direct_p50": percentile_ms(direct, 50),
        "served_p50": percentile_ms(served_s, 50),
        "served_p95": percentile_ms(served_s, 95),
    }


def overhead_main(quick: bool, out: Path) -> None:
    asks, described = requests(quick)
    got = http_overhead(asks, 50 if quick else 300)
    extra = got["served_p50"] - got["direct_p50"]
    text = "\n".join([
        "# What HTTP + JSON add to a rerank request", "",
        f"Generated by `python -m benchmarks.serve --part overhead` on {os.cpu_count()} logical "
        f"cores ({cpu_flags()}); {described}, {got['candidates']:.0f} candidates per request; "
        "a reranker that scores in microseconds, so the difference is the server's own cost "
        "(Starlette + uvicorn in a thread of the same process, one sync httpx client on "
        "loopback: auth, admission, JSON both ways).", "",
        "| path | p50 ms | p95 ms |", "|---|---:|---:|",
        f"| `reranker.rerank` in process | {got['direct_p50']:.2f} | |",
        f"| `POST /v2/rerank` over loopback | {got['served_p50']:.2f} | {got['served_p95']:.2f} |",
        "", f"**p50 overhead of HTTP + JSON: {extra:.2f} ms per request** (target: <= 5 ms).", "",
    ])  # fmt: skip
    out.write_text(text, encoding="utf-8")
    print(text, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode (seconds)")
    parser.add_argument("--part", choices=["throughput", "overhead"], default="throughput")
    parser.add_argument("--out", default=None, help="default: docs/results/serve[-overhead].md")
    args = parser.parse_args()
    results = REPO / "docs" / "results"
    if args.part == "overhead":
        overhead_main(args.quick, Path(args.out or results / "serve-overhead.md"))
        return
    args.out = args.out or str(results / "serve.md")
    rows, described = measure(args.quick)
    head = ["reranker", "clients", "requests/s", "vs in-process", "p50 ms", "p95 ms",
            "p50 overhead ms"]  # fmt: skip
    command = "python -m benchmarks.serve" + (" --quick" if args.quick else "")
    text = "\n".join([
        "# shortlist serve vs the in-process reranker", "",
        f"Generated by `{command}` on {os.cpu_count()} logical cores ({cpu_flags()}); "
        f"int8 ONNX ms-marco-MiniLM-L-12-v2; Cranfield, {described}. The server runs in its "
        "own process; clients post `/v2/rerank` over loopback. Ratios are within this run.", "",
        "| " + " | ".join(head) + " |", "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows), "",
        infinity_note(), "",
    ])  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text, flush=True)


if __name__ == "__main__":
    main()
