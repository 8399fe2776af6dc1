"""Does the reranker graph chosen for this CPU rank like the dequantized graph?

    python -m benchmarks.graph_parity --out docs/results/serving/candidates   # ~30 min, alone

On each shared collection (Cranfield, CISI, MEDLINE), every judged query's candidates are
the shipped funnel's stage 1 (hybrid, all-MiniLM-L6-v2 + BM25, top 100). Each graph scores
all of them once; the top N = 20/50/100 are reranked by its scores alone (no fusion, so
no stage-1 signal hides a difference). Reported per collection and N: nDCG@10 of each
graph and the gap to the dequantized graph (int8 weights, float32 activations: the
ranking of the float model), and in how many queries the top 10 is identical, in order.
The graphs: ``onnx:`` as shipped today on this machine (``fusions=auto``: by CPU kind),
and the dequantized reference; ``--also all`` adds the graph with every onnxruntime fusion.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import BI_ENCODER, CROSS_ENCODER_ONNX, DATASETS, Table, machine

COLLECTIONS = ("cranfield", "cisi", "medline")
DEPTHS = (20, 50, 100)
K = 10


def candidates(
    name: str,
) -> tuple[dict[str, list[Any]], dict[str, dict[str, int]], dict[str, str]]:
    """Per judged query, the funnel's stage-1 top 100 (hits); the judgments; the queries."""
    from shortlist import Index
    from shortlist.evaluation import load_beir

    data = load_beir(DATASETS / name)
    index = Index.build(data.corpus, str(BI_ENCODER), show_progress=False)
    queries = list(data.queries.items())
    found = index.search_batch([q for _, q in queries], max(DEPTHS))
    hits = {qid: found_for for (qid, _), found_for in zip(queries, found, strict=True)}
    return hits, dict(data.qrels), dict(data.queries)


def scored(spec: str, texts: dict[str, tuple[str, list[str]]]) -> dict[str, np.ndarray]:
    """Each query's candidate scores under the reranker ``spec``."""
    from shortlist.rerank import load_reranker

    reranker = load_reranker(spec)
    return {qid: np.asarray(reranker.score(q, docs)) for qid, (q, docs) in texts.items()}


def compare(
    hits: dict[str, list[Any]],
    qrels: dict[str, dict[str, int]],
    scores: dict[str, Any],
    reference_ndcg: dict[int, float] | None = None,
) -> list[dict[str, Any]]:
    """Rows per N and graph; ``reference_ndcg`` (N -> the dequantized graph's nDCG@10 from
    an earlier run) stands in for scoring the dequantized graph again (no top-10 counts)."""
    from shortlist.evaluation.metrics import ndcg
    from shortlist.rerank.fusion import best_first

    rows = []
    for n in DEPTHS:
        tops = {
            graph: {qid: [hits[qid][i].id for i in best_first(s[qid][:n])[:K]] for qid in hits}
            for graph, s in scores.items()
        }
        reference = tops.get("dequantized")
        for graph, top in tops.items():
            values = [ndcg(top[qid], qrels[qid], K) for qid in hits]
            same = None if reference is None else sum(top[q] == reference[q] for q in hits)
            rows.append({
                "n": n, "graph": graph, "ndcg": float(np.mean(values)),
                "identical_top10": same, "queries": len(hits),
            })  # fmt: skip
        ref = (
            reference_ndcg[n]
            if reference_ndcg is not None
            else next(r["ndcg"] for r in rows if r["n"] == n and r["graph"] == "dequantized")
        )
        for r in rows:
            if r["n"] == n:
                r["gap"] = r["ndcg"] - ref
    return rows


def main(argv: list[str] | None = None) -> int:
    from shortlist._onnxruntime import fusions_for
    from shortlist.cpu import int8_kind

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", default=",".join(COLLECTIONS))
    parser.add_argument("--also", default="", help="more fusion sets to score, e.g. all")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--label", default="parity", help="name of the result files")
    parser.add_argument(
        "--reference", type=Path, help="a parity.json whose dequantized nDCG to compare with"
    )
    parser.add_argument("--only", default="", help="score only these fusion sets, e.g. all")
    args = parser.parse_args(argv)
    model = f"onnx:{CROSS_ENCODER_ONNX}"
    graphs = {f"int8 (fusions={fusions_for('auto')}, auto on {int8_kind()})": model,
              "dequantized": f"{model}?dequantize=true"}  # fmt: skip
    graphs |= {f"int8 (fusions={f})": f"{model}?fusions={f}" for f in args.also.split(",") if f}
    if args.only:
        graphs = {f"int8 (fusions={f})": f"{model}?fusions={f}" for f in args.only.split(",")}
    earlier = json.loads(args.reference.read_text())["collections"] if args.reference else None
    result: dict[str, Any] = {"machine": machine({}), "collections": {}}
    for name in args.collections.split(","):
        t0 = time.perf_counter()
        hits, qrels, queries = candidates(name)
        texts = {qid: (queries[qid], [x.document.text for x in h]) for qid, h in hits.items()}
        scores = {graph: scored(spec, texts) for graph, spec in graphs.items()}
        reference = None
        if earlier is not None:
            reference = {r["n"]: r["ndcg"] for r in earlier[name] if r["graph"] == "dequantized"}
        rows = compare(hits, qrels, scores, reference)
        result["collections"][name] = rows
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
        print(table(name, rows).text(), flush=True)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{args.label}.json").write_text(json.dumps(result, indent=2) + "\n")
        m = result["machine"]
        lines = ["# Parity of the chosen graph with the dequantized graph", "",
                 "`python -m benchmarks.graph_parity " + " ".join(argv or sys.argv[1:]) + "`", "",
                 f"Machine: {m['cpu']}; CPU flags: {m['cpu_flags']}.", ""]  # fmt: skip
        for name, rows in result["collections"].items():
            lines += [table(name, rows).markdown(), ""]
        (args.out / f"{args.label}.md").write_text("\n".join(lines))
    return 0


def table(name: str, rows: list[dict[str, Any]]) -> Table:
    body = [[r["graph"], str(r["n"]), f"{r['ndcg']:.4f}", f"{r['gap']:+.4f}",
             "-" if r["identical_top10"] is None else f"{r['identical_top10']}/{r['queries']}"]
            for r in rows]  # fmt: skip
    head = ["graph", "N", "nDCG@10 (rerank only)", "vs dequantized", "identical top 10"]
    return Table(f"{name}: top N reranked by each graph", head, body)


if __name__ == "__main__":
    raise SystemExit(main())
