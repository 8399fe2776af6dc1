"""The two-stage funnel, and the one function that reranks candidates for every caller.

:func:`rerank_hits` is the single implementation of "score candidates, keep both scores,
optionally fuse, cut to top_n" -- the pipeline, the LangChain compressor and the
LlamaIndex postprocessor all call it, so the three cannot drift apart. The reranker
always scores ``Document.text`` (never metadata), whatever framework the candidates
came from.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shortlist.documents import RETRIEVAL_RANK_KEY, RETRIEVAL_SCORE_KEY, Document, Hit
from shortlist.errors import InvalidInputError
from shortlist.fusion import Fusion
from shortlist.index import Filter, Index
from shortlist.rerank.base import Reranker


def _inputs(hits: Sequence[Hit]) -> tuple[list[str], np.ndarray]:
    texts = [h.document.text for h in hits]
    retrieval = np.array(
        [
            h.retrieval_score if h.retrieval_score is not None else -float(i)
            for i, h in enumerate(hits)
        ],
        dtype=np.float64,
    )  # no retrieval score: input order stands in for it
    return texts, retrieval


def _assemble(
    hits: Sequence[Hit],
    relevance: np.ndarray,
    retrieval: np.ndarray,
    top_n: int | None,
    score_threshold: float | None,
    fusion: Fusion | None,
) -> list[tuple[int, Hit]]:
    final = fusion.fuse(retrieval, relevance) if fusion is not None else relevance
    order = np.argsort(-final, kind="stable")
    if score_threshold is not None:
        order = order[relevance[order] >= score_threshold]
    if top_n is not None:
        order = order[:top_n]
    out = []
    for rank, i in enumerate(order.tolist(), 1):
        h = hits[i]
        out.append(
            (
                i,
                Hit(
                    document=h.document,
                    score=float(final[i]),
                    rank=rank,
                    retrieval_score=h.retrieval_score,
                    retrieval_rank=h.retrieval_rank if h.retrieval_rank is not None else i + 1,
                    relevance_score=float(relevance[i]),
                ),
            )
        )
    return out


def _check(top_n: int | None) -> None:
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidInputError(f"top_n must be a positive integer or None, got {top_n!r}.")


def rerank_indexed(
    reranker: Reranker,
    query: str,
    hits: Sequence[Hit],
    *,
    top_n: int | None = None,
    score_threshold: float | None = None,
    fusion: Fusion | str | None = None,
) -> list[tuple[int, Hit]]:
    """Rerank candidate hits; returns (input position, reranked hit) pairs, best first.

    Results carry relevance, retrieval and final scores. ``score_threshold`` applies to
    the reranker's relevance score; ``fusion`` (see :mod:`shortlist.fusion`) decides the
    final order and ``Hit.score``. Adapters use the positions to copy their own objects.
    """
    _check(top_n)
    texts, retrieval = _inputs(hits)
    relevance = reranker.score(query, texts)
    return _assemble(hits, relevance, retrieval, top_n, score_threshold, Fusion.parse(fusion))


async def arerank_indexed(
    reranker: Reranker,
    query: str,
    hits: Sequence[Hit],
    *,
    top_n: int | None = None,
    score_threshold: float | None = None,
    fusion: Fusion | str | None = None,
) -> list[tuple[int, Hit]]:
    """Async :func:`rerank_indexed` (uses the reranker's native async path)."""
    _check(top_n)
    texts, retrieval = _inputs(hits)
    relevance = await reranker.ascore(query, texts)
    return _assemble(hits, relevance, retrieval, top_n, score_threshold, Fusion.parse(fusion))


def rerank_hits(
    reranker: Reranker, query: str, hits: Sequence[Hit], **options: object
) -> list[Hit]:
    """:func:`rerank_indexed` without the positions."""
    return [h for _, h in rerank_indexed(reranker, query, hits, **options)]  # type: ignore[arg-type]


async def arerank_hits(
    reranker: Reranker, query: str, hits: Sequence[Hit], **options: object
) -> list[Hit]:
    """Async :func:`rerank_hits`."""
    return [h for _, h in await arerank_indexed(reranker, query, hits, **options)]  # type: ignore[arg-type]


def candidate(
    position: int,
    text: str,
    *,
    id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    retrieval_score: float | None = None,
) -> Hit:
    """Wrap a framework's document as a stage-1 Hit so it can go through :func:`rerank_indexed`.

    A retrieval score or rank that an upstream shortlist retriever stored in metadata is
    picked up, so the reranked output keeps reporting it.
    """
    meta = dict(metadata or {})
    if retrieval_score is None and isinstance(meta.get(RETRIEVAL_SCORE_KEY), int | float):
        retrieval_score = float(meta[RETRIEVAL_SCORE_KEY])
    rank = meta.get(RETRIEVAL_RANK_KEY)
    return Hit(
        document=Document(id=id or f"#{position}", text=text, metadata=meta),
        score=retrieval_score if retrieval_score is not None else 0.0,
        rank=position + 1,
        retrieval_score=retrieval_score,
        retrieval_rank=rank if isinstance(rank, int) else position + 1,
    )


def retrieve(
    source: Index | Pipeline, query: str, k: int, *, filter: Filter | None = None
) -> list[Hit]:
    """What a framework retriever returns: ``k`` hits from an index, or a pipeline's output."""
    if isinstance(source, Pipeline):
        return source.search(query, top_n=k, filter=filter)
    return source.search(query, k, filter=filter)


async def aretrieve(
    source: Index | Pipeline, query: str, k: int, *, filter: Filter | None = None
) -> list[Hit]:
    """Async :func:`retrieve`."""
    if isinstance(source, Pipeline):
        return await source.asearch(query, top_n=k, filter=filter)
    return await source.asearch(query, k, filter=filter)


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
            hits = _retrieval_only(candidates, n)
        else:
            hits = await arerank_hits(
                self.reranker,
                query,
                candidates,
                top_n=n,
                score_threshold=self.score_threshold,
                fusion=self.fusion,
            )
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
            return _retrieval_only(candidates, n)
        return rerank_hits(
            self.reranker,
            query,
            candidates,
            top_n=n,
            score_threshold=self.score_threshold,
            fusion=self.fusion,
        )


def _retrieval_only(candidates: list[Hit], top_n: int) -> list[Hit]:
    return candidates[:top_n]
