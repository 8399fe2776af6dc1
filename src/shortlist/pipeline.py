"""The two-stage funnel: retrieve ``fetch_k`` candidates, rerank, keep the best ``top_n``.

Stage 2 is :meth:`Reranker.rerank_hits <shortlist.rerank.base.Reranker.rerank_hits>`,
the same path the framework adapters and evaluation take (:mod:`shortlist.rerank.ranking`),
so the three cannot drift apart.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from shortlist import defaults, plan
from shortlist._validate import check_keywords, finite_number, positive_int
from shortlist.documents import STAGE1, Hit
from shortlist.errors import InvalidInputError
from shortlist.funnel import AUTO, Funnel, as_funnel, resolve_fusion
from shortlist.index import BaseIndex, Filter
from shortlist.index.hybrid import check_mode, hybrid_fusion
from shortlist.plan import Blocking, Plan
from shortlist.rerank import as_reranker
from shortlist.rerank.base import Reranker, rerank_plan
from shortlist.rerank.fusion import Fusion

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing's own from Python 3.11


@dataclass(frozen=True)
class PipelineResult:
    """Hits plus what happened on the way: the stage-1 candidates and per-stage seconds."""

    hits: list[Hit]
    candidates: list[Hit]
    retrieve_seconds: float
    rerank_seconds: float

    @property
    def reranked(self) -> int:
        """How many of ``hits`` a reranker scored (the rest kept their stage-1 order: a
        spent ``rerank_budget_ms``, or a fallback chain with every member down)."""
        return sum(1 for h in self.hits if h.scored_by not in (None, STAGE1))


class Pipeline:
    """Index + optional reranker: retrieve ``fetch_k`` candidates, keep the best ``top_n``.

    ``Pipeline.from_config(index, funnel)`` builds one from a :class:`~shortlist.Funnel`
    (or a saved config such as ``shortlist eval --calibrate`` writes); the keyword
    arguments below are the same settings, and every default is the shipped funnel's
    (:data:`shortlist.funnel.DEFAULT`), so ``Pipeline(index, reranker)`` runs the funnel
    that ``shortlist eval`` measures.

    ``reranker`` may be a :class:`Reranker` or a spec string for
    :func:`shortlist.load_reranker`. Without a reranker, the pipeline returns the
    top ``top_n`` retrieval hits. ``top_n`` may not exceed ``fetch_k``: the reranker can
    only return candidates stage 1 fetched, so asking for more is an error rather than
    silently fewer results.

    Stage 1 is the index's unless ``mode`` (``"hybrid"``, ``"dense"``, ``"bm25"``) or the
    hybrid fusion (``alpha``, the dense weight, or ``hybrid``, a spec such as
    ``"rrf:k=60"``) say otherwise; an index's own default is the funnel's (hybrid with
    ``alpha=0.7`` where it has BM25).

    ``fusion`` combines the rerank and retrieval scores: ``"auto"`` (default) is the
    backend's rule (:func:`shortlist.funnel.resolve_fusion`: ``weighted:w=0.2`` for the local
    cross-encoders, the reranker's own order for Cohere), ``None``/``"none"`` the
    reranker's order, or a spec (``"weighted:w=0.5"``, ``"rrf"``).

    ``fallback`` (a reranker, a spec, or a list) and ``degraded`` (``"stage1"`` or
    ``"raise"``) make the reranker a :class:`~shortlist.rerank.fallback.FallbackReranker`:
    when it fails, the next one scores the same candidates; when all fail, ``"stage1"``
    (the default) returns the stage-1 order. ``Pipeline(index, "cohere:rerank-v3.5",
    fallback="onnx:cross-encoder/ms-marco-MiniLM-L-12-v2")`` equals the spec
    ``"cohere:rerank-v3.5 | onnx:..."``.

    ``rerank_budget_ms`` bounds stage 2: candidates are reranked best-retrieval-first in
    chunks until it is spent, the rest keep their retrieval order below them
    (``scored_by="stage1"``); :attr:`PipelineResult.reranked` counts the reranked hits.
    """

    def __init__(
        self,
        index: BaseIndex,
        reranker: Reranker | str | None = None,
        *,
        fetch_k: int = defaults.FETCH_K,
        top_n: int = defaults.TOP_N,
        fusion: Fusion | str | None = AUTO,
        score_threshold: float | None = None,
        mode: str | None = None,
        alpha: float | None = None,
        hybrid: Fusion | str | None = None,
        rerank_budget_ms: float | None = None,
        fallback: Reranker | str | Sequence[Reranker | str] | None = None,
        degraded: str | None = None,
    ) -> None:
        self.index = index
        self.mode: str = check_mode(mode if mode is not None else index.mode)
        self.hybrid: Fusion = hybrid_fusion(hybrid, alpha, None, default=index.hybrid)
        if self.mode != "dense" and index.bm25 is None:
            index.search("probe", 1, mode=self.mode)  # raises the "needs BM25" error
        self.reranker = _chain(reranker, fallback, degraded)
        self.fetch_k = positive_int("fetch_k", fetch_k)
        self.top_n = _top_n(positive_int("top_n", top_n), self.fetch_k)
        self.fusion = resolve_fusion(fusion, self.reranker)
        self.score_threshold = finite_number("score_threshold", score_threshold, allow_none=True)
        self.rerank_budget_ms = finite_number(
            "rerank_budget_ms", rerank_budget_ms, positive=True, allow_none=True
        )

    @classmethod
    def from_config(
        cls,
        index: BaseIndex,
        funnel: Funnel | str | os.PathLike[str] | Mapping[str, Any] | None = None,
        *,
        reranker: Reranker | str | None = None,
    ) -> Pipeline:
        """The pipeline a :class:`~shortlist.Funnel` describes (a Funnel, a config file such
        as ``shortlist eval --calibrate`` writes, a mapping, or ``None`` for the shipped
        one). ``reranker`` replaces the config's (e.g. an already loaded model)."""
        config = as_funnel(funnel)
        return cls(
            index,
            reranker if reranker is not None else config.reranker,
            fetch_k=config.fetch_k,
            top_n=config.top_n,
            fusion=config.fusion,
            score_threshold=config.score_threshold,
            mode=config.mode,
            hybrid=config.hybrid,
            rerank_budget_ms=config.rerank_budget_ms,
        )

    @property
    def alpha(self) -> float | None:
        """The hybrid dense weight (LlamaIndex's ``alpha``); ``None`` when hybrid is RRF."""
        return self.hybrid.mix_weight

    @property
    def funnel(self) -> Funnel:
        """This pipeline as a :class:`~shortlist.Funnel` (fusion resolved, reranker by spec;
        a custom backend's spec is kept as it is, though no registry can load it)."""
        funnel = Funnel(
            mode=self.mode,
            hybrid=str(self.hybrid),
            fetch_k=self.fetch_k,
            reranker=None,
            fusion="none" if self.fusion is None else str(self.fusion),
            top_n=self.top_n,
            score_threshold=self.score_threshold,
            rerank_budget_ms=self.rerank_budget_ms,
        )
        if self.reranker is not None:
            object.__setattr__(funnel, "reranker", self.reranker.spec)
        return funnel

    def run(self, query: str, **options: Unpack[SearchOptions]) -> PipelineResult:
        """Both stages, with the candidates and timings (for evaluation and debugging).

        ``options`` (:class:`SearchOptions`, each ``None`` for the pipeline's own):
        ``fetch_k`` and ``top_n`` replace its sizes for this call; ``filter`` restricts
        stage 1; ``mode``, ``alpha`` and ``hybrid`` replace its stage-1 settings.
        """
        return plan.run(search_plan(self, query, options))

    async def arun(self, query: str, **options: Unpack[SearchOptions]) -> PipelineResult:
        """Async :meth:`run` (same arguments): stage 1 in the worker pool, stage 2 via the
        reranker's async path."""
        return await plan.arun(search_plan(self, query, options))

    def search(self, query: str, **options: Unpack[SearchOptions]) -> list[Hit]:
        """The final hits for ``query`` (arguments as in :meth:`run`)."""
        return plan.run(search_plan(self, query, options)).hits

    async def asearch(self, query: str, **options: Unpack[SearchOptions]) -> list[Hit]:
        """Async :meth:`search`."""
        return (await plan.arun(search_plan(self, query, options))).hits

    def _stage1(
        self, mode: str | None, alpha: float | None, hybrid: Fusion | str | None
    ) -> dict[str, Any]:
        """Index.search options for this call: per-call values win over the pipeline's."""
        return {
            "mode": mode if mode is not None else self.mode,
            "hybrid": hybrid_fusion(hybrid, alpha, None, default=self.hybrid),
        }

    def _sizes(self, fetch_k: int | None, top_n: int | None) -> tuple[int, int]:
        """Per-call sizes: ``None`` means the pipeline's own; anything else is validated
        (0 and negatives are errors, never "use the default")."""
        n_fetch = self.fetch_k if fetch_k is None else positive_int("fetch_k", fetch_k)
        n = self.top_n if top_n is None else positive_int("top_n", top_n)
        return n_fetch, _top_n(n, n_fetch)

    def __repr__(self) -> str:
        reranker = None if self.reranker is None else self.reranker.spec
        return (
            f"Pipeline({self.index!r}, reranker={reranker!r}, fetch_k={self.fetch_k}, "
            f"top_n={self.top_n}, fusion={None if self.fusion is None else str(self.fusion)!r}, "
            f"mode={self.mode!r}, hybrid={str(self.hybrid)!r})"
        )


