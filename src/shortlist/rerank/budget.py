"""Latency budgets for stage 2: a deadline the ranking loop and remote backends share.

``rerank_hits(..., budget_ms=...)`` scores candidates best-retrieval-first, one step at a
time, and starts no step once the deadline has passed; what is left keeps its retrieval
order below the reranked prefix. A local backend takes :data:`BUDGET_CHUNK` candidates per
step (a deadline is checked between steps). A remote one cannot be sliced that finely
without paying a round trip per slice, so it sets ``budget_chunk = None`` (one step for
everything) and reads :func:`seconds_left` instead: Cohere turns what is left of the
budget into its request timeout, so a slow reply costs the budget, not ``timeout``.

The deadline lives in a :class:`~contextvars.ContextVar`, not on the reranker, because one
reranker serves many concurrent queries, each with its own deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from shortlist._validate import finite_number
from shortlist.documents import STAGE1, Hit
from shortlist.rerank.ranking import RankOptions, rank_hits, stage1_hit

BUDGET_CHUNK = 8
"""Candidates a local backend scores per step under a budget."""


class BudgetSpent(TimeoutError):
    """The latency budget ran out while a request waited: the budget's cut, not a failure
    of the service (a fallback chain does not count it against the member)."""


_DEADLINE: ContextVar[float | None] = ContextVar("shortlist_rerank_deadline", default=None)


def deadline_after(budget_ms: float) -> float:
    """The ``time.monotonic()`` instant at which ``budget_ms`` (validated) is spent."""
    return time.monotonic() + finite_number("budget_ms", budget_ms, positive=True) / 1000.0


@contextmanager
def within(deadline: float) -> Iterator[None]:
    """Make ``deadline`` visible to the backend's scoring code while the block runs."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def seconds_left() -> float | None:
    """Seconds left of the current rerank call's budget (never below 1 ms); None: no budget."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.001)


def spent(deadline: float) -> bool:
    """Whether the budget is used up (a timeout raised now is the budget's, not an outage)."""
    return time.monotonic() >= deadline - _SLACK_S


_SLACK_S = 0.01
"""Timers fire a hair early; a timeout this close to the deadline is the deadline's."""


def rank_partial(
    items: list[Hit], parts: list[tuple[np.ndarray, str]], options: RankOptions
) -> list[tuple[int, Hit]]:
    """Rank the scored prefix of ``items``; the rest follow in retrieval order.

    Chunks scored by different backends (a fallback chain that switched mid-query) are
    not comparable: the prefix ends at the first chunk whose source differs.
    """
    scores: list[np.ndarray] = []
    source = parts[0][1] if parts else STAGE1
    for chunk_scores, chunk_source in parts:
        if chunk_source != source:
            break
        scores.append(chunk_scores)
    relevance = np.concatenate(scores) if scores else np.zeros(0, dtype=np.float64)
    m = len(relevance)
    ranked = rank_hits(
        items[:m],
        relevance,
        top_n=options.top_n,
        score_threshold=options.score_threshold,
        fusion=options.fusion,
        scored_by=source,
    )
    room = len(items) - m if options.top_n is None else options.top_n - len(ranked)
    rest = [
        (i, stage1_hit(h, i, len(ranked) + k))
        for k, (i, h) in enumerate(list(enumerate(items))[m : m + max(room, 0)], 1)
    ]
    return ranked + rest
