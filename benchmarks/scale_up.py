"""One machine before many: the hybrid index from 10k to 1M documents, under writes.

    python -m benchmarks.scale_up --out docs/results/scale-up   # 10k, 100k, 1M (~15 min)
    python -m benchmarks.scale_up --sizes 10000 --pairs 5 --stream 0   # a smoke run

Synthetic corpus (issue 26's): words drawn from Cranfield's vocabulary by frequency,
40-160 words a document; 384-d unit vectors passed as ``embeddings=`` (no model runs).
``--vectors structured`` (default) draws them with a low intrinsic dimension (32), as
sentence embeddings have; ``uniform`` draws them uniformly on the sphere, the worst case
for any approximate index (every neighbour is about as far as any other).

Each size runs in its own process, so its peak RSS is its own; the saved index is
loaded in a third, fresh process (load time and RSS of a server that opens it). Per
size: add (in batches of 20,000), query latency per mode at k=100 (p50 over 50
queries, each mode interleaved), Recall@100 of dense and hybrid against exact (flat)
dense search, one upsert then a hybrid query (p50 of ``--pairs``), ``--stream``
single-document upserts interleaved with hybrid queries (total), save, load, disk.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import DATASETS, REPO, Table, dir_bytes, machine, median_ms

DIM = 384
BATCH = 20_000
QUERIES = 50
K = 100


# ----------------------------------------------------------------- the synthetic corpus
class Corpus:
    """Deterministic documents, vectors and queries: batch ``b`` is the same in every
    process, so a corpus of a million documents never has to be held twice."""

    def __init__(self, vectors: str, seed: int = 0) -> None:
        text = " ".join(
            json.loads(line)["text"]
            for line in (DATASETS / "cranfield" / "corpus.jsonl").open(encoding="utf-8")
        )
        counts = Counter(re.findall(r"[a-z]+", text.lower()))
        self.words = np.array(list(counts))
        freq = np.array(list(counts.values()), dtype=np.float64)
        self.p = freq / freq.sum()
        self.vectors, self.seed = vectors, seed
        self.basis = np.random.default_rng(seed).standard_normal((32, DIM)).astype(np.float32)

    def texts(self, rng: np.random.Generator, n: int, low: int, high: int) -> list[str]:
        lengths = rng.integers(low, high + 1, size=n)
        flat = self.words[rng.choice(len(self.words), size=int(lengths.sum()), p=self.p)]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        return [" ".join(flat[a:b]) for a, b in pairwise(bounds.tolist())]

    def unit_vectors(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.vectors == "uniform":
            v = rng.standard_normal((n, DIM), dtype=np.float32)
        else:  # a 32-dimensional latent space, lifted to 384 dimensions, plus a little noise
            v = rng.standard_normal((n, 32), dtype=np.float32) @ self.basis
            v += 0.1 * rng.standard_normal((n, DIM), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def batch(self, b: int) -> tuple[list[str], np.ndarray]:
        rng = np.random.default_rng([self.seed, 1, b])
        return self.texts(rng, BATCH, 40, 160), self.batch_vectors(b)

    def batch_vectors(self, b: int) -> np.ndarray:
        return self.unit_vectors(np.random.default_rng([self.seed, 5, b]), BATCH)

    def queries(self, n: int, tag: int = 2) -> tuple[list[str], np.ndarray]:
        rng = np.random.default_rng([self.seed, tag])
        return self.texts(rng, n, 4, 10), self.unit_vectors(rng, n)


def batches(n: int) -> list[tuple[int, int]]:
    """(batch number, documents taken from it) covering ``n`` documents."""
    return [(b, min(BATCH, n - b * BATCH)) for b in range((n + BATCH - 1) // BATCH)]


class VectorsGiven:
    """The encoder of an index whose vectors are all passed in (``embeddings=``, query
    vectors): it names the vector space and never runs."""

    name, dim = "synthetic-384", DIM

    def encode_documents(self, texts: Any, **_: Any) -> np.ndarray:
        raise RuntimeError("the scale benchmark passes every vector")

    def encode_queries(self, texts: Any) -> np.ndarray:
        raise RuntimeError("the scale benchmark passes every vector")


# ----------------------------------------------------------------- one size, one process
def measure(n: int, spec: str, vectors: str, pairs: int, stream: int) -> dict[str, Any]:
    from shortlist import Index

    corpus = Corpus(vectors)
    index = Index(VectorsGiven(), **({} if spec == "default" else {"spec": spec}))
    text_bytes, add_s = 0, 0.0
    for b, take in batches(n):
        texts, vecs = corpus.batch(b)
        texts, vecs = texts[:take], vecs[:take]
        text_bytes += sum(len(t.encode("utf-8")) for t in texts)
        ids = [str(b * BATCH + i) for i in range(take)]
        t0 = time.perf_counter()
        index.add(texts, ids=ids, embeddings=vecs, show_progress=False)
        add_s += time.perf_counter() - t0
    q_texts, q_vecs = corpus.queries(QUERIES)
    latency = _query_latency(index, q_texts, q_vecs)
    exact = _exact(corpus, n, q_vecs)
    recall = _recall(index, exact, q_texts, q_vecs)
    out: dict[str, Any] = {"documents": n, "add_s": add_s, "text_bytes": text_bytes,
                           "vector_bytes": n * DIM * 4, **latency, **recall}  # fmt: skip
    out["structure"] = getattr(index, "_factory", None)
    if str(out["structure"]).startswith("HNSW"):
        out["ef_sweep"] = _ef_sweep(index, exact, q_texts, q_vecs)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index.save(Path(tmp) / "idx")
        out["save_s"] = time.perf_counter() - t0
        out["disk_bytes"] = dir_bytes(Path(tmp) / "idx")
        out["load"] = _load_elsewhere(Path(tmp) / "idx")
    out.update(_writes(index, corpus, n, pairs, stream))
    out["peak_rss_bytes"] = peak_rss()
    return out


def _hybrid(index: Any, text: str, vec: np.ndarray, k: int = K) -> list[Any]:
    """A hybrid query from a precomputed vector (the encoder is out of the picture)."""
    from shortlist.index.hybrid import Wanted, assemble

    wanted = Wanted([text], index.query_vectors(vec), k, k, None)
    lists = index._ranked(wanted)[0]
    return assemble(lists, "hybrid", k, fusion=index.hybrid)


def _query_latency(index: Any, texts: list[str], vecs: np.ndarray) -> dict[str, float]:
    runs: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
    for text, vec in zip(texts, vecs, strict=True):
        for mode in runs:
            t0 = time.perf_counter()
            if mode == "dense":
                index.search_vectors(vec, K)
            elif mode == "bm25":
                index.search(text, K, mode="bm25")
            else:
                _hybrid(index, text, vec)
            runs[mode].append(time.perf_counter() - t0)
    return {f"{mode}_p50_ms": median_ms(values[1:]) for mode, values in runs.items()}


def _exact(corpus: Corpus, n: int, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact dense top-100 (scores, row numbers) by brute force over the regenerated
    vectors (keys are row numbers until the first upsert)."""
    best = np.full((len(vecs), K), -np.inf, dtype=np.float32)
    rows = np.zeros((len(vecs), K), dtype=np.int64)
    for b, take in batches(n):
        part = (corpus.batch_vectors(b)[:take] @ vecs.T).T  # (queries, take)
        found = np.arange(b * BATCH, b * BATCH + take)[None].repeat(len(vecs), 0)
        scores, keys = np.concatenate([best, part], 1), np.concatenate([rows, found], 1)
        top = np.argsort(-scores, axis=1)[:, :K]
        best, rows = np.take_along_axis(scores, top, 1), np.take_along_axis(keys, top, 1)
    return best, rows


