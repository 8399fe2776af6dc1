"""The measuring loop of :func:`~shortlist.evaluation.evaluate` over an index.

Stage 1 runs once per query and mode at the largest N (hybrid: once per N, since its
fusion depends on the depth); each reranker scores each unique candidate once, and every
N, mode and fusion re-ranks those stored scores. :class:`IndexRun` holds the raw
measurements and turns them into a :class:`~shortlist.evaluation.results.Report`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from shortlist._validate import positive_int
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.evaluation.beir import Dataset
from shortlist.evaluation.measure import progress, row
from shortlist.evaluation.modes import Mode, row_name
from shortlist.evaluation.results import STAGE1_ROW, Report, Row
from shortlist.evaluation.verdict import Verdict, verdicts
from shortlist.index import BaseIndex
from shortlist.rerank.base import Reranker
from shortlist.rerank.fusion import Fusion
from shortlist.rerank.ranking import rank_hits

logger = logging.getLogger(__name__)


def _notes(n: int, k: int, m: int) -> tuple[str, ...]:
    """How the numbers were measured, printed under every report's table."""
    return (
        f"Stage 1 ran once per query and mode at N={n}; smaller N use "
        "its prefix (hybrid: its own search at that N), and its latency is the one "
        "measured at the largest N.",
        "Each reranker scored each (query, document) pair once; every N, mode and "
        "fusion re-ranks those scores. Stage-2 latency is the measured time per pair "
        "of the query's scoring call times N.",
        f"nDCG@{k} and MRR@{k} rank all N candidates; Recall@M is over the top M={m}.",
        "Latency per query, single stream, after one untimed warm-up call per stage; "
        "queries/s covers both stages back to back.",
    )


class IndexRun:
    """One evaluation of stage 1 (+ rerankers) over an index; holds the raw measurements."""

    def __init__(
        self,
        index: BaseIndex,
        models: list[tuple[str, Reranker]],
        fusions: list[Fusion],
        dataset: Dataset,
        n_values: Sequence[int],
        m: int,
        k: int,
        modes: list[Mode],
        reranked: list[Mode],
    ) -> None:
        self.n_values = _check_n(n_values)
        if m > min(self.n_values):
            raise InvalidInputError(f"m ({m}) must not exceed the smallest N ({self.n_values[0]}).")
        _check_coverage(index, dataset)
        self.index, self.models, self.fusions = index, models, fusions
        self.dataset, self.m, self.k, self.modes = dataset, m, k, modes
        self.reranked = [md.name for md in reranked]
        self.candidates: dict[tuple[str, int], dict[str, list[str]]] = {}
        self.t_stage1: dict[str, list[float]] = {md.name: [] for md in modes}
        self.runs: dict[tuple[str, int], dict[str, list[str]]] = {}
        self.t_stage2: dict[tuple[str, int], list[float]] = {}

    def execute(self, show_progress: bool, *, grid: bool = True) -> Report:
        """Run every query, then build the report (rows, verdicts, and a grid's best)."""
        queries = list(self.dataset.queries.items())
        self._warm_up(queries[0][1])
        for qid, query in progress(queries, show_progress):
            self._query(qid, query)
        rows = [row for n in self.n_values for md in self.modes for row in self._rows(md, n)]
        labels = [label for label, _ in self.models]
        return Report(
            dataset=self.dataset.name,
            description=self.dataset.describe(),
            queries=len(queries),
            k=self.k,
            m=self.m,
            n_values=self.n_values,
            rows=tuple(rows),
            verdicts=tuple(self._verdicts(rows, labels)),
            settings={
                "index": repr(self.index),
                "modes": [md.name for md in self.modes],
                "rerankers": labels,
                "fusion": [str(f) for f in self.fusions],
            },
            notes=_notes(self.n_values[-1], self.k, self.m),
            best=best_funnel(rows, self.k) if grid and len(self.modes) > 1 else None,
        )

    def _verdicts(self, rows: list[Row], labels: list[str]) -> list[Verdict]:
        """One verdict per reranker and reranked mode (prefixed by the mode if several)."""
        many = len(self.reranked) > 1
        found = []
        for md in self.modes:
            if md.name not in self.reranked:
                continue
            for v in verdicts([r for r in rows if r.mode == md.name], labels, self.k):
                found.append(replace(v, text=f"[{md.name}] {v.text}") if many else v)
        return found

    def _search(self, md: Mode, query: str, n: int | None = None) -> list[Hit]:
        n = self.n_values[-1] if n is None else n
        return self.index.search(query, n, mode=md.mode, hybrid=md.hybrid)

    def _pools(self, md: Mode, query: str, deepest: list[Hit]) -> dict[int, list[Hit]]:
        """The candidates at each N: the deepest list's prefix, or (hybrid, whose fusion
        depends on the depth) a search at that N."""
        if md.mode != "hybrid":
            return {n: deepest[:n] for n in self.n_values}
        return {n: deepest if n == self.n_values[-1] else self._search(md, query, n)
                for n in self.n_values}  # fmt: skip

    def _warm_up(self, query: str) -> None:
        hits = [h for md in self.modes if md.name in self.reranked for h in self._search(md, query)]
        for _, reranker in self.models:
            if hits:
                reranker.score(query, [h.text for h in hits[: self.n_values[0]]])

    def _query(self, qid: str, query: str) -> None:
        """Stage 1 in every mode (timed), then each reranker over the unique candidates."""
        pools: dict[tuple[str, int], list[Hit]] = {}
        for md in self.modes:
            t0 = time.perf_counter()
            deepest = self._search(md, query)
            self.t_stage1[md.name].append(time.perf_counter() - t0)
            for n, pool in self._pools(md, query, deepest).items():
                pools[(md.name, n)] = pool
                self.candidates.setdefault((md.name, n), {})[qid] = [h.id for h in pool]
        reranked = [md for md in self.modes if md.name in self.reranked]
        unique = list(
            {
                h.id: h for md in reranked for n in self.n_values for h in pools[(md.name, n)]
            }.values()
        )
        for label, reranker in self.models:
            t0 = time.perf_counter()
            scored = reranker.score(query, [h.text for h in unique]) if unique else np.zeros(0)
            per_pair = (time.perf_counter() - t0) / max(len(unique), 1)
            by_id = dict(zip((h.id for h in unique), np.asarray(scored).tolist(), strict=True))
            for md in reranked:
                for n in self.n_values:
                    self._rank(qid, label, md, n, pools[(md.name, n)], by_id, per_pair)

    def _rank(
        self,
        qid: str,
        label: str,
        md: Mode,
        n: int,
        pool: list[Hit],
        by_id: dict[str, float],
        per_pair: float,
    ) -> None:
        """Record one pool's reranked order, plain and under each fusion (same scores)."""
        relevance = np.array([by_id[h.id] for h in pool], dtype=np.float64)
        spent = per_pair * len(pool)
        self._record((row_name(label, md, self.modes), n), qid, rank_hits(pool, relevance), spent)
        for f in self.fusions:  # the stored scores, re-ranked: no second model pass
            t0 = time.perf_counter()
            fused = rank_hits(pool, relevance, fusion=f)
            extra = time.perf_counter() - t0
            key = (row_name(fused_name(label, f), md, self.modes), n)
            self._record(key, qid, fused, spent + extra)

    def _record(
        self, key: tuple[str, int], qid: str, ranked: list[tuple[int, Any]], seconds: float
    ) -> None:
        self.runs.setdefault(key, {})[qid] = [hit.id for _, hit in ranked]
        self.t_stage2.setdefault(key, []).append(seconds)

    def _rows(self, md: Mode, n: int) -> list[Row]:
        """The stage-1 row at ``n`` in mode ``md``, then each reranker's rows beside it."""
        t1 = self.t_stage1[md.name]
        first = row_name(STAGE1_ROW, md, self.modes)
        base = self.candidates[(md.name, n)]
        rows = [row(self.dataset, self.k, self.m, n, first, base, t1, mode=md.name)]
        if md.name not in self.reranked:
            return rows
        for label, _ in self.models:
            for f in [None, *self.fusions]:
                name = row_name(label if f is None else fused_name(label, f), md, self.modes)
                measured = (self.runs[(name, n)], t1, self.t_stage2[(name, n)])
                fusion = None if f is None else str(f)
                rows.append(
                    row(self.dataset, self.k, self.m, n, name, *measured,
                        reranker=label, fusion=fusion, mode=md.name)
                )  # fmt: skip
        return rows