class SearchOptions(TypedDict, total=False):
    """Per-call settings of :meth:`Pipeline.run` and its siblings (``None``: the pipeline's)."""

    fetch_k: int | None
    top_n: int | None
    filter: Filter | None
    mode: str | None
    alpha: float | None
    hybrid: Fusion | str | None


def search_plan(pipeline: Pipeline, query: str, options: SearchOptions) -> Plan[PipelineResult]:
    """Both stages for one query, as a plan (:mod:`shortlist.plan`) that every entry point
    runs: arguments are checked before anything is searched."""
    check_keywords("Pipeline.search", options, SearchOptions.__annotations__)
    n_fetch, n = pipeline._sizes(options.get("fetch_k"), options.get("top_n"))
    stage1 = pipeline._stage1(options.get("mode"), options.get("alpha"), options.get("hybrid"))
    search = functools.partial(
        pipeline.index.search, query, n_fetch, filter=options.get("filter"), **stage1
    )
    t0 = time.perf_counter()
    candidates: list[Hit] = yield Blocking(search)
    t1 = time.perf_counter()
    if pipeline.reranker is None:
        hits = candidates[:n]
    else:
        ranking = rerank_plan(
            pipeline.reranker,
            query,
            candidates,
            top_n=n,
            score_threshold=pipeline.score_threshold,
            fusion=pipeline.fusion,
            budget_ms=pipeline.rerank_budget_ms,
        )
        hits = [hit for _, hit in (yield from ranking)]
    return PipelineResult(hits, candidates, t1 - t0, time.perf_counter() - t1)