def _recall(
    index: Any, exact: tuple[np.ndarray, np.ndarray], texts: list[str], vecs: np.ndarray
) -> dict[str, float]:
    """Recall@100 of dense and hybrid search against exact dense search (hybrid's truth
    fuses the exact dense list with the same BM25 list)."""
    from shortlist.index.hybrid import Lists, Wanted, assemble

    best, rows = exact
    dense_hits, hybrid_hits = 0, 0
    for i, (text, vec) in enumerate(zip(texts, vecs, strict=True)):
        found = index.search_vectors(vec, K)[0]
        dense_hits += len(set(rows[i].tolist()) & {int(h.id) for h in found})
        lists = index._ranked(Wanted([text], index.query_vectors(vec), K, K, None))[0]
        docs = {**lists.docs, **{int(r): index._store.document(int(r)) for r in rows[i]}}
        truth = Lists((rows[i], best[i]), lists.bm25, docs)
        want = {h.id for h in assemble(truth, "hybrid", K, fusion=index.hybrid)}
        got = {h.id for h in assemble(lists, "hybrid", K, fusion=index.hybrid)}
        hybrid_hits += len(want & got)
    total = K * len(vecs)
    return {"dense_recall": dense_hits / total, "hybrid_recall": hybrid_hits / total}


def _ef_sweep(
    index: Any, exact: tuple[np.ndarray, np.ndarray], texts: list[str], vecs: np.ndarray
) -> dict[str, dict[str, float]]:
    """Dense Recall@100 and latency at other ``ef_search`` values (the graph unchanged)."""
    from dataclasses import replace

    spec, sweep = index.spec, {}
    for ef in (128, 256, 384, 512):
        index.spec = replace(spec, params={**spec.params, "ef_search": ef})
        latency = _query_latency(index, texts[:20], vecs[:20])
        sweep[str(ef)] = {"dense_p50_ms": latency["dense_p50_ms"],
                          **_recall(index, exact, texts, vecs)}  # fmt: skip
    index.spec = spec
    return sweep


