"""The reranker interface every backend implements (template method).

``rerank``/``rerank_hits`` (and their async twins) validate input, ask the backend for one
score per text, and hand the scores to :mod:`shortlist.rerank.ranking`, which sorts stably
(ties keep input order), fuses, applies ``score_threshold`` and cuts to ``top_n``. Backends
implement only ``_score`` (and ``_ascore`` when they have a native async path, as Cohere
does), plus ``spec`` so that ``load_reranker(r.spec)`` rebuilds them.
Scores are higher-is-better; local backends default to sigmoid probabilities in 0..1 so
that swapping a local model for Cohere does not change the score scale.

Every score request, from every entry point, goes through one path
(:meth:`Reranker._score_with_source` -> :meth:`Reranker._compute`): the optional
:class:`~shortlist.rerank.cache.ScoreCache` first, then, for local models (``batched``),
the :class:`~shortlist.rerank.batching.ScoreBatcher` that keeps concurrent callers from
oversubscribing the cores, then the backend.
"""

from __future__ import annotations

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from shortlist._executor import run_blocking
from shortlist.documents import STAGE1, Hit, clean_text
from shortlist.errors import InvalidInputError
from shortlist.rerank.batching import BatchStats, Request, ScoreBatcher
from shortlist.rerank.budget import BUDGET_CHUNK, deadline_after, rank_partial, spent, within
from shortlist.rerank.cache import CacheInfo, ScoreCache
from shortlist.rerank.fusion import Fusion
from shortlist.rerank.ranking import RankOptions, RerankResult, rank_hits, select

Activation = Literal["sigmoid", "none"]
"""What local backends do with the model's logit: ``"sigmoid"`` (0..1) or ``"none"`` (raw)."""


def check_activation(activation: str) -> Activation:
    """Validate an ``activation`` option early, at construction, not at the first query."""
    if activation not in get_args(Activation):
        raise InvalidInputError(f"activation must be 'sigmoid' or 'none', got {activation!r}.")
    return activation  # type: ignore[return-value]


def apply_activation(logits: np.ndarray, activation: Activation) -> np.ndarray:
    """Map raw logits to scores explicitly, instead of trusting a model's stored default.

    The sigmoid is computed in float64 in a form that cannot overflow for large |logit|.
    """
    x = np.asarray(logits, dtype=np.float64)
    if activation == "none":
        return x
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def format_spec(backend: str, model: str, options: dict[str, object | None]) -> str:
    """``"backend:model?name=value&..."``, the inverse of ``load_reranker``'s parser.

    ``None`` options are left out (the backend's default applies on reload).
    """
    rendered = {
        k: ("true" if v else "false") if isinstance(v, bool) else str(v)
        for k, v in options.items()
        if v is not None
    }
    query = "&".join(f"{k}={v}" for k, v in rendered.items())
    return f"{backend}:{model}" + (f"?{query}" if query else "")


