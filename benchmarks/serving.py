"""Serving on one box: concurrent clients, the torch-free query path, graph choice, the cache.

    python -m benchmarks.serving                                        # everything (~35 min)
    python -m benchmarks.serving --parts clients,encoder                # a subset
    python -m benchmarks.serving --parts clients --candidates fixed     # 8 x the fixed workload

Parts (Cranfield; unless said otherwise, candidates are each query's stage-1 top 100, hybrid
alpha 0.5):

* ``clients``: 8 clients at once, 100 candidates each, against single-stream (the same 8
  requests one after another), for shortlist's int8 ONNX reranker (8 threads, and 8 async
  tasks), shortlist's torch cross-encoder, and LangChain's ``CrossEncoderReranker`` stack.
* ``encoder``: embedding one query, and stage 1 from text, with the torch encoder and with
  its ONNX exports (float32, int8); cold start of a fresh process (import, load the index
  and both models, first reranked query) with each.
* ``graphs``: the shipped int8 graph against graphs built here from the float checkpoint
  (plain int8, and fused with ONNX Runtime's transformer optimizer then int8): wall and
  CPU seconds per 100 pairs, and ranking parity with the float32 model.
* ``gemm``: the fixed workload (100 documents of ~170 tokens, as ``benchmarks.run``'s
  latency target) single-stream, for shortlist's int8 graph and LangChain's stack, against
  the floor that ``MatMulInteger`` (int8) and ``MatMul`` (float32) rates, measured alone
  at the model's shapes on one thread, put under the linear layers; where the int8
  graph's time goes (onnxruntime's profiler); and the most any int8 graph of this model
  could gain over LangChain here.
* ``cache``: memory per cached pair, the cost of a lookup, a repeated query's latency.

Run it alone: every figure is a wall-clock time on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    BI_ENCODER,
    CROSS_ENCODER,
    CROSS_ENCODER_ONNX,
    DATASETS,
    REPO,
    cpu_flags,
)
from benchmarks.tuning import _index as cranfield_index_dir

CLIENTS = 8
FETCH = 100
HIDDEN, FFN, LAYERS = 384, 1536, 12  # ms-marco-MiniLM-L-12-v2


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def workload(count: int) -> tuple[Any, list[tuple[str, list[str]]]]:
    """The Cranfield index and ``count`` (query, top-100 candidate texts) requests."""
    from shortlist.evaluation import load_beir
    from shortlist.index import load_index

    index = load_index(cranfield_index_dir("cranfield"))
    queries = list(load_beir(DATASETS / "cranfield").queries.values())[:count]
    return index, [(q, [h.document.text for h in index.search(q, FETCH)]) for q in queries]


def _load(
    score: Callable[[str, list[str]], Any], asks: list[tuple[str, list[str]]]
) -> dict[str, float]:
    """Single-stream, then all requests at once from CLIENTS threads."""
    score(asks[0][0], asks[0][1][:4])  # warm-up
    single: list[float] = []
    t0 = time.perf_counter()
    for q, texts in asks:
        t = time.perf_counter()
        score(q, texts)
        single.append(time.perf_counter() - t)
    single_wall = time.perf_counter() - t0
    together: list[float] = []

    def one(ask: tuple[str, list[str]]) -> None:
        t = time.perf_counter()
        score(*ask)
        together.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(one, asks))
    wall = time.perf_counter() - t0
    pairs = sum(len(t) for _, t in asks)
    return {
        "single_pps": pairs / single_wall,
        "single_p50": statistics.median(single),
        "pps": pairs / wall,
        "p50": statistics.median(together),
        "p95": _pct(together, 95),
    }


def fixed_requests(count: int) -> list[tuple[str, list[str]]]:
    """``count`` Cranfield queries, each with the fixed workload's 100 documents of ~170
    tokens as candidates (what benchmarks.run's latency target reranks)."""
    from benchmarks.stage2 import fixed_workload
    from shortlist.evaluation import load_beir

    data = load_beir(DATASETS / "cranfield")
    chosen = fixed_workload(data)
    assert chosen is not None, "Cranfield has 100 documents of 150-190 tokens"
    texts = [d.text for d, _ in chosen[1]]
    return [(q, texts) for q in list(data.queries.values())[:count]]


def clients(candidates: str = "funnel") -> list[list[str]]:
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from langchain_community.cross_encoders import HuggingFaceCrossEncoder
    from langchain_core.documents import Document as LCDocument

    from shortlist.rerank import load_reranker

    asks = fixed_requests(CLIENTS) if candidates == "fixed" else workload(CLIENTS)[1]
    onnx = load_reranker(f"onnx:{CROSS_ENCODER_ONNX}")
    rows: dict[str, dict[str, float]] = {"shortlist onnx int8, 8 threads": _load(onnx.score, asks)}

    async def gathered() -> tuple[float, list[float]]:
        lat: list[float] = []

        async def one(q: str, texts: list[str]) -> None:
            t = time.perf_counter()
            await onnx.arerank(q, texts, top_n=5)
            lat.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(q, t) for q, t in asks))
        return time.perf_counter() - t0, lat

    wall, lat = asyncio.run(gathered())
    first = rows["shortlist onnx int8, 8 threads"]
    rows["shortlist onnx int8, 8 async tasks"] = {
        **{k: first[k] for k in ("single_pps", "single_p50")},
        "pps": sum(len(t) for _, t in asks) / wall,
        "p50": statistics.median(lat),
        "p95": _pct(lat, 95),
    }
    stats = onnx.batch_stats()
    torch_ce = load_reranker(f"cross-encoder:{CROSS_ENCODER}")
    rows["shortlist cross-encoder (torch), 8 threads"] = _load(torch_ce.score, asks)
    lc = CrossEncoderReranker(model=HuggingFaceCrossEncoder(model_name=str(CROSS_ENCODER)), top_n=5)
    rows["LangChain CrossEncoderReranker, 8 threads"] = _load(
        lambda q, texts: lc.compress_documents([LCDocument(page_content=t) for t in texts], q), asks
    )
    langchain = rows["LangChain CrossEncoderReranker, 8 threads"]["pps"]
    out = []
    for name, r in rows.items():
        out.append(
            [
                name,
                f"{r['single_pps']:.1f}",
                f"{r['pps']:.1f}",
                f"{r['pps'] / r['single_pps']:.2f}x",
                f"{r['p50']:.2f}",
                f"{r['p95']:.2f}",
                f"{r['pps'] / langchain:.1f}x",
            ]
        )
    out.append(
        [
            f"(onnx batcher: {stats.requests} requests in {stats.batches} batches, "
            f"largest {stats.largest})",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    return out


def _exports(root: Path) -> dict[str, str]:
    from shortlist.encoders import export_encoder

    return {
        "torch (sentence-transformers)": str(BI_ENCODER),
        "ONNX float32": "onnx:" + str(export_encoder(BI_ENCODER, root / "f32")),
        "ONNX int8": "onnx:" + str(export_encoder(BI_ENCODER, root / "int8", quantize=True)),
    }


COLD = """
import time, sys
t0 = time.perf_counter()
import shortlist
from shortlist.index import load_index
t1 = time.perf_counter()
index = load_index(sys.argv[1], encoder=sys.argv[2] or None)
reranker = shortlist.load_reranker(sys.argv[3])
t2 = time.perf_counter()
shortlist.Pipeline(index, reranker).search("boundary layer transition on a flat plate", top_n=5)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, "torch" in sys.modules)
"""


def encoder() -> list[list[str]]:
    from shortlist.index import load_index

    folder = cranfield_index_dir("cranfield")
    _, asks = workload(100)
    queries = [q for q, _ in asks]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        specs = _exports(Path(tmp))
        base_encode = base_search = base_cold = float("nan")
        for name, spec in specs.items():
            ix = load_index(folder, encoder=spec if spec.startswith("onnx:") else None)
            ix.search(queries[0], FETCH)
            enc, srch = [], []
            for q in queries:
                t = time.perf_counter()
                ix.encoder.encode_queries([q])
                enc.append(time.perf_counter() - t)
                t = time.perf_counter()
                ix.search(q, FETCH)
                srch.append(time.perf_counter() - t)
            cold = []
            for _ in range(3):
                t = time.perf_counter()
                done = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        COLD,
                        str(folder),
                        spec if spec.startswith("onnx:") else "",
                        f"onnx:{CROSS_ENCODER_ONNX}",
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    cwd=REPO,
                )
                cold.append((time.perf_counter() - t, done.stdout.split()))
            wall, parts = sorted(cold)[1]
            e, s = statistics.median(enc) * 1e3, statistics.median(srch) * 1e3
            if np.isnan(base_encode):
                base_encode, base_search, base_cold = e, s, wall
            rows.append(
                [
                    name,
                    f"{e:.2f}",
                    f"{e / base_encode:.2f}x",
                    f"{s:.2f}",
                    f"{s / base_search:.2f}x",
                    f"{wall:.2f}",
                    f"{wall / base_cold:.2f}x",
                    " / ".join(f"{float(x):.2f}" for x in parts[:3]),
                    parts[3],
                ]
            )
    return rows


def _graph(kind: str, root: Path) -> Path:
    """A reranker folder for ``kind``: shipped, float32, int8 or fused int8 (built here)."""
    import shutil

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    from shortlist.tuning.export import export_onnx

    if kind == "shipped int8":
        return CROSS_ENCODER_ONNX
    float_dir = root / "float32"
    if not float_dir.exists():
        export_onnx(CROSS_ENCODER, float_dir, quantize=False)
    if kind == "float32":
        return float_dir
    out = root / kind.replace(" ", "-")
    shutil.copytree(float_dir, out)
    source = float_dir / "model.onnx"
    if kind.startswith("fused"):
        fused = optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=HIDDEN)
        source = out / "fused.onnx"
        fused.save_model_to_file(str(source))
    quantize_dynamic(
        str(source),
        str(out / "model.onnx"),
        weight_type=QuantType.QInt8,
        per_channel="per channel" in kind,
        # the fused graph's contrib ops (Attention, FastGelu) defeat ONNX shape inference
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    if source.parent == out:
        source.unlink()  # the fused float graph: only its int8 version is served
    return out


def graphs() -> list[list[str]]:
    from shortlist.evaluation import load_beir, ndcg
    from shortlist.rerank import load_reranker

    data = load_beir(DATASETS / "cranfield")
    index, asks = workload(16)
    ids = [[h.id for h in index.search(q, FETCH)] for q, _ in asks]
    qids = list(data.queries)[:16]
    kinds = [
        "float32",
        "shipped int8",
        "int8 per tensor",
        "fused int8 per tensor",
        "fused int8 per channel",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        reference: list[np.ndarray] = []
        for kind in kinds:
            reranker = load_reranker(f"onnx:{_graph(kind, Path(tmp))}")
            reranker.score(asks[0][0], asks[0][1][:8])  # warm-up
            w0, c0 = time.perf_counter(), time.process_time()
            scores = [reranker.score(q, texts) for q, texts in asks]
            wall = (time.perf_counter() - w0) / len(asks)
            cpu = (time.process_time() - c0) / len(asks)
            if not reference:
                reference = scores
            rho = statistics.fmean(_spearman(a, b) for a, b in zip(reference, scores, strict=True))
            gains = [
                ndcg([d for _, d in sorted(zip(-s, i, strict=True))], data.qrels.get(qid, {}), 10)
                for s, i, qid in zip(scores, ids, qids, strict=True)
            ]
            rows.append(
                [kind, f"{wall:.2f}", f"{cpu:.2f}", f"{rho:.4f}", f"{statistics.fmean(gains):.4f}"]
            )
    return rows


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def _token_lengths(reranker: Any, asks: list[tuple[str, list[str]]]) -> dict[str, float]:
    lengths = []
    for q, texts in asks:
        template = reranker._template(q)
        budget = reranker.max_length - template.overhead
        for enc in reranker._tokenizer.encode_batch(texts, add_special_tokens=False):
            lengths.append(template.overhead + min(len(enc.ids), budget))
    return {
        "mean": float(np.mean(lengths)),
        "pairs_per_request": len(lengths) / len(asks),
        "linear_gop": sum(
            2 * n * LAYERS * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN) for n in lengths
        )
        / len(asks)
        / 1e9,
    }


def _gemm_rate(m: int, k: int, n: int, int8: bool) -> float:
    """GOP/s of one ``m x k @ k x n`` product on one thread: ``MatMulInteger`` (uint8 x
    int8, as the int8 graph runs its linear layers) or float32 ``MatMul`` (as torch does)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    rng = np.random.default_rng(0)
    if int8:
        kind, op, out = TensorProto.INT8, "MatMulInteger", TensorProto.INT32
        b = rng.integers(-127, 127, (k, n)).astype(np.int8)
        a: np.ndarray = rng.integers(0, 255, (m, k)).astype(np.uint8)
        a_kind = TensorProto.UINT8
    else:
        kind, op, out = TensorProto.FLOAT, "MatMul", TensorProto.FLOAT
        b = rng.standard_normal((k, n)).astype(np.float32)
        a = rng.standard_normal((m, k)).astype(np.float32)
        a_kind = TensorProto.FLOAT
    weight = helper.make_tensor("B", kind, [k, n], b.tobytes(), raw=True)
    graph = helper.make_graph(
        [helper.make_node(op, ["A", "B"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("A", a_kind, [m, k])],
        [helper.make_tensor_value_info("Y", out, [m, n])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    for _ in range(20):
        session.run(None, {"A": a})
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        session.run(None, {"A": a})
    return 2 * m * k * n / ((time.perf_counter() - t0) / reps) / 1e9


SHAPES = ((HIDDEN, HIDDEN, 4), (HIDDEN, FFN, 1), (FFN, HIDDEN, 1))  # (k, n, per layer)
INT8_GEMMS = {"DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger"}


def _op_shares(query: str, texts: list[str]) -> dict[str, float]:
    """Seconds per op group when the shipped int8 graph scores the pairs one by one on one
    thread (onnxruntime's profiler, after the session's own graph fusions)."""
    import json

    import onnxruntime as ort
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(CROSS_ENCODER_ONNX / "tokenizer.json"))
    tokenizer.enable_truncation(512)
    tokenizer.no_padding()  # tokenizer.json pads to 512; the reranker runs each pair unpadded
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(
            str(CROSS_ENCODER_ONNX / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        names = {i.name for i in session.get_inputs()}
        for text in texts:
            enc = tokenizer.encode(query, text)
            feed = {
                "input_ids": np.array([enc.ids], dtype=np.int64),
                "attention_mask": np.array([enc.attention_mask], dtype=np.int64),
                "token_type_ids": np.array([enc.type_ids], dtype=np.int64),
            }
            session.run(None, {k: v for k, v in feed.items() if k in names})
        events = json.loads(Path(session.end_profiling()).read_text())
    groups = {"int8 GEMM": 0.0, "float MatMul (attention)": 0.0, "everything else": 0.0}
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time"):
            continue
        op = event["args"]["op_name"]
        group = (
            "int8 GEMM"
            if op in INT8_GEMMS
            else "float MatMul (attention)"
            if op == "MatMul"
            else "everything else"
        )
        groups[group] += event["dur"] / 1e6
    return groups


def gemm() -> list[list[str]]:
    """The fixed workload (100 candidates of ~170 tokens, as benchmarks.run's target):
    shortlist's int8 graph and LangChain's stack single-stream, against the floor that
    int8 and float32 GEMM rates on this machine put under each."""
    from langchain_classic.retrievers.document_compressors import CrossEncoderReranker
    from langchain_community.cross_encoders import HuggingFaceCrossEncoder
    from langchain_core.documents import Document as LCDocument

    from shortlist._onnxruntime import physical_cores
    from shortlist.rerank import load_reranker

    query, texts = fixed_requests(1)[0]
    onnx = load_reranker(f"onnx:{CROSS_ENCODER_ONNX}")
    tokens = _token_lengths(onnx, [(query, texts)])
    m, cores = round(tokens["mean"]), physical_cores()

    def median_of_3(call: Callable[[], Any]) -> tuple[float, float]:
        call()  # warm-up
        walls, cpus = [], []
        for _ in range(3):
            w0, c0 = time.perf_counter(), time.process_time()
            call()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        return statistics.median(walls), statistics.median(cpus)

    ours, ours_cpu = median_of_3(lambda: onnx.score(query, texts))
    lc = CrossEncoderReranker(model=HuggingFaceCrossEncoder(model_name=str(CROSS_ENCODER)), top_n=5)
    langchain, _ = median_of_3(
        lambda: lc.compress_documents([LCDocument(page_content=t) for t in texts], query)
    )
    rows: list[list[str]] = []
    rates: dict[bool, float] = {}
    for int8 in (True, False):
        per_shape = [(_gemm_rate(m, k, n, int8), per * 2 * m * k * n) for k, n, per in SHAPES]
        rates[int8] = sum(w for _, w in per_shape) / sum(w / g for g, w in per_shape)
        rows.append(
            [
                f"{'int8 MatMulInteger' if int8 else 'float32 MatMul'}, 1 thread, at "
                + ", ".join(f"{m}x{k}@{k}x{n}" for k, n, _ in SHAPES),
                " / ".join(f"{g:.0f}" for g, _ in per_shape)
                + f" GOP/s ({rates[int8]:.0f} weighted)",
                "",
            ]
        )
    gop = tokens["linear_gop"]
    int8_bound = gop / (rates[True] * cores)
    float_bound = gop / (rates[False] * cores)
    shares = _op_shares(query, texts)
    total = sum(shares.values())
    single_thread_bound = gop / rates[True]
    return [
        *rows,
        [
            f"workload: {tokens['pairs_per_request']:.0f} pairs x {tokens['mean']:.0f} tokens "
            f"(query + document) = {gop:.0f} GOP in linear layers, {cores} cores",
            f"int8 bound {int8_bound:.2f} s, float32 bound {float_bound:.2f} s",
            f"int8 rate {rates[True] / rates[False]:.2f}x float32",
        ],
        [
            "shortlist onnx int8, single stream (median of 3)",
            f"{ours:.2f} s wall, {ours_cpu:.2f} s CPU",
            f"**{ours / int8_bound:.2f}x the int8 bound**",
        ],
        [
            "inside the int8 graph (onnxruntime profile, 1 thread): "
            + ", ".join(f"{name} {100 * s / total:.0f} %" for name, s in shares.items()),
            f"int8 GEMM kernels {shares['int8 GEMM']:.2f} s vs {single_thread_bound:.2f} s "
            "bound on 1 thread",
            f"{shares['int8 GEMM'] / single_thread_bound:.2f}x",
        ],
        [
            "LangChain CrossEncoderReranker (torch float32), single stream (median of 3)",
            f"{langchain:.2f} s wall",
            f"{langchain / float_bound:.2f}x the float32 bound; "
            f"**shortlist {langchain / ours:.2f}x faster**",
        ],
        [
            "ceiling: LangChain's time / the int8 bound (an int8 graph of this model whose "
            "every non-GEMM op were free)",
            "",
            f"**{langchain / int8_bound:.2f}x**",
        ],
    ]


def cache() -> list[list[str]]:
    from shortlist.rerank import load_reranker
    from shortlist.rerank.cache import ScoreCache

    store = ScoreCache(200_000)
    texts = [f"document {i} " * 25 for i in range(100_000)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for i in range(0, len(texts), FETCH):
        store.store("onnx:m", f"query {i}", texts[i : i + FETCH], np.zeros(FETCH))
    per_pair = (tracemalloc.get_traced_memory()[0] - before) / len(store)
    tracemalloc.stop()
    _, asks = workload(4)
    plain = load_reranker(f"onnx:{CROSS_ENCODER_ONNX}")
    cached = load_reranker(f"onnx:{CROSS_ENCODER_ONNX}").with_cache(10_000)
    q, cands = asks[0]
    plain.score(q, cands[:4])
    t = time.perf_counter()
    plain.score(q, cands)
    scoring = time.perf_counter() - t
    t = time.perf_counter()
    cached.score(q, cands)  # all misses: hashing + scoring + storing
    miss = time.perf_counter() - t
    t = time.perf_counter()
    cached.score(q, cands)  # all hits
    hit = time.perf_counter() - t
    return [
        ["memory per cached pair (tracemalloc, 100,000 pairs)", f"{per_pair:.0f} B", ""],
        ["100 candidates, no cache", f"{scoring * 1e3:.1f} ms", "1.00x"],
        [
            "100 candidates, cache on, all new (lookup + score + store)",
            f"{miss * 1e3:.1f} ms",
            f"{miss / scoring:.3f}x",
        ],
        ["100 candidates, cache on, asked again", f"{hit * 1e3:.2f} ms", f"{hit / scoring:.4f}x"],
    ]


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(r) + " |" for r in rows
    ]


HEADS = {
    "clients": (f"{CLIENTS} concurrent clients, {FETCH} candidates each",
                ["reranker", "single-stream pairs/s", f"{CLIENTS} clients pairs/s",
                 "vs single-stream", "p50 s", "p95 s", f"vs LangChain ({CLIENTS} clients)"]),
    "encoder": ("Query encoder: torch vs its ONNX export",
                ["encoder", "embed 1 query ms (p50)", "vs torch", "stage 1 from text ms (p50)",
                 "vs torch", "cold start s", "vs torch", "import / load / first query s",
                 "torch imported"]),
    "graphs": ("Reranker graphs (single stream, 100 candidates)",
               ["graph", "wall s / 100 pairs", "CPU s / 100 pairs", "Spearman vs float32",
                "nDCG@10 (16 queries, rerank only)"]),
    "gemm": ("The fixed workload (100 candidates of ~170 tokens) against the GEMM bound",
             ["measure", "value", "ratio"]),
    "cache": ("Score cache", ["measure", "value", "vs no cache"]),
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/results/serving", help="folder, one file a part")
    parser.add_argument("--parts", default=",".join(HEADS))
    parser.add_argument(
        "--candidates",
        choices=("funnel", "fixed"),
        default="funnel",
        help="clients: each query's stage-1 top 100 (funnel), or the fixed workload's 100 "
        "documents of ~170 tokens for every query (fixed; written to clients-fixed.md)",
    )
    args = parser.parse_args()
    parts = [p for p in HEADS if p in set(args.parts.split(","))]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for part in parts:  # each part's file is written as soon as it is measured
        if part == "graphs":
            rows = graphs()
        else:
            rows = {
                "clients": lambda: clients(args.candidates),
                "encoder": encoder,
                "gemm": gemm,
                "cache": cache,
            }[part]()
        title, head = HEADS[part]
        fixed = part == "gemm" or (part == "clients" and args.candidates == "fixed")
        command = f"python -m benchmarks.serving --parts {part}"
        command += " --candidates fixed" if part == "clients" and fixed else ""
        candidates = (
            "the fixed workload: 100 Cranfield documents of 150-190 tokens (seeded sample, "
            "as `benchmarks.run`'s latency target)"
            if fixed
            else f"stage-1 top {FETCH} candidates per query (hybrid, alpha 0.5)"
        )
        text = "\n".join([
            f"# {title}", "",
            f"Generated by `{command}` on {os.cpu_count()} logical cores ({cpu_flags()}); "
            f"Cranfield, {candidates}. Ratios are within this run.", "",
            *_table(head, rows), "",
        ])  # fmt: skip
        name = "clients-fixed" if part == "clients" and fixed else part
        (out / f"{name}.md").write_text(text, encoding="utf-8")
        print(text, flush=True)


if __name__ == "__main__":
    main()