def _writes(index: Any, corpus: Corpus, n: int, pairs: int, stream: int) -> dict[str, Any]:
    """One upsert (an existing id, new text and vector) then one hybrid query, timed as a
    pair; then ``stream`` of them back to back, timed in all."""
    rng = np.random.default_rng([corpus.seed, 3])
    texts, vecs = (
        corpus.texts(rng, pairs + stream, 40, 160),
        corpus.unit_vectors(rng, pairs + stream),
    )
    q_texts, q_vecs = corpus.queries(pairs + stream, tag=4)
    targets = rng.integers(0, n, size=pairs + stream)
    timings = []
    for i in range(pairs + stream):
        t0 = time.perf_counter()
        index.upsert([texts[i]], ids=[str(targets[i])], embeddings=vecs[i : i + 1])
        _hybrid(index, q_texts[i], q_vecs[i])
        timings.append(time.perf_counter() - t0)
    return {
        "upsert_query_p50_ms": median_ms(timings[:pairs]),
        "stream": stream,
        "stream_s": float(sum(timings[pairs:])),
    }


def peak_rss() -> int:
    """This process's peak resident set (Linux's VmHWM: ``ru_maxrss`` of a child started
    by fork + exec starts from its parent's peak, which would hide the child's own)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _load_elsewhere(path: Path) -> dict[str, float]:
    code = (
        "import json,sys,time\n"
        "from shortlist import Index\nfrom benchmarks.scale_up import VectorsGiven\n"
        "t0=time.perf_counter()\n"
        "i=Index.load(sys.argv[1], encoder=VectorsGiven())\n"
        "s=time.perf_counter()-t0\n"
        "i.search('wing flutter', 10, mode='bm25')\n"
        "from benchmarks.scale_up import peak_rss\n"
        "print(json.dumps({'load_s': s, 'rss_bytes': peak_rss()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, check=True, cwd=REPO)  # fmt: skip
    loaded: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


# ----------------------------------------------------------------- the table
def _mb(x: float) -> str:
    return f"{x / 1e6:,.0f} MB" if x < 1e9 else f"{x / 1e9:.2f} GB"


def table(label: str, rows: list[dict[str, Any]]) -> Table:
    head = ["documents", "structure", "add", "query ms dense / bm25 / hybrid (k=100)",
            "Recall@100 dense / hybrid", "one upsert, then a hybrid query (p50)",
            "single-doc upserts + queries", "save / load", "disk", "peak RSS", "RSS once loaded",
            "RSS / (vectors + text)"]  # fmt: skip
    body = []
    for r in rows:
        raw = r["vector_bytes"] + r["text_bytes"]
        body.append([
            f"{r['documents']:,}", str(r["structure"]), f"{r['add_s']:.1f} s",
            f"{r['dense_p50_ms']:.1f} / {r['bm25_p50_ms']:.1f} / {r['hybrid_p50_ms']:.1f}",
            f"{r['dense_recall']:.3f} / {r['hybrid_recall']:.3f}",
            f"{r['upsert_query_p50_ms']:.1f} ms",
            f"{r['stream']:,} in {r['stream_s']:.1f} s" if r["stream"] else "-",
            f"{r['save_s']:.1f} / {r['load']['load_s']:.1f} s", _mb(r["disk_bytes"]),
            _mb(r["peak_rss_bytes"]), _mb(r["load"]["rss_bytes"]),
            f"{r['peak_rss_bytes'] / raw:.2f}x",
        ])  # fmt: skip
    return Table(label, head, body)


def render(result: dict[str, Any]) -> str:
    """The Markdown page of one run: its command, the machine (CPU flags included) and
    the table, plus each HNSW row's ``ef_search`` sweep."""
    m, rows = result["machine"], result["rows"]
    title = f"Scale-up ({result['label']}; spec {result['spec']}, {result['vectors']} vectors)"
    lines = [
        f"# {title}", "", f"`{result['command']}`", "",
        f"Machine: {m['cpu']}, {m['logical_cores']} logical cores; CPU flags: {m['cpu_flags']}.",
        "", table("Measured", rows).markdown(), "",
    ]  # fmt: skip
    for r in rows:
        if "ef_sweep" in r:
            lines += [f"### `ef_search` at {r['documents']:,} documents (same graph)", "",
                      "| ef_search | dense p50 ms | Recall@100 dense | Recall@100 hybrid |",
                      "|---:|---:|---:|---:|"]  # fmt: skip
            lines += [f"| {ef} | {v['dense_p50_ms']:.2f} | {v['dense_recall']:.4f} | "
                      f"{v['hybrid_recall']:.4f} |" for ef, v in r["ef_sweep"].items()]  # fmt: skip
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--spec", default="default", help="index spec (default: the Index's)")
    parser.add_argument("--vectors", choices=["structured", "uniform"], default="structured")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--stream", type=int, default=1000)
    parser.add_argument("--label", default="after")
    parser.add_argument("--out", type=Path, help="folder for scale-up-LABEL.json/.md")
    parser.add_argument("--render", type=Path, help="rewrite the .md of a saved .json")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure(args.sizes[0], args.spec, args.vectors, args.pairs, args.stream)))
        return 0
    if args.render:
        args.render.with_suffix(".md").write_text(render(json.loads(args.render.read_text())))
        return 0
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, "-m", "benchmarks.scale_up", "--one", "--sizes", str(n),
               "--spec", args.spec, "--vectors", args.vectors, "--pairs", str(args.pairs),
               "--stream", str(args.stream)]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if done.returncode:
            sys.stderr.write(done.stderr)
            return done.returncode
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(table(args.label, rows[-1:]).text(), flush=True)
    result = {"label": args.label, "spec": args.spec, "vectors": args.vectors,
              "command": "python -m benchmarks.scale_up " + " ".join(argv or sys.argv[1:]),
              "machine": machine({}), "rows": rows}  # fmt: skip
    print(table("Scale-up", rows).text())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        stem = args.out / f"scale-up-{args.label}"
        stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
        stem.with_suffix(".md").write_text(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
