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

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from shortlist.errors import InvalidInputError
from shortlist.evaluation.beir import Dataset
from shortlist.evaluation.measure import RankFn, as_callable, evaluate_callable
from shortlist.evaluation.modes import Mode, row_name
from shortlist.evaluation.results import STAGE1_ROW, Report
from shortlist.evaluation.run import IndexRun, fused_name
from shortlist.evaluation.verdict import funnel_verdict
from shortlist.funnel import DEFAULT, Funnel, as_funnel, resolve_fusion
from shortlist.index import BaseIndex, Index
from shortlist.pipeline import Pipeline
from shortlist.rerank import as_reranker
from shortlist.rerank.base import Reranker
from shortlist.rerank.fusion import Fusion
from shortlist.spec import CHAIN, parse, split_chain

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
    chosen, reranked = _modes(index, plan, funnel_mode, modes)
    run = IndexRun(
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

    def mode(self, index: BaseIndex) -> Mode:
        """The funnel's stage 1 as an evaluation mode (the index's own when no funnel)."""
        if self.funnel is None:
            return Mode(index.mode, index.mode, None)
        if self.funnel.mode != "hybrid":
            return Mode(self.funnel.mode, self.funnel.mode, None)
        fusion = self.funnel.hybrid_fusion
        name = "hybrid" if fusion == index.hybrid else f"hybrid:{fusion}"
        return Mode(name, "hybrid", fusion)


def _modes(
    index: BaseIndex, plan: _FunnelPlan, funnel_mode: Mode, modes: Sequence[str] | None
) -> tuple[list[Mode], list[Mode]]:
    """The stage-1 modes measured, and those reranked: the funnel's with its baselines, or
    a grid (every mode reranked)."""
    if modes is None:
        measured = plan.funnel is not None  # a funnel is judged against the baselines
        chosen = _baseline_modes(index, funnel_mode) if measured else [funnel_mode]
        return chosen, [funnel_mode]
    chosen = [Mode.parse(spec) for spec in dict.fromkeys(modes)]
    if not chosen:
        raise InvalidInputError("modes must name at least one stage-1 mode.")
    return chosen, list(chosen)


def _baseline_modes(index: BaseIndex, funnel_mode: Mode) -> list[Mode]:
    """BM25, dense and the funnel's stage 1 (those the index can run), funnel's last."""
    names = ["bm25", "dense"] if index.bm25 is not None else ["dense"]
    out = [Mode(n, n, None) for n in names if n != funnel_mode.name]
    return [*out, funnel_mode]


def _judge_funnel(report: Report, plan: _FunnelPlan, mode: Mode, run: IndexRun) -> Report:
    """Add the funnel's verdict: its row against the best stage-1 row at its N."""
    if plan.funnel is None:
        return report
    n = plan.funnel.fetch_k if plan.funnel.fetch_k in run.n_values else run.n_values[-1]
    stage1_rows = [r for r in report.rows if r.reranker is None and r.n == n]
    if plan.reranker is None:
        target = row_name(STAGE1_ROW, mode, run.modes)
    else:
        label = run.models[0][0]
        name = label if plan.fusion is None else fused_name(label, plan.fusion)
        target = row_name(name, mode, run.modes)
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
    """A short table label for a reranker spec: a local model directory by its name (each
    member's, in a fallback chain)."""
    labels = []
    for member in split_chain(spec):
        parsed = parse(member)
        model = parsed.argument
        if model and os.sep in model and Path(model).expanduser().exists():
            member = str(replace(parsed, argument=Path(model).name))
        labels.append(member)
    return f" {CHAIN} ".join(labels)


def _unique(fusions: list[Fusion | None]) -> list[Fusion]:
    out: list[Fusion] = []
    for f in fusions:
        if f is not None and f not in out:
            out.append(f)
    return out
