"""Turn benchmark results into tables, parity checks and docs/benchmarks.md."""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.common import Table, median_ms, percentile_ms, ratio
from benchmarks.stage1 import LANGCHAIN as LC_FAISS
from benchmarks.stage1 import OURS, RAW, Stage1Result
from benchmarks.stage2 import (
    CROSS,
    FLOOR,
    LANGCHAIN,
    ONNX,
    ONNX_DEQUANTIZED,
    ONNX_IN_LANGCHAIN,
    Stage2Result,
    TargetResult,
)
from shortlist.evaluation import Dataset

TOLERANCE = 0.005
"""Largest nDCG@10 difference allowed between backends that should rank alike."""


def stage2_table(result: Stage2Result, data: Dataset) -> Table:
    """Per N: each peer's median and p95 latency, its ratio to LangChain, its nDCG@10."""
    head = ["N / peer", "weights", "median ms", "p95 ms", "vs LangChain", "nDCG@10"]
    rows = []
    for n in result.n_values:
        rows.append(
            [f"N={n}: stage 1 only", "-", "-", "-", "-", f"{result.ndcg10(data.qrels, n):.4f}"]
        )
        lc = median_ms(result.seconds[(LANGCHAIN, n)])
        for peer in result.peers:
            samples = result.seconds[(peer, n)]
            rows.append([
                f"  {peer}", result.weights[peer], f"{median_ms(samples):.1f}",
                f"{percentile_ms(samples, 95):.1f}", ratio(median_ms(samples), lc),
                f"{result.ndcg10(data.qrels, (peer, n)):.4f}",
            ])  # fmt: skip
    samples = len(next(iter(result.seconds.values()), []))
    return Table(
        f"Stage 2 on {result.dataset}: rerank N candidates, keep the top M",
        head,
        rows,
        f"{len(data.queries)} queries, {samples} timed calls per peer and N; "
        "ratio = median / LangChain's median (lower is faster).",
    )


def target_table(result: TargetResult, dataset: str) -> Table:
    """The fixed workload (100 candidates of ~170 tokens): median, spread, ratio."""
    lc = median_ms(result.seconds[LANGCHAIN])
    rows = [
        [peer, f"{median_ms(s):.0f}", f"{min(s) * 1000:.0f}", f"{max(s) * 1000:.0f}",
         ratio(median_ms(s), lc)]
        for peer, s in result.seconds.items()
    ]  # fmt: skip
    return Table(
        f"Stage 2, fixed workload: {result.count} {dataset} candidates of "
        f"{result.tokens:.0f} tokens on average, one query",
        ["peer", "median ms", "min ms", "max ms", "vs LangChain"],
        rows,
        f"{len(next(iter(result.seconds.values())))} timed calls per peer, round-robin.",
    )


def stage1_table(result: Stage1Result) -> Table:
    """Build throughput, query latency (from text and from a vector), size on disk."""
    head = ["system", "build docs/s", "vs LangChain", "query p50 ms", "vs LangChain",
            "vs raw", "vector search p50 ms", "vs LangChain", "size on disk"]  # fmt: skip
    lc_build = result.docs / result.build_s[LC_FAISS]
    lc_text, lc_vec = median_ms(result.text_s[LC_FAISS]), median_ms(result.vector_s[LC_FAISS])
    raw_text = median_ms(result.text_s[RAW])
    rows = []
    for name in (OURS, LC_FAISS, RAW):
        build = result.docs / result.build_s[name] if name in result.build_s else None
        text = median_ms(result.text_s[name]) if name in result.text_s else None
        vec = median_ms(result.vector_s[name])
        rows.append([
            name,
            "-" if build is None else f"{build:.1f}",
            "-" if build is None else ratio(lc_build, build),  # time ratio: inverse of rates
            "-" if text is None else f"{text:.2f}",
            "-" if text is None else ratio(text, lc_text),
            "-" if text is None else ratio(text, raw_text),
            f"{vec:.3f}", ratio(vec, lc_vec),
            f"{result.disk_bytes[name] / 1e6:.2f} MB",
        ])  # fmt: skip
    return Table(
        f"Stage 1 on {result.dataset}: {result.docs} documents, top {100} per query",
        head,
        rows,
        f"{result.queries} queries; same top-10 as LangChain FAISS on "
        f"{result.same_top10}/{result.queries}. Ratios are time ratios (lower is faster); "
        "query latency is from text (encode + search), its floor the same "
        "SentenceTransformer's encode + the raw index.",
    )


def parity(result: Stage2Result, data: Dataset) -> list[tuple[bool, str]]:
    """Quality checks: a faster backend must not lose quality silently."""
    checks = []
    for n in result.n_values:
        a, b = result.ndcg10(data.qrels, (ONNX, n)), result.ndcg10(data.qrels, (CROSS, n))
        checks.append((
            abs(a - b) <= TOLERANCE,
            f"{result.dataset} N={n}: ONNX int8 nDCG@10 {a:.4f} vs float32 cross-encoder "
            f"{b:.4f} (|diff| {abs(a - b):.4f} <= {TOLERANCE})",
        ))  # fmt: skip
        floor = result.runs[(FLOOR, n)]
        for peer in result.peers:
            if result.weights[peer] != "float32" or peer == FLOOR:
                continue
            same = sum(result.runs[(peer, n)][q] == floor[q] for q in floor)
            diff = abs(result.ndcg10(data.qrels, (peer, n)) - result.ndcg10(data.qrels, (FLOOR, n)))
            checks.append((
                diff <= TOLERANCE,
                f"{result.dataset} N={n}: {peer} ranks like the raw CrossEncoder floor "
                f"(same top M on {same}/{len(floor)} queries, |nDCG@10 diff| {diff:.4f})",
            ))  # fmt: skip
        if ONNX_DEQUANTIZED in result.peers:
            exact, floor = result.runs[(ONNX_DEQUANTIZED, n)], result.runs[(FLOOR, n)]
            same = sum(exact[q] == floor[q] for q in floor)
            checks.append((
                same == len(floor),
                f"{result.dataset} N={n}: dequantized ONNX returns the float32 floor's top M "
                f"({same}/{len(floor)} queries identical)",
            ))  # fmt: skip
        if ONNX_IN_LANGCHAIN in result.peers:
            ours = result.runs[(ONNX, n)]
            same = sum(result.runs[(ONNX_IN_LANGCHAIN, n)][q] == ours[q] for q in ours)
            checks.append((
                same == len(ours),
                f"{result.dataset} N={n}: the LangChain adapter returns the core's ranking "
                f"({same}/{len(ours)} queries identical)",
            ))  # fmt: skip
    return checks