def _chain(
    reranker: Reranker | str | None,
    fallback: Reranker | str | Sequence[Reranker | str] | None,
    degraded: str | None,
) -> Reranker | None:
    """The pipeline's reranker: as given, or a fallback chain when asked for one."""
    if fallback is None and degraded is None:
        return None if reranker is None else as_reranker(reranker)
    if reranker is None:
        raise InvalidInputError(
            "fallback= and degraded= apply to a reranker; pass the primary reranker too."
        )
    from shortlist.rerank.fallback import FallbackReranker

    primary = as_reranker(reranker)
    members: list[Reranker | str] = (
        list(primary.members) if isinstance(primary, FallbackReranker) else [primary]
    )
    if fallback is not None:
        members += [fallback] if isinstance(fallback, str | Reranker) else list(fallback)
    if degraded is None and isinstance(primary, FallbackReranker):
        degraded = primary.degraded
    return FallbackReranker([as_reranker(m) for m in members], degraded=degraded or "stage1")


def _top_n(top_n: int, fetch_k: int) -> int:
    if top_n > fetch_k:
        raise InvalidInputError(
            f"top_n={top_n} exceeds fetch_k={fetch_k}: the pipeline can only return "
            f"candidates that stage 1 fetched. Raise fetch_k to at least {top_n}, or ask "
            f"for fewer results."
        )
    return top_n
