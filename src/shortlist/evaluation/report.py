"""Run retrieve-and-rerank over a test collection and measure quality and cost per stage.

How an :func:`evaluate` run works, so that its numbers can be trusted:

* The index is built once (:func:`index_dataset`) and reused for every N and reranker.
* Stage 1 runs **once per query at the largest N**; for dense and BM25 the candidates for
  a smaller N are the prefix of that list (exact for a flat index; for HNSW a search at a
  smaller k could differ slightly). Hybrid fusion depends on how deep each side goes, so
  hybrid stage 1 runs once per N, exactly as a funnel with that ``fetch_k`` runs it.
  Stage-1 latency is the one measured at the largest N.
* Stage 2 runs per N through :func:`shortlist.rerank.ranking.rank_hits`, the ranking
  :class:`~shortlist.pipeline.Pipeline` and the framework adapters use. Each reranker
  scores each candidate set once; the fused variants (e.g. ``rrf:k=60``) re-rank those same
  stored scores, so their latency is the reranker's plus the (tiny) fusion time.
* Every stage gets one untimed warm-up call first (lazy model init, ORT graph setup).
* nDCG@k and MRR@k use the reranked order of all N candidates, so they do not depend on
  M; Recall@M measures the shortlist of M documents a generator would see.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from shortlist._validate import positive_int
from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.evaluation.beir import Dataset
from shortlist.evaluation.measure import RankFn, as_callable, evaluate_callable, progress, row
from shortlist.evaluation.results import STAGE1, Report, Row
from shortlist.evaluation.verdict import funnel_verdict, verdicts
from shortlist.funnel import DEFAULT, Funnel, as_funnel, resolve_fusion
from shortlist.index import BaseIndex, Index
from shortlist.index.hybrid import check_mode, hybrid_fusion
from shortlist.pipeline import Pipeline
from shortlist.rerank import as_reranker
from shortlist.rerank.base import Reranker
from shortlist.rerank.fusion import Fusion
from shortlist.rerank.ranking import rank_hits

logger = logging.getLogger(__name__)

DEFAULT_N = (10, 20, 50, 100)
RerankerArg = Reranker | str | tuple[str, Reranker]


def evaluate(
    system: Pipeline | BaseIndex | RankFn | Any,
    dataset: Dataset,
    *,
    n_values: Sequence[int] | None = None,
    m: int = 10,
    rerankers: Sequence[RerankerArg] = (),
    fusion: Fusion | str | Sequence[Fusion | str] | None = None,
    k: int = 10,
    show_progress: bool = True,
    modes: Sequence[str] | None = None,
    funnel: Funnel | str | os.PathLike[str] | None = None,
) -> Report:
    """Evaluate a pipeline, an index, or any ``query -> ranked results`` callable.

    * A :class:`Pipeline`, or an :class:`Index` with a ``funnel`` (a
      :class:`~shortlist.Funnel`, a config file, or ``"default"`` for the shipped one):
      the funnel as it runs, against the baselines a user would otherwise ship -- BM25,
      dense and the funnel's hybrid stage 1, and the reranker's own order -- each with
      nDCG@k, MRR@k, Recall@M/@N and latency, at the funnel's ``fetch_k`` (or
      ``n_values``). :attr:`Report.funnel` judges the funnel against the best stage-1 row
      with a paired bootstrap interval: "pays", "hurts" or "cannot tell".
    * ``rerankers`` (Reranker objects, spec strings or ``(label, reranker)`` pairs) and
      ``fusion`` (one or a list) add rows: each reranker plain and fused.
    * ``modes`` (``"dense"``, ``"bm25"``, ``"hybrid"``, ``"hybrid:alpha=0.5"``,
      ``"hybrid:rrf"``) makes a grid instead: every reranker row runs on every mode, and
      the report names the best setting (mode, N, fusion).
    * An :class:`Index` without a funnel: its own stage 1, plus ``rerankers`` if given
      (no baselines, no funnel verdict).
    * Anything else is a black box: a callable (or an object with LangChain's ``invoke``
      or LlamaIndex's ``retrieve``) returning, best first, doc ids, shortlist Hits or
      Documents, LangChain Documents (``.id``) or LlamaIndex nodes (``.node_id``). One
      row: nDCG@k, MRR@k, Recall@M and end-to-end latency.
    """
    if not dataset.queries:
        raise InvalidInputError("The dataset has no evaluable queries.")
    if not isinstance(system, Pipeline | BaseIndex):
        if rerankers or funnel is not None:
            raise InvalidInputError(
                "rerankers= and funnel= need a Pipeline or an Index to draw candidates "
                "from; a black-box callable is evaluated as it is."
            )
        return evaluate_callable(as_callable(system), dataset, m, k, show_progress)
    index = system.index if isinstance(system, Pipeline) else system
    plan = _FunnelPlan.of(system, funnel)
    models: list[RerankerArg | None] = [plan.reranker, *rerankers]
    listed = [] if fusion is None else [fusion] if isinstance(fusion, str | Fusion) else fusion
    fusions = [*map(Fusion.parse, listed), plan.fusion]
    if n_values is None:
        n_values = (plan.funnel.fetch_k,) if plan.funnel is not None else DEFAULT_N
    funnel_mode = plan.mode(index)
    if modes is None:
        measured = plan.funnel is not None  # a funnel is judged against the baselines
        chosen = _baseline_modes(index, funnel_mode) if measured else [funnel_mode]
        reranked = [funnel_mode]
    else:
        chosen = [_Mode.parse(spec) for spec in dict.fromkeys(modes)]
        if not chosen:
            raise InvalidInputError("modes must name at least one stage-1 mode.")
        reranked = list(chosen)
    run = _IndexRun(
        index, _named(models), _unique(fusions), dataset, n_values, m, k, chosen, reranked
    )
    report = run.execute(show_progress, grid=modes is not None)
    return _judge_funnel(report, plan, funnel_mode, run)


@dataclass(frozen=True)
class _FunnelPlan:
    """The funnel an evaluation measures: its settings, reranker and resolved fusion."""

    funnel: Funnel | None
    reranker: RerankerArg | None
    fusion: Fusion | None

    @classmethod
    def of(
        cls, system: Pipeline | BaseIndex, funnel: Funnel | str | os.PathLike[str] | None
    ) -> _FunnelPlan:
        if isinstance(system, Pipeline):
            if funnel is not None:
                raise InvalidInputError(
                    "A Pipeline already is a funnel: pass funnel= with an Index."
                )
            return cls(system.funnel, system.reranker, system.fusion)
        if funnel is None:
            return cls(None, None, None)
        config = DEFAULT if funnel == "default" else as_funnel(funnel)
        if config.reranker is None:
            return cls(config, None, None)
        reranker = as_reranker(config.reranker)
        return cls(config, reranker, resolve_fusion(config.fusion, reranker))

    def mode(self, index: BaseIndex) -> _Mode:
        """The funnel's stage 1 as an evaluation mode (the index's own when no funnel)."""
        if self.funnel is None:
            return _Mode(index.mode, index.mode, None)
        if self.funnel.mode != "hybrid":
            return _Mode(self.funnel.mode, self.funnel.mode, None)
        fusion = self.funnel.hybrid_fusion
        name = "hybrid" if fusion == index.hybrid else f"hybrid:{fusion}"
        return _Mode(name, "hybrid", fusion)


def _baseline_modes(index: BaseIndex, funnel_mode: _Mode) -> list[_Mode]:
    """BM25, dense and the funnel's stage 1 (those the index can run), funnel's last."""
    names = ["bm25", "dense"] if index.bm25 is not None else ["dense"]
    out = [_Mode(n, n, None) for n in names if n != funnel_mode.name]
    return [*out, funnel_mode]


def _judge_funnel(report: Report, plan: _FunnelPlan, mode: _Mode, run: _IndexRun) -> Report:
    """Add the funnel's verdict: its row against the best stage-1 row at its N."""
    if plan.funnel is None:
        return report
    n = plan.funnel.fetch_k if plan.funnel.fetch_k in run.n_values else run.n_values[-1]
    stage1_rows = [r for r in report.rows if r.reranker is None and r.n == n]
    if plan.reranker is None:
        target = _namedrow(STAGE1, mode, run.modes)
    else:
        label = run.models[0][0]
        name = label if plan.fusion is None else _fused(label, plan.fusion)
        target = _namedrow(name, mode, run.modes)
    row = next((r for r in report.rows if r.system == target and r.n == n), None)
    if row is None or not stage1_rows:
        return report
    settings = {**report.settings, "funnel": plan.funnel.to_dict()}
    return replace(report, funnel=funnel_verdict(row, stage1_rows, report.k), settings=settings)


