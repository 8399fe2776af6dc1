"""Run retrieve-and-rerank over a test collection and measure quality and cost per stage.

How an :func:`evaluate` run works, so that its numbers can be trusted:

* The index is built once (:func:`index_dataset`) and reused for every N and reranker.
* Stage 1 runs **once per query at the largest N**; the candidates for a smaller N are
  the prefix of that list (exact for a flat index; for HNSW a search at a smaller k could
  differ slightly). Stage-1 latency is therefore the one measured at the largest N.
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
from shortlist.evaluation.verdict import verdicts
from shortlist.index import BaseIndex, Index
from shortlist.index.hybrid import check_alpha, check_mode
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
    n_values: Sequence[int] = DEFAULT_N,
    m: int = 10,
    rerankers: Sequence[RerankerArg] = (),
    fusion: Fusion | str | Sequence[Fusion | str] | None = "rrf",
    k: int = 10,
    show_progress: bool = True,
    modes: Sequence[str] | None = None,
) -> Report:
    """Evaluate a pipeline, an index, or any ``query -> ranked results`` callable.

    * :class:`Pipeline` or :class:`Index` built over ``dataset.corpus``: a per-N report
      for stage 1 and stage 1 + each reranker (the pipeline's own and ``rerankers``:
      Reranker objects, spec strings, or ``(label, reranker)`` pairs), plain and fused
      with ``fusion`` (one or a list; None: plain only; a pipeline's own fusion is
      reported as well).
      The pipeline's ``fetch_k``/``top_n`` are replaced by ``n_values`` and ``m``.
      ``modes`` compares stage-1 modes (``"dense"``, ``"bm25"``, ``"hybrid"``,
      ``"hybrid:alpha=0.5"``): every row is run once per mode, and the report names the
      best funnel (mode, N, fusion) with its latency. Default: the pipeline's (or
      index's) mode only.
    * Anything else is a black box: a callable (or an object with LangChain's ``invoke``
      or LlamaIndex's ``retrieve``) returning, best first, doc ids, shortlist Hits or
      Documents, LangChain Documents (``.id``) or LlamaIndex nodes (``.node_id``). One
      row: nDCG@k, MRR@k, Recall@M and end-to-end latency.
    """
    if not dataset.queries:
        raise InvalidInputError("The dataset has no evaluable queries.")
    if not isinstance(system, Pipeline | BaseIndex):
        if rerankers:
            raise InvalidInputError(
                "rerankers= needs a Pipeline or an Index to draw candidates from; a "
                "black-box callable is evaluated as it is."
            )
        return evaluate_callable(as_callable(system), dataset, m, k, show_progress)
    models: list[RerankerArg | None] = list(rerankers)
    listed = [fusion] if fusion is None or isinstance(fusion, str | Fusion) else list(fusion)
    fusions = [Fusion.parse(f) for f in listed]
    if isinstance(system, Pipeline):
        models.insert(0, system.reranker)
        fusions.append(system.fusion)
    index = system.index if isinstance(system, Pipeline) else system
    if modes is None:
        own = system.mode if isinstance(system, Pipeline) else index.mode
        chosen = [_Mode.parse(own)]
    else:
        chosen = [_Mode.parse(m) for m in dict.fromkeys(modes)]
        if not chosen:
            raise InvalidInputError("modes must name at least one stage-1 mode.")
    run = _IndexRun(index, _named(models), _unique(fusions), dataset, n_values, m, k, chosen)
    return run.execute(show_progress)


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
    alpha: float | None

    @classmethod
    def parse(cls, spec: str) -> _Mode:
        mode, sep, option = spec.strip().partition(":")
        alpha: float | None = None
        if sep:
            key, eq, value = option.partition("=")
            try:
                alpha = float(value) if key.strip() == "alpha" and eq else None
            except ValueError:
                alpha = None
            if alpha is None:
                raise InvalidInputError(
                    f"Bad stage-1 mode {spec!r}; write dense, bm25, hybrid or hybrid:alpha=0.5."
                )
        check_mode(mode)
        return cls(spec.strip(), mode, check_alpha(alpha))


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
        self.candidates: dict[str, dict[str, list[str]]] = {md.name: {} for md in modes}
        self.t_stage1: dict[str, list[float]] = {md.name: [] for md in modes}
        self.runs: dict[tuple[str, int], dict[str, list[str]]] = {}
        self.t_stage2: dict[tuple[str, int], list[float]] = {}

    def execute(self, show_progress: bool) -> Report:
        queries = list(self.dataset.queries.items())
        self._warm_up(queries[0][1])
        for qid, query in progress(queries, show_progress):
            self._query(qid, query)
        rows = [row for md in self.modes for n in self.n_values for row in self._rows(md, n)]
        labels = [label for label, _ in self.models]
        many = len(self.modes) > 1
        found = []
        for md in self.modes:
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
                "its prefix, and its latency is the one measured there.",
                "Each reranker scored each (query, document) pair once; every N, mode and "
                "fusion re-ranks those scores. Stage-2 latency is the measured time per pair "
                "of the query's scoring call times N.",
                f"nDCG@{self.k} and MRR@{self.k} rank all N candidates; Recall@M is over the "
                f"top M={self.m}.",
                "Latency per query, single stream, after one untimed warm-up call per stage; "
                "queries/s covers both stages back to back.",
            ),
            best=_best_funnel(rows, self.k) if many else None,
        )

    def _search(self, md: _Mode, query: str) -> list[Hit]:
        return self.index.search(query, self.n_values[-1], mode=md.mode, alpha=md.alpha)

    def _warm_up(self, query: str) -> None:
        hits = [h for md in self.modes for h in self._search(md, query)]
        for _, reranker in self.models:
            if hits:
                reranker.score(query, [h.text for h in hits[: self.n_values[0]]])

    def _query(self, qid: str, query: str) -> None:
        pools: dict[str, list[Hit]] = {}
        for md in self.modes:
            t0 = time.perf_counter()
            pools[md.name] = self._search(md, query)
            self.t_stage1[md.name].append(time.perf_counter() - t0)
            self.candidates[md.name][qid] = [h.id for h in pools[md.name]]
        unique = list({h.id: h for hits in pools.values() for h in hits}.values())
        for label, reranker in self.models:
            t0 = time.perf_counter()
            scored = reranker.score(query, [h.text for h in unique]) if unique else np.zeros(0)
            per_pair = (time.perf_counter() - t0) / max(len(unique), 1)
            by_id = dict(zip((h.id for h in unique), np.asarray(scored).tolist(), strict=True))
            for md in self.modes:
                for n in self.n_values:
                    pool = pools[md.name][:n]
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
        base = {q: c[:n] for q, c in self.candidates[md.name].items()}
        t1 = self.t_stage1[md.name]
        first = _namedrow(STAGE1, md, self.modes)
        rows = [row(self.dataset, self.k, self.m, n, first, base, t1, mode=md.name)]
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