def summary(results: list[Stage2Result], datasets: list[Dataset]) -> list[str]:
    """Headline lines: the fastest peer at equal quality, every peer vs LangChain at the
    largest N."""
    out = []
    for result, data in zip(results, datasets, strict=True):
        n = result.n_values[-1]
        lc = median_ms(result.seconds[(LANGCHAIN, n)])
        reference = result.ndcg10(data.qrels, (FLOOR, n))
        equal = [
            p for p in result.peers
            if abs(result.ndcg10(data.qrels, (p, n)) - reference) <= TOLERANCE
        ]  # fmt: skip
        fastest = min(equal, key=lambda p: median_ms(result.seconds[(p, n)]))
        out.append(
            f"- **{result.dataset}, N={n}: fastest at equal quality (nDCG@10 within "
            f"{TOLERANCE} of float32): {fastest}**, "
            f"{ratio(median_ms(result.seconds[(fastest, n)]), lc)} LangChain's time."
        )
        for peer in result.peers:
            if peer == LANGCHAIN:
                continue
            ms = median_ms(result.seconds[(peer, n)])
            out.append(
                f"- {result.dataset}, N={n}: {peer} takes {ratio(ms, lc)} LangChain's time "
                f"({ms:.0f} vs {lc:.0f} ms median); nDCG@10 "
                f"{result.ndcg10(data.qrels, (peer, n)):.4f} vs "
                f"{result.ndcg10(data.qrels, (LANGCHAIN, n)):.4f}."
            )
    return out


def markdown(
    command: str,
    info: dict[str, Any],
    tables: list[Table],
    checks: list[tuple[bool, str]],
    headline: list[str],
    args: argparse.Namespace,
) -> str:
    """docs/benchmarks.md, generated from one run."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    out = [
        "# Benchmarks",
        "",
        "Generated by the harness in `benchmarks/` from one run, in one process: every peer",
        "runs side by side on the same data, the same candidates and the same weights.",
        "Do not edit by hand; rerun:",
        "",
        "```",
        command,
        "```",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']} ({info.get('cpu_flags', 'flags not recorded')}); "
        f"{info['logical_cores']} logical / {info['physical_cores']} "
        f"physical cores; load average at start {info['load_average_at_start']}",
        f"- Threads: {info['threads']}",
        f"- {info['os']}, Python {info['python']}",
        f"- {versions}",
        "",
        "Latencies are wall-clock on a shared machine: compare rows of the same run, not runs.",
        "",
        "## Summary",
        "",
        *headline,
        "",
        "## Quality parity",
        "",
        *[f"- {'ok' if ok else '**FAIL**'}: {text}" for ok, text in checks],
        "",
        "## Results",
        "",
    ]
    for table in tables:
        out += [table.markdown(), ""]
    out += [
        "## Method",
        "",
        f"- Stage 2: the first {args.queries} queries of each dataset; candidates are the "
        "bi-encoder's (all-MiniLM-L6-v2, flat index) top N; every peer returns its top "
        f"M={args.m}. Peers run round-robin per query (rotating who goes first), each after "
        "one untimed warm-up call. Framework inputs (LangChain Documents, fresh LlamaIndex "
        "nodes, which SentenceTransformerRerank mutates) are built outside the timed call.",
        "- Torch peers load `ms-marco-MiniLM-L-12-v2` (float32) each on their own, the ONNX "
        "backend its int8 graph (as stored, and with `dequantize=True`: the same weights "
        "with float32 activations); `CrossEncoder.predict` + argsort is the floor of the "
        "torch stack. nDCG@10 is computed on each peer's own top M over the same candidates.",
        "- Fixed workload: 100 documents of 150-190 tokens (the cross-encoder's tokenizer, "
        "`random.Random(0)` sample of those in the dataset) reranked against the first "
        "query, at least 3 timed calls per peer after a warm-up: the brief's "
        '"100 candidates of ~170 tokens" target, read off directly.',
        "- Stage 1: both stacks embed the whole corpus with the same all-MiniLM-L6-v2 "
        "weights (batch 32, normalised); build throughput includes embedding, and the two "
        "indexes are built in alternating chunks of 200 documents so background load hits "
        "both alike. Query latency is measured from text (encode + search) and from a "
        "precomputed vector (search only); the floor is a raw `faiss.IndexFlatIP` over the "
        "same vectors (from text: a bare `SentenceTransformer.encode` + that index). "
        "Size on disk: our `Index.save` (FAISS + docs.jsonl + manifest), "
        "LangChain's `save_local` (FAISS + pickle), `faiss.write_index`.",
    ]
    return "\n".join(out) + "\n"