def best_funnel(rows: Sequence[Row], k: int) -> str:
    """The best row by nDCG (the cheaper one on a tie), named as a funnel to configure."""
    best = max(rows, key=lambda r: (round(r.ndcg, 4), -(r.stage1.p50_ms + _p50(r))))
    rerank = f"rerank with {best.reranker}" if best.reranker else "no reranking"
    fusion = f", fused ({best.fusion})" if best.fusion else ""
    return (
        f"Best funnel: stage 1 {best.mode}, N={best.n}, {rerank}{fusion} -- nDCG@{k} "
        f"{best.ndcg:.3f}, {best.stage1.p50_ms + _p50(best):.1f} ms/query (p50, both stages)."
    )


def _p50(row: Row) -> float:
    return row.stage2.p50_ms if row.stage2 is not None else 0.0


def fused_name(label: str, fusion: Fusion) -> str:
    """Row name of a fused variant: the fusion's full spec, so that ``rrf:k=10`` and
    ``rrf:k=60`` are two rows rather than one overwriting the other."""
    return f"{label} + {fusion}"


def _check_n(n_values: Sequence[int]) -> tuple[int, ...]:
    if not n_values:
        raise InvalidInputError("n_values must be positive integers, got none.")
    return tuple(sorted({positive_int("n_values", n) for n in n_values}))


def _check_coverage(index: BaseIndex, dataset: Dataset) -> None:
    """Refuse an index built from another corpus; warn when it holds only part of it."""
    covered = sum(d.id in index for d in dataset.corpus)
    if covered == 0:
        raise InvalidInputError(
            f"None of the {len(dataset.corpus)} documents of {dataset.name!r} is in the "
            "index; build it from dataset.corpus (see index_dataset)."
        )
    if covered < len(dataset.corpus):
        logger.warning("Index holds %d of %d corpus documents.", covered, len(dataset.corpus))