def index_dataset(
    dataset: Dataset,
    embedder: Any = None,
    *,
    spec: str | None = None,
    batch_size: int = 32,
    show_progress: bool = True,
) -> Index:
    """Embed a dataset's corpus once; reuse the index across evaluations."""
    return Index.build(
        dataset.corpus, embedder, spec=spec, batch_size=batch_size, show_progress=show_progress
    )


@dataclass(frozen=True)
class _Mode:
    """A stage-1 mode as evaluated: ``"hybrid:alpha=0.5"`` -> ("hybrid", 0.5)."""

    name: str
    mode: str
    hybrid: Fusion | None  # None: the index's own

    @classmethod
    def parse(cls, spec: str) -> _Mode:
        """``dense``, ``bm25``, ``hybrid`` (the index's fusion), ``hybrid:alpha=0.5``, or
        ``hybrid:`` + a fusion spec (``hybrid:rrf``, ``hybrid:weighted:w=0.3``)."""
        mode, sep, option = spec.strip().partition(":")
        hybrid: Fusion | None = None
        if sep:
            key, eq, value = option.partition("=")
            try:
                if key.strip() == "alpha" and eq:
                    hybrid = hybrid_fusion(alpha=float(value))
                else:
                    hybrid = Fusion.parse(option)
            except (ValueError, InvalidInputError):
                hybrid = None
            if hybrid is None or mode != "hybrid":
                raise InvalidInputError(
                    f"Bad stage-1 mode {spec!r}; write dense, bm25, hybrid, hybrid:alpha=0.5 "
                    "or hybrid:rrf."
                )
        check_mode(mode)
        return cls(spec.strip(), mode, hybrid)


