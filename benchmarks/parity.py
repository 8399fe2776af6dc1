"""ONNX vs torch on the same weights: how far apart are the logits and the rankings?

    python -m benchmarks.parity                  # 12 Cranfield queries x 20 candidates

For the first Q Cranfield queries with at least 5 judged documents, the candidates are up
to 10 judged documents filled up to 20 with the documents sharing most words with the
query (hard negatives). Each set is scored by the torch cross-encoder
(``ms-marco-MiniLM-L-12-v2``, float32) and by the ONNX backend on the int8 graph of the
same weights, run as stored (int8 activations) and with ``dequantize=True``. Prints the
table that docs/rerankers.md quotes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CROSS_ENCODER, CROSS_ENCODER_ONNX, DATASETS, Table
from shortlist.evaluation import load_beir

_WORD = re.compile(r"\w+")


def cases(queries: int, candidates: int = 20) -> list[tuple[str, list[str]]]:
    """(query, candidate texts) for the first ``queries`` queries with >= 5 judgments."""
    data = load_beir(DATASETS / "cranfield")
    corpus = {d.id: d.text for d in data.corpus}
    out = []
    for qid in [q for q in data.qrels if len(data.qrels[q]) >= 5][:queries]:
        words = set(_WORD.findall(data.queries[qid].lower()))
        judged = data.qrels[qid]
        relevant = sorted(judged, key=lambda d: (-judged[d], d))[: candidates // 2]
        negatives = sorted(
            (d for d in corpus if d not in judged and corpus[d]),
            key=lambda d: (-len(words & set(_WORD.findall(corpus[d].lower()))), d),
        )[: candidates - len(relevant)]
        out.append((data.queries[qid], [corpus[d] for d in relevant + negatives]))
    return out


def _tau(a: np.ndarray, b: np.ndarray) -> float:
    pairs = list(combinations(range(len(a)), 2))
    discordant = sum(1 for i, j in pairs if (a[i] - a[j]) * (b[i] - b[j]) < 0)
    return 1.0 - 2.0 * discordant / len(pairs)


def main(argv: Sequence[str] | None = None) -> int:
    """Score every case with torch and both ONNX modes; print the comparison."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.parity", description=__doc__)
    p.add_argument("--queries", type=int, default=12)
    args = p.parse_args(argv)
    from shortlist.rerank import load_reranker

    torch = load_reranker(f"cross-encoder:{CROSS_ENCODER}", activation="none", device="cpu")
    modes = {
        "int8 (default)": load_reranker(f"onnx:{CROSS_ENCODER_ONNX}", activation="none"),
        "dequantize=True": load_reranker(
            f"onnx:{CROSS_ENCODER_ONNX}", activation="none", dequantize=True
        ),
    }
    stats: dict[str, dict[str, list[float]]] = {m: {} for m in modes}
    for query, texts in cases(args.queries):
        ref = torch.score(query, texts)
        top_ref = np.argsort(-ref, kind="stable")[:10]
        for mode, reranker in modes.items():
            got = reranker.score(query, texts)
            top = np.argsort(-got, kind="stable")[:10]
            s = stats[mode]
            s.setdefault("diff", []).extend(np.abs(got - ref).tolist())
            s.setdefault("top1", []).append(float(top[0] == top_ref[0]))
            s.setdefault("set10", []).append(float(set(top) == set(top_ref)))
            s.setdefault("order10", []).append(float((top == top_ref).all()))
            s.setdefault("tau", []).append(_tau(got, ref))
    rows = []
    n = args.queries
    for mode, s in stats.items():
        diff = np.asarray(s["diff"])
        rows.append([
            mode,
            f"{diff.max():.3f} (mean {diff.mean():.3f}, p99 {np.percentile(diff, 99):.3f})",
            f"{sum(s['top1']):.0f}/{n}", f"{sum(s['set10']):.0f}/{n}",
            f"{sum(s['order10']):.0f}/{n}", f"{min(s['tau']):.3f} - {max(s['tau']):.3f}",
        ])  # fmt: skip
    head = ["ONNX mode", "max |logit diff|", "same top-1", "same top-10 set",
            "same top-10 order", "Kendall tau"]  # fmt: skip
    title = f"ONNX vs torch (same weights), {n} Cranfield queries x 20 candidates"
    print(Table(title, head, rows).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
