"""How a reranker's scores are obtained: the cache, then the batcher or the backend, once.

Every score request, from every entry point and both drivers (:mod:`shortlist.plan`),
is :func:`scores_plan`: look the pairs up in the optional
:class:`~shortlist.rerank.cache.ScoreCache`, compute what is missing with one
:class:`BackendCall` -- through the :class:`~shortlist.rerank.batching.ScoreBatcher` for
local models (``batched``), so concurrent callers queue instead of oversubscribing the
cores, else straight to the backend's ``_score``/``_ascore`` -- check the answer once, and
store it. A composite (:class:`~shortlist.rerank.fallback.FallbackReranker`) composes
the same plans of its members; backends only implement ``_score`` (and ``_ascore`` where
they are natively async).

A backend whose scores come from somewhere that can name a different producer (Ray Serve
replicas running a fallback chain) returns :class:`Sourced` instead of an array.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import ClassVar, NamedTuple, Protocol

import numpy as np

from shortlist.plan import Plan
from shortlist.rerank.batching import ScoreBatcher
from shortlist.rerank.budget import BudgetSpent, spent, within
from shortlist.rerank.cache import ScoreCache


class Sourced(NamedTuple):
    """Scores plus the spec of what produced them (a chain names the member that
    answered, or ``"stage1"``). Returned, never stored: concurrent calls cannot mix."""

    scores: np.ndarray
    source: str


class Reranker(Protocol):
    """What this module needs of a :class:`~shortlist.rerank.base.Reranker` (named here,
    not imported, so the base class can build on this module)."""

    backend: str
    batched: ClassVar[bool]
    batch_wait_ms: float
    batch_max_pairs: int
    _score_cache: ScoreCache | None
    _batcher: ScoreBatcher | None

    @property
    def spec(self) -> str: ...

    @property
    def combines_requests(self) -> bool: ...

    def _score(self, query: str, texts: list[str]) -> np.ndarray | Sourced: ...

    async def _ascore(self, query: str, texts: list[str]) -> np.ndarray | Sourced: ...

    def _score_many(
        self, requests: list[tuple[str, list[str]]]
    ) -> Sequence[np.ndarray | Sourced]: ...


@dataclass(frozen=True)
class BackendCall:
    """One request to a backend (via its batcher when it has one): the step that waits.

    Under a latency budget (``deadline``) the deadline is visible to the backend (Cohere
    turns it into its request timeout); the async side also stops waiting at it, which
    cancels a request still queued in the batcher, and raises :class:`BudgetSpent`.
    """

    reranker: Reranker
    query: str
    texts: list[str]
    deadline: float | None = None

    def run(self) -> Sourced:
        r = self.reranker
        with nullcontext() if self.deadline is None else within(self.deadline):
            return checked(r, _compute(r, self.query, self.texts), len(self.texts))

    async def arun(self) -> Sourced:
        r, deadline = self.reranker, self.deadline
        if deadline is None:
            return checked(r, await _acompute(r, self.query, self.texts), len(self.texts))
        with within(deadline):
            left = deadline - time.monotonic()
            if left <= 0:
                raise BudgetSpent("the latency budget was spent before this request")
            try:
                raw = await asyncio.wait_for(_acompute(r, self.query, self.texts), left)
            except TimeoutError as exc:
                if spent(deadline):
                    raise BudgetSpent("the latency budget ran out during this request") from exc
                raise
        return checked(r, raw, len(self.texts))


def scores_plan(
    reranker: Reranker, query: str, texts: list[str], deadline: float | None = None
) -> Plan[Sourced]:
    """The scores of (already validated) ``texts``: cache first, then one backend call."""
    cache = reranker._score_cache
    if cache is None:
        answer: Sourced = yield BackendCall(reranker, query, texts, deadline)
        return answer
    spec = reranker.spec
    found, missing = cache.lookup(spec, query, texts)
    if missing:
        todo = [texts[i] for i in missing]
        fresh: Sourced = yield BackendCall(reranker, query, todo, deadline)
        cache.store(spec, query, todo, fresh.scores)
        found[missing] = fresh.scores
    return Sourced(found, spec)


def checked(reranker: Reranker, result: np.ndarray | Sourced, n: int) -> Sourced:
    """A backend's answer as finite float64 scores, one per text: the one check."""
    raw, source = result if isinstance(result, Sourced) else (result, reranker.spec)
    arr = np.asarray(raw, dtype=np.float64).reshape(-1)
    if arr.shape[0] != n:
        raise RuntimeError(
            f"{type(reranker).__name__} returned {arr.shape[0]} scores for {n} texts "
            "(backend bug: every candidate must get exactly one score)."
        )
    if not np.all(np.isfinite(arr)):
        raise RuntimeError(f"{type(reranker).__name__} returned non-finite scores.")
    return Sourced(arr, source)


def _compute(reranker: Reranker, query: str, texts: list[str]) -> np.ndarray | Sourced:
    if not reranker.batched:
        return reranker._score(query, texts)
    answer: np.ndarray | Sourced = batcher(reranker).call(query, texts)
    return answer


async def _acompute(reranker: Reranker, query: str, texts: list[str]) -> np.ndarray | Sourced:
    if not reranker.batched:
        return await reranker._ascore(query, texts)
    # cancelling the await (a budget's deadline) cancels the request if still queued
    return await asyncio.wrap_future(batcher(reranker).submit(query, texts))


def batcher(reranker: Reranker) -> ScoreBatcher:
    """The reranker's batcher, started on first use (the lock only for that first use:
    this runs on every score request)."""
    if reranker._batcher is not None:
        return reranker._batcher
    with _BATCHER_LOCK:
        if reranker._batcher is None:
            reranker._batcher = ScoreBatcher(
                reranker._score_many,
                combine=reranker.combines_requests,
                wait_ms=reranker.batch_wait_ms,
                max_pairs=reranker.batch_max_pairs,
                name=f"shortlist-{reranker.backend}-batcher",
            )
        return reranker._batcher


_BATCHER_LOCK = threading.Lock()