class _IndexRun:
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
        modes: list[_Mode],
        reranked: list[_Mode],
    ) -> None:
        self.n_values = _check_n(n_values)
        if m > min(self.n_values):
            raise InvalidInputError(f"m ({m}) must not exceed the smallest N ({self.n_values[0]}).")
        covered = sum(d.id in index for d in dataset.corpus)
        if covered == 0:
            raise InvalidInputError(
                f"None of the {len(dataset.corpus)} documents of {dataset.name!r} is in the "
                "index; build it from dataset.corpus (see index_dataset)."
            )
        if covered < len(dataset.corpus):
            logger.warning("Index holds %d of %d corpus documents.", covered, len(dataset.corpus))
        self.index, self.models, self.fusions = index, models, fusions
        self.dataset, self.m, self.k, self.modes = dataset, m, k, modes
        self.reranked = [md.name for md in reranked]
        self.candidates: dict[tuple[str, int], dict[str, list[str]]] = {}
        self.t_stage1: dict[str, list[float]] = {md.name: [] for md in modes}
        self.runs: dict[tuple[str, int], dict[str, list[str]]] = {}
        self.t_stage2: dict[tuple[str, int], list[float]] = {}

    def execute(self, show_progress: bool, *, grid: bool = True) -> Report:
        queries = list(self.dataset.queries.items())
        self._warm_up(queries[0][1])
        for qid, query in progress(queries, show_progress):
            self._query(qid, query)
        rows = [row for n in self.n_values for md in self.modes for row in self._rows(md, n)]
        labels = [label for label, _ in self.models]
        many = len(self.reranked) > 1
        found = []
        for md in self.modes:
            if md.name not in self.reranked:
                continue
            for v in verdicts([r for r in rows if r.mode == md.name], labels, self.k):
                found.append(replace(v, text=f"[{md.name}] {v.text}") if many else v)
        return Report(
            dataset=self.dataset.name,
            description=self.dataset.describe(),
            queries=len(queries),
            k=self.k,
            m=self.m,
            n_values=self.n_values,
            rows=tuple(rows),
            verdicts=tuple(found),
            settings={
                "index": repr(self.index),
                "modes": [md.name for md in self.modes],
                "rerankers": labels,
                "fusion": [str(f) for f in self.fusions],
            },
            notes=(
                f"Stage 1 ran once per query and mode at N={self.n_values[-1]}; smaller N use "
                "its prefix (hybrid: its own search at that N), and its latency is the one "
                "measured at the largest N.",
                "Each reranker scored each (query, document) pair once; every N, mode and "
                "fusion re-ranks those scores. Stage-2 latency is the measured time per pair "
                "of the query's scoring call times N.",
                f"nDCG@{self.k} and MRR@{self.k} rank all N candidates; Recall@M is over the "
                f"top M={self.m}.",
                "Latency per query, single stream, after one untimed warm-up call per stage; "
                "queries/s covers both stages back to back.",
            ),
            best=_best_funnel(rows, self.k) if grid and len(self.modes) > 1 else None,
        )

    def _search(self, md: _Mode, query: str, n: int | None = None) -> list[Hit]:
        n = self.n_values[-1] if n is None else n
        return self.index.search(query, n, mode=md.mode, hybrid=md.hybrid)

    def _pools(self, md: _Mode, query: str, deepest: list[Hit]) -> dict[int, list[Hit]]:
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
                    pool = pools[(md.name, n)]
                    relevance = np.array([by_id[h.id] for h in pool], dtype=np.float64)
                    spent = per_pair * len(pool)
                    name = _namedrow(label, md, self.modes)
                    self._record((name, n), qid, rank_hits(pool, relevance), spent)
                    for f in self.fusions:  # the stored scores, re-ranked: no second model pass
                        t0 = time.perf_counter()
                        fused = rank_hits(pool, relevance, fusion=f)
                        extra = time.perf_counter() - t0
                        key = (_namedrow(_fused(label, f), md, self.modes), n)
                        self._record(key, qid, fused, spent + extra)

    def _record(
        self, key: tuple[str, int], qid: str, ranked: list[tuple[int, Any]], seconds: float
    ) -> None:
        self.runs.setdefault(key, {})[qid] = [hit.id for _, hit in ranked]
        self.t_stage2.setdefault(key, []).append(seconds)

    def _rows(self, md: _Mode, n: int) -> list[Row]:
        base = self.candidates[(md.name, n)]
        t1 = self.t_stage1[md.name]
        first = _namedrow(STAGE1, md, self.modes)
        rows = [row(self.dataset, self.k, self.m, n, first, base, t1, mode=md.name)]
        if md.name not in self.reranked:
            return rows
        for label, _ in self.models:
            for f in [None, *self.fusions]:
                name = _namedrow(label if f is None else _fused(label, f), md, self.modes)
                rows.append(
                    row(
                        self.dataset,
                        self.k,
                        self.m,
                        n,
                        name,
                        self.runs[(name, n)],
                        t1,
                        self.t_stage2[(name, n)],
                        reranker=label,
                        fusion=None if f is None else str(f),
                        mode=md.name,
                    )
                )
        return rows


