"""The two-stage funnel: retrieve ``fetch_k`` candidates, rerank, keep the best ``top_n``.

Stage 2 is :meth:`Reranker.rerank_hits <shortlist.rerank.base.Reranker.rerank_hits>`,
the same path the framework adapters and evaluation take (:mod:`shortlist.rerank.ranking`),
so the three cannot drift apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from shortlist.documents import Hit
from shortlist.errors import InvalidInputError
from shortlist.index import Filter, Index
from shortlist.rerank.base import Reranker
from shortlist.rerank.fusion import Fusion


@dataclass(frozen=True)
class PipelineResult:
    """Hits plus what happened on the way: the stage-1 candidates and per-stage seconds."""

    hits: list[Hit]
    candidates: list[Hit]
    retrieve_seconds: float
    rerank_seconds: float


class Pipeline:
    """Index + optional reranker: retrieve ``fetch_k`` candidates, keep the best ``top_n``.

    ``reranker`` may be a :class:`Reranker` or a spec string for
    :func:`shortlist.load_reranker`. Without a reranker, the pipeline returns the
    top ``top_n`` retrieval hits.
    """

    def __init__(
        self,
        index: Index,
        reranker: Reranker | str | None = None,
        *,
        fetch_k: int = 100,
        top_n: int = 5,
        fusion: Fusion | str | None = None,
        score_threshold: float | None = None,
    ) -> None:
        if isinstance(reranker, str):
            from shortlist.rerank import load_reranker

            reranker = load_reranker(reranker)
        for name, value in (("fetch_k", fetch_k), ("top_n", top_n)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInputError(f"{name} must be a positive integer, got {value!r}.")
        self.index = index
        self.reranker = reranker
        self.fetch_k = fetch_k
        self.top_n = top_n
        self.fusion = Fusion.parse(fusion)
        self.score_threshold = score_threshold

    def run(
        self,
        query: str,
        *,
        fetch_k: int | None = None,
        top_n: int | None = None,
        filter: Filter | None = None,
    ) -> PipelineResult:
        """Both stages, with the candidates and timings (for evaluation and debugging)."""
        t0 = time.perf_counter()
        candidates = self.index.search(query, fetch_k or self.fetch_k, filter=filter)
        t1 = time.perf_counter()
        hits = self._finish(query, candidates, top_n)
        return PipelineResult(hits, candidates, t1 - t0, time.perf_counter() - t1)

    async def arun(
        self,
        query: str,
        *,
        fetch_k: int | None = None,
        top_n: int | None = None,
        filter: Filter | None = None,
    ) -> PipelineResult:
        """Async :meth:`run`: stage 1 in the worker pool, stage 2 via the reranker's async path."""
        t0 = time.perf_counter()
        candidates = await self.index.asearch(query, fetch_k or self.fetch_k, filter=filter)
        t1 = time.perf_counter()
        n = top_n or self.top_n
        if self.reranker is None:
            hits = candidates[:n]
        else:
            ranked = await self.reranker.arerank_hits(
                query,
                candidates,
                top_n=n,
                score_threshold=self.score_threshold,
                fusion=self.fusion,
            )
            hits = [hit for _, hit in ranked]
        return PipelineResult(hits, candidates, t1 - t0, time.perf_counter() - t1)

    def search(self, query: str, **kwargs: object) -> list[Hit]:
        """The final hits for ``query`` (see :meth:`run` for keyword arguments)."""
        return self.run(query, **kwargs).hits  # type: ignore[arg-type]

    async def asearch(self, query: str, **kwargs: object) -> list[Hit]:
        """Async :meth:`search`."""
        return (await self.arun(query, **kwargs)).hits  # type: ignore[arg-type]

    def _finish(self, query: str, candidates: list[Hit], top_n: int | None) -> list[Hit]:
        n = top_n or self.top_n
        if self.reranker is None:
            return candidates[:n]
        ranked = self.reranker.rerank_hits(
            query,
            candidates,
            top_n=n,
            score_threshold=self.score_threshold,
            fusion=self.fusion,
        )
        return [hit for _, hit in ranked]
