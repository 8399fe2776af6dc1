"""Past one machine, measured on this one: docs/results/scale.md.

    python -m benchmarks.scale --out docs/results/scale.md

Three measurements, one process, on Cranfield, with a local Ray cluster of this machine's
cores (``ray.init(num_cpus=os.cpu_count())``):

1. **Encoding**: documents/s embedding the corpus in one process (``Index.build``'s
   encoder) and with ``build_on_ray`` (Ray Data, 1 and 2 embedding actors, 4 shards).
2. **Sharded search**: stage-1 hybrid (alpha 0.5) latency from text at k=100, p50/p95,
   for one ``Index``, ``ShardedIndex`` with 2 and 4 shards in this process, and 2 shards
   on Ray actors; modes interleaved per query.
3. **Reranker replicas**: 8 concurrent clients, each reranking 100 candidates, against one
   local ONNX reranker shared by the 8 threads, and against Serve replicas (1 and 2) of
   the same model: aggregate pairs/s, p50/p95 latency, batch sizes formed.

Then a paper plan for 1B chunks, computed from these figures (not measured at that size).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import BI_ENCODER, CROSS_ENCODER_ONNX, SHARED

CLIENTS = 8
FETCH = 100
DIM = 384


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def encoding(ray: Any, corpus: Path) -> list[tuple[str, float, int]]:
    from shortlist.encoders import SentenceTransformerEncoder
    from shortlist.loaders import load_documents
    from shortlist.scale.encode import build_on_ray

    docs = load_documents(corpus)
    encoder = SentenceTransformerEncoder(BI_ENCODER, device="cpu")
    t0 = time.perf_counter()
    encoder.encode_documents([d.text for d in docs])
    rows = [("one process (sentence-transformers, batch 32)", time.perf_counter() - t0, len(docs))]
    for actors in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            index = build_on_ray(
                corpus, Path(tmp) / "idx", embedder=BI_ENCODER, shards=4, actors=actors,
                actor_cpus=0.5, shard_cpus=0.1, show_progress=False,
            )  # fmt: skip
            rows.append(
                (
                    f"Ray Data, {actors} actor(s), 4 shards, incl. writing",
                    time.perf_counter() - t0,
                    len(index),
                )
            )
            index.close()
    return rows


def search(ray: Any, collection: str) -> list[tuple[str, float, float]]:
    from shortlist.encoders import SentenceTransformerEncoder
    from shortlist.evaluation import load_beir
    from shortlist.index import Index, ShardedIndex

    data = load_beir(SHARED / "datasets" / collection)
    encoder = SentenceTransformerEncoder(BI_ENCODER, device="cpu")
    docs = list(data.corpus)
    vectors = encoder.encode_documents([d.text for d in docs])
    systems: dict[str, Any] = {"Index (one)": Index(encoder)}
    systems["ShardedIndex, 2 shards, here"] = ShardedIndex(encoder, shards=2)
    systems["ShardedIndex, 4 shards, here"] = ShardedIndex(encoder, shards=4)
    systems["ShardedIndex, 2 shards, Ray actors"] = ShardedIndex(
        encoder, shards=2, ray=True, shard_cpus=0.1
    )
    for index in systems.values():
        index.add(docs, embeddings=vectors)
    queries = list(data.queries.values())
    samples: dict[str, list[float]] = {name: [] for name in systems}
    names = list(systems)
    for name in names:
        systems[name].search(queries[0], FETCH, mode="hybrid", alpha=0.5)  # warm-up
    for qi, query in enumerate(queries):
        for name in names[qi % len(names) :] + names[: qi % len(names)]:
            t0 = time.perf_counter()
            systems[name].search(query, FETCH, mode="hybrid", alpha=0.5)
            samples[name].append(time.perf_counter() - t0)
    systems["ShardedIndex, 2 shards, Ray actors"].close()
    return [(n, statistics.median(v), _pct(v, 0.95)) for n, v in samples.items()]


def replicas(ray: Any, collection: str) -> list[tuple[str, float, float, float, str]]:
    from ray import serve

    from shortlist.evaluation import load_beir
    from shortlist.rerank import load_reranker
    from shortlist.scale.serve import serve_reranker

    data = load_beir(SHARED / "datasets" / collection)
    texts = [d.text for d in data.corpus][:FETCH]
    queries = list(data.queries.values())[: CLIENTS * 2]
    spec = f"onnx:{CROSS_ENCODER_ONNX}"

    def load(reranker: Any) -> tuple[float, float, float]:
        latencies: list[float] = []

        def one(q: str) -> None:
            t0 = time.perf_counter()
            reranker.score(q, texts)
            latencies.append(time.perf_counter() - t0)

        reranker.score(queries[0], texts[:8])  # warm-up
        t0 = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(one, queries))
        wall = time.perf_counter() - t0
        return len(queries) * FETCH / wall, statistics.median(latencies), _pct(latencies, 0.95)

    rows = [("one local ONNX reranker, 8 threads", *load(load_reranker(spec)), "-")]
    for count in (1, 2):
        cpus = (os.cpu_count() or 2) / count  # the machine's cores, split between replicas
        serve_reranker(spec, name="bench", num_replicas=count, ray_actor_options={"num_cpus": cpus})
        remote = load_reranker("ray:bench", timeout=600)  # a queue of 8 x 100 pairs waits
        measured = load(remote)
        sizes = remote.stats()["batch_sizes"]
        batches = f"max {max(sizes)}, mean {statistics.fmean(sizes):.1f}" if sizes else "-"
        rows.append((f"Serve, {count} replica(s)", *measured, batches))
        serve.delete("bench")
    return rows


def render(enc: list[Any], srch: list[Any], reps: list[Any], collection: str) -> str:
    lines = [
        "# Scale-out on one machine: encoding, sharded search, reranker replicas",
        "",
        f"Generated by `python -m benchmarks.scale` on {os.cpu_count()} logical cores, a local "
        "Ray cluster of this machine, "
        f"{collection}. Ratios are against the first row of each table, in the same run.",
        "",
        "## Encoding the corpus",
        "",
        "| how | seconds | docs | docs/s | vs one process |",
        "|---|---:|---:|---:|---:|",
    ]
    base = enc[0][2] / enc[0][1] if enc else float("nan")
    if not enc:
        lines.append("| (not run: `--parts` left it out) | | | | |")
    for name, seconds, docs in enc:
        rate = docs / seconds
        lines.append(f"| {name} | {seconds:.1f} | {docs} | {rate:.1f} | {rate / base:.2f}x |")
    lines += ["", "## Stage-1 search (hybrid, alpha 0.5, k=100, from text)", "",
              "| index | p50 ms | p95 ms | p50 vs one index |", "|---|---:|---:|---:|"]  # fmt: skip
    for name, p50, p95 in srch:
        lines.append(f"| {name} | {p50 * 1e3:.2f} | {p95 * 1e3:.2f} | {p50 / srch[0][1]:.2f}x |")
    lines += ["", f"## Reranking: {CLIENTS} concurrent clients, {FETCH} candidates each", "",
              "| reranker | pairs/s | p50 s | p95 s | vs local | batches formed |",
              "|---|---:|---:|---:|---:|---|"]  # fmt: skip
    for name, pps, p50, p95, batches in reps:
        lines.append(
            f"| {name} | {pps:.0f} | {p50:.2f} | {p95:.2f} | {pps / reps[0][1]:.2f}x | {batches} |"
        )
    if not (enc and reps):
        return "\n".join([*lines, ""])
    docs_per_core_s = base / (os.cpu_count() or 2)
    pairs_per_core_s = reps[0][1] / (os.cpu_count() or 2)
    chunks, qps = 1_000_000_000, 100
    encode_core_hours = chunks / docs_per_core_s / 3600
    rerank_cores = qps * FETCH / pairs_per_core_s
    flat_gb, pq_gb = chunks * (4 * DIM + 8) / 1e9, chunks * (48 + 8) / 1e9
    lines += [
        "",
        "## A paper plan for 1B chunks (derived from the rows above, not measured at that size)",
        "",
        f"- Encoding: {docs_per_core_s:.1f} docs/s per core here -> {encode_core_hours:,.0f} "
        f"core-hours; on 64 nodes x 32 cores, {encode_core_hours / (64 * 32):,.0f} hours (CPU; "
        "a GPU encodes one to two orders of magnitude faster).",
        f"- Vectors: flat float32 {flat_gb:,.0f} GB (4 x {DIM} B + 8 B id each); IVF-PQ with "
        f"48 sub-quantisers {pq_gb:,.0f} GB, plus the text. At 64 GB of index per node: "
        f"{flat_gb / 64:,.0f} flat shards, or {pq_gb / 64:,.0f} IVF-PQ shards.",
        f"- Reranking {qps} queries/s at N={FETCH}: {qps * FETCH:,} pairs/s at "
        f"{pairs_per_core_s:.0f} pairs/s per core -> {rerank_cores:,.0f} cores of int8 ONNX "
        f"replicas (e.g. {rerank_cores / 32:,.0f} replicas of 32 cores).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    import ray

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collection", default="cranfield")
    parser.add_argument("--out", default=None)
    parser.add_argument("--parts", default="encode,search,replicas")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1", configure_logging=False)  # fmt: skip
    try:
        corpus = SHARED / "datasets" / args.collection / "corpus.jsonl"
        text = render(
            encoding(ray, corpus) if "encode" in parts else [],
            search(ray, args.collection) if "search" in parts else [],
            replicas(ray, args.collection) if "replicas" in parts else [],
            args.collection,
        )  # fmt: skip
    finally:
        ray.shutdown()
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