def _namedrow(name: str, md: _Mode, modes: list[_Mode]) -> str:
    """Row names carry the mode only when a report compares several."""
    return f"{name} ({md.name})" if len(modes) > 1 else name


def _best_funnel(rows: Sequence[Row], k: int) -> str:
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


def _fused(label: str, fusion: Fusion) -> str:
    """Row name of a fused variant: the fusion's full spec, so that ``rrf:k=10`` and
    ``rrf:k=60`` are two rows rather than one overwriting the other."""
    return f"{label} + {fusion}"


def _named(models: Sequence[RerankerArg | None]) -> list[tuple[str, Reranker]]:
    """(unique label, reranker) pairs; spec strings are loaded here."""
    out: list[tuple[str, Reranker]] = []
    for model in models:
        if model is None:
            continue
        if isinstance(model, tuple) and len(model) == 2 and isinstance(model[1], Reranker):
            label, reranker = str(model[0]), model[1]
        elif isinstance(model, Reranker | str):
            reranker = as_reranker(model)
            label = spec_label(reranker.spec)
        else:
            raise InvalidInputError(
                "rerankers must be Reranker objects, spec strings or (label, Reranker) "
                f"pairs; got {type(model).__name__}."
            )
        taken = {name for name, _ in out}
        unique, i = label, 2
        while unique in taken:
            unique, i = f"{label} #{i}", i + 1
        out.append((unique, reranker))
    return out


def spec_label(spec: str) -> str:
    """A short table label for a reranker spec: a local model directory by its name."""
    base, qmark, options = spec.partition("?")
    backend, sep, model = base.partition(":")
    if sep and os.sep in model and Path(model).expanduser().exists():
        return f"{backend}:{Path(model).name}{qmark}{options}"
    return spec


def _unique(fusions: list[Fusion | None]) -> list[Fusion]:
    out: list[Fusion] = []
    for f in fusions:
        if f is not None and f not in out:
            out.append(f)
    return out


def _check_n(n_values: Sequence[int]) -> tuple[int, ...]:
    if not n_values:
        raise InvalidInputError("n_values must be positive integers, got none.")
    return tuple(sorted({positive_int("n_values", n) for n in n_values}))