class Reranker(ABC):
    """Scores (query, text) pairs; subclasses implement :meth:`_score`.

    Two entry points share one ranking path (:mod:`shortlist.rerank.ranking`):
    :meth:`rerank` for plain texts and :meth:`rerank_hits` for stage-1 hits, which keeps
    their retrieval scores and can fuse with them.
    """

    #: short backend name used in specs and logs, e.g. ``"onnx"``
    backend: str = "base"

    #: what ``fusion="auto"`` fuses this reranker's scores with over shortlist's own
    #: candidates (:func:`shortlist.funnel.resolve_fusion`); ``None``: its own order
    default_fusion: str | None = None

    #: candidates scored per step under a latency budget; None: all in one step (a remote
    #: backend, which bounds the step itself with :func:`~shortlist.rerank.budget.seconds_left`)
    budget_chunk: int | None = BUDGET_CHUNK

    #: a local model that uses every core per call: concurrent requests queue
    #: (:mod:`shortlist.rerank.batching`); remote backends stay concurrent
    batched: ClassVar[bool] = False

    #: how long the batcher may wait for companions while several callers are active
    batch_wait_ms: float = 0.0

    #: most pairs computed in one batch (a single larger request still runs whole)
    batch_max_pairs: int = 1024

    _score_cache: ScoreCache | None = None
    _batcher: ScoreBatcher | None = None

    @property
    def spec(self) -> str:
        """This reranker as a :func:`~shortlist.rerank.load_reranker` spec.

        Backends override it to name the model as the user gave it plus every option that
        changes scores, so ``load_reranker(r.spec)`` reproduces ``r``'s scores; traces,
        LlamaIndex events, serialised adapters and evaluation labels all use it. This
        default names only the backend.
        """
        return self.backend

    @classmethod
    def preflight(cls, options: Mapping[str, Any]) -> None:
        """Raise now what building with ``options`` would raise only after loading a model.

        ``options`` are the constructor's keyword arguments. A backend checks what is
        cheap -- an API key, where the model lives, option values -- without importing its
        runtime or reading weights, so a command line rejects a typo in milliseconds
        instead of after the index and models load. The default checks nothing.
        """
        return None

    def rerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
        fusion: Fusion | str | None = None,
    ) -> list[RerankResult]:
        """The best ``top_n`` texts as (input position, final score), best first.

        ``score_threshold`` applies to the relevance score. With ``fusion`` the input
        order stands in for the retrieval ranking, and the final score is the fused one.
        """
        options = RankOptions.of(top_n, score_threshold, fusion)  # fail before scoring
        return select(
            self.score(query, texts),
            top_n=options.top_n,
            score_threshold=options.score_threshold,
            fusion=options.fusion,
        )

    async def arerank(
        self,
        query: str,
        texts: Sequence[str],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
        fusion: Fusion | str | None = None,
    ) -> list[RerankResult]:
        """Async :meth:`rerank`: never blocks the event loop."""
        options = RankOptions.of(top_n, score_threshold, fusion)
        return select(
            await self.ascore(query, texts),
            top_n=options.top_n,
            score_threshold=options.score_threshold,
            fusion=options.fusion,
        )

    def rerank_hits(
        self,
        query: str,
        hits: Sequence[Hit],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
        fusion: Fusion | str | None = None,
        budget_ms: float | None = None,
    ) -> list[tuple[int, Hit]]:
        """Rerank stage-1 hits: (input position, reranked hit) pairs, best first.

        The reranker scores ``hit.document.text``. Output hits keep the retrieval score
        and rank and gain ``relevance_score`` (and ``fused_score`` with ``fusion``, which
        fuses with the hits' retrieval scores, or their ranks when a score is missing);
        ``score`` is the final score. The positions let a caller map results back to its
        own objects (the framework adapters copy their documents with them).

        ``budget_ms`` bounds the time spent scoring: candidates are scored in input
        (retrieval) order, :attr:`budget_chunk` at a time, and no new chunk starts once
        the budget is spent; the candidates left unscored keep their retrieval order below
        the reranked ones, marked ``scored_by="stage1"``. The sync path cannot interrupt a
        local chunk in flight, so it may overrun by one chunk's time; the async path
        cancels the wait at the deadline. A remote backend (Cohere) sends every candidate
        at once with what is left of the budget as its request timeout
        (:mod:`shortlist.rerank.budget`).
        """
        options = RankOptions.of(top_n, score_threshold, fusion)
        items = _check_hits(hits)
        query, texts = _validate(query, [h.document.text for h in items])
        if budget_ms is not None:
            deadline = deadline_after(budget_ms)
            parts: list[tuple[np.ndarray, str]] = []
            with within(deadline):
                for chunk in self._budget_steps(texts):
                    if spent(deadline):
                        break
                    try:
                        result = self._score_with_source(query, chunk)
                    except TimeoutError:
                        if not spent(deadline):
                            raise
                        break  # the request timed out with the budget: the budget's cut
                    parts.append(self._checked_source(result, len(chunk)))
            return rank_partial(items, parts, options)
        relevance, source = self._checked_source(
            self._score_with_source(query, texts) if texts else _EMPTY, len(texts)
        )
        return rank_hits(
            items,
            relevance,
            top_n=options.top_n,
            score_threshold=options.score_threshold,
            fusion=options.fusion,
            scored_by=source,
        )

    async def arerank_hits(
        self,
        query: str,
        hits: Sequence[Hit],
        *,
        top_n: int | None = None,
        score_threshold: float | None = None,
        fusion: Fusion | str | None = None,
        budget_ms: float | None = None,
    ) -> list[tuple[int, Hit]]:
        """Async :meth:`rerank_hits` (the backend's native async path)."""
        options = RankOptions.of(top_n, score_threshold, fusion)
        items = _check_hits(hits)
        query, texts = _validate(query, [h.document.text for h in items])
        if budget_ms is not None:
            deadline = deadline_after(budget_ms)
            parts: list[tuple[np.ndarray, str]] = []
            with within(deadline):
                for chunk in self._budget_steps(texts):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        result = await asyncio.wait_for(
                            self._ascore_with_source(query, chunk), left
                        )
                    except TimeoutError:
                        if not spent(deadline):
                            raise
                        break
                    parts.append(self._checked_source(result, len(chunk)))
            return rank_partial(items, parts, options)
        relevance, source = self._checked_source(
            await self._ascore_with_source(query, texts) if texts else _EMPTY, len(texts)
        )
        return rank_hits(
            items,
            relevance,
            top_n=options.top_n,
            score_threshold=options.score_threshold,
            fusion=options.fusion,
            scored_by=source,
        )

    def _budget_steps(self, texts: list[str]) -> list[list[str]]:
        step = self.budget_chunk or max(len(texts), 1)
        return [texts[i : i + step] for i in range(0, len(texts), step)]

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text, in input order (no sorting, no cut)."""
        query, texts = _validate(query, texts)
        if not texts:
            return np.zeros(0, dtype=np.float64)
        return self._checked(self._score_with_source(query, texts)[0], len(texts))

    async def ascore(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Async :meth:`score`."""
        query, texts = _validate(query, texts)
        if not texts:
            return np.zeros(0, dtype=np.float64)
        return self._checked((await self._ascore_with_source(query, texts))[0], len(texts))

    # -- cache and batching -----------------------------------------------------------------

    def with_cache(self, cache: ScoreCache | int | None = 100_000) -> Reranker:
        """Keep scores of (query, text) pairs seen before, so repeats are not rescored.

        ``cache`` is a :class:`~shortlist.rerank.cache.ScoreCache` (share one between
        rerankers: keys include the spec), a pair count for a new one, or None to stop
        caching. Returns ``self``, so ``load_reranker(spec).with_cache(10_000)`` reads well.
        """
        self._score_cache = ScoreCache(cache) if isinstance(cache, int) else cache
        return self

    def cache_info(self) -> CacheInfo | None:
        """Hits, misses (in pairs) and size of this reranker's cache; None when off."""
        return self._score_cache.info() if self._score_cache is not None else None

    def batch_stats(self) -> BatchStats:
        """Requests served and batches run by the batcher (all zero for remote backends)."""
        batcher = self._batcher
        return batcher.stats() if batcher is not None else BatchStats(0, 0, 0)

    @property
    def combines_requests(self) -> bool:
        """Whether queued requests are computed as one batch (see :attr:`batched`): only
        where more rows per model batch raise throughput. Default: one at a time."""
        return False

    def _score_many(self, requests: list[Request]) -> list[np.ndarray]:
        """Score several requests in one go (the batcher's unit). Backends that can share
        their model's batches across queries override this; the default runs each."""
        return [self._score(query, texts) for query, texts in requests]

    def _compute(self, query: str, texts: list[str]) -> np.ndarray:
        """Cache, then batcher (local models) or the backend: every sync score lands here."""
        cache = self._score_cache
        if cache is None:
            return self._compute_uncached(query, texts)
        found, missing = cache.lookup(self.spec, query, texts)
        if missing:
            todo = [texts[i] for i in missing]
            scores = self._checked(self._compute_uncached(query, todo), len(todo))
            cache.store(self.spec, query, todo, scores)
            found[missing] = scores
        return found

    async def _acompute(self, query: str, texts: list[str]) -> np.ndarray:
        """Async :meth:`_compute`: the batcher's future is awaited, no pool thread held."""
        cache = self._score_cache
        if cache is None:
            return await self._acompute_uncached(query, texts)
        found, missing = cache.lookup(self.spec, query, texts)
        if missing:
            todo = [texts[i] for i in missing]
            scores = self._checked(await self._acompute_uncached(query, todo), len(todo))
            cache.store(self.spec, query, todo, scores)
            found[missing] = scores
        return found

    def _compute_uncached(self, query: str, texts: list[str]) -> np.ndarray:
        if not self.batched:
            return self._score(query, texts)
        return self._batch_queue().submit(query, texts).result()

    async def _acompute_uncached(self, query: str, texts: list[str]) -> np.ndarray:
        if not self.batched:
            return await self._ascore(query, texts)
        # cancelling the await (a budget's deadline) cancels the request if still queued
        return await asyncio.wrap_future(self._batch_queue().submit(query, texts))

    def _batch_queue(self) -> ScoreBatcher:
        with _BATCHER_LOCK:
            if self._batcher is None:
                self._batcher = ScoreBatcher(
                    self._score_many,
                    combine=self.combines_requests,
                    wait_ms=self.batch_wait_ms,
                    max_pairs=self.batch_max_pairs,
                    name=f"shortlist-{self.backend}-batcher",
                )
            return self._batcher

    @abstractmethod
    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        """Score every text against the query; return a float array of ``len(texts)``."""

    async def _ascore(self, query: str, texts: list[str]) -> np.ndarray:
        """Default async path: the CPU-bound ``_score`` in the shared bounded executor."""
        return await run_blocking(self._score, query, texts)

    def _score_with_source(self, query: str, texts: list[str]) -> tuple[np.ndarray, str]:
        """Scores plus the spec of what produced them (a chain names the member that
        answered, or ``"stage1"``). Returned, not stored: concurrent calls cannot mix."""
        return self._compute(query, texts), self.spec

    async def _ascore_with_source(self, query: str, texts: list[str]) -> tuple[np.ndarray, str]:
        """Async :meth:`_score_with_source`."""
        return await self._acompute(query, texts), self.spec

    def _checked_source(self, result: tuple[np.ndarray, str], n: int) -> tuple[np.ndarray, str]:
        return self._checked(result[0], n), result[1]

    def _checked(self, scores: np.ndarray, n: int) -> np.ndarray:
        arr = np.asarray(scores, dtype=np.float64).reshape(-1)
        if arr.shape[0] != n:
            raise RuntimeError(
                f"{type(self).__name__} returned {arr.shape[0]} scores for {n} texts "
                "(backend bug: every candidate must get exactly one score)."
            )
        if not np.all(np.isfinite(arr)):
            raise RuntimeError(f"{type(self).__name__} returned non-finite scores.")
        return arr


_EMPTY: tuple[np.ndarray, str] = (np.zeros(0, dtype=np.float64), STAGE1)
_BATCHER_LOCK = threading.Lock()


def _validate(query: str, texts: Sequence[str]) -> tuple[str, list[str]]:
    """The query and texts, checked; lone surrogates replaced (see ``clean_text``)."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInputError("query must be a non-empty string.")
    if isinstance(texts, str):
        raise InvalidInputError("texts must be a sequence of strings, not a single string.")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise InvalidInputError(
                f"texts[{i}] is a {type(t).__name__}; every candidate must be a str."
            )
    return clean_text(query), [clean_text(t) for t in out]


def _check_hits(hits: Sequence[Hit]) -> list[Hit]:
    if isinstance(hits, Hit | str) or not isinstance(hits, Sequence):
        raise InvalidInputError("hits must be a sequence of shortlist Hits.")
    out = list(hits)
    for i, h in enumerate(out):
        if not isinstance(h, Hit):
            raise InvalidInputError(
                f"hits[{i}] is a {type(h).__name__}; every candidate must be a shortlist Hit."
            )
    return out
