"""A chain of rerankers that always answers: fallback, a circuit breaker per member, and
a ``degraded`` policy for when every member fails.

``FallbackReranker([cohere, onnx])`` (or the spec ``"cohere:rerank-v3.5 | onnx:<dir>"``)
asks each member in turn; the first that answers scores the candidates. A member that
fails ``failure_threshold`` times in a row is skipped for ``reset_seconds`` (open
breaker), so an outage does not add timeout x retries to every query; afterwards one call
probes it (half-open) and its success closes the breaker. If every member fails,
``degraded="stage1"`` keeps the candidates in their stage-1 order (marked
``scored_by="stage1"``) and ``degraded="raise"`` re-raises the last member's error.

Only service failures fall through: :class:`~shortlist.errors.RerankerAPIError` (HTTP
errors, timeouts, rate limits, malformed replies) and transport errors. A request the API
rejects as invalid, or bad input of the caller's, still raises: the next member would
reject it too. Warnings are logged once per failure burst (when a member starts failing,
when its breaker opens, when the chain degrades), and once on recovery -- never per query.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from shortlist import plan
from shortlist._validate import finite_number, positive_int
from shortlist.documents import STAGE1
from shortlist.errors import InvalidInputError, RerankerAPIError
from shortlist.plan import Plan
from shortlist.rerank.base import Reranker
from shortlist.rerank.budget import BudgetSpent
from shortlist.rerank.cache import ScoreCache
from shortlist.rerank.scoring import Sourced

logger = logging.getLogger(__name__)

Degraded = Literal["stage1", "raise"]
"""What the chain does when every member fails."""

SEPARATOR = " | "
"""Joins the members' specs into the chain's spec (``load_reranker`` splits on ``|``)."""


def is_service_failure(exc: BaseException) -> bool:
    """True for failures of the service, which the next member may survive.

    An :class:`InvalidInputError` (the caller's input, or a request the API rejected as
    invalid) is not one: every member would fail on it the same way; nor is a spent
    latency budget (:class:`~shortlist.rerank.budget.BudgetSpent`), which is the caller's cut.
    """
    if isinstance(exc, InvalidInputError | BudgetSpent):
        return False
    return isinstance(exc, RerankerAPIError | TimeoutError | ConnectionError)


@dataclass
class _Breaker:
    """One member's circuit: consecutive failures, and until when it is skipped."""

    failures: int = 0
    open_until: float = 0.0
    probing: bool = False


def _state(b: _Breaker, threshold: int, now: float) -> str:
    if b.probing:
        return "half_open"
    return "open" if b.failures >= threshold and now < b.open_until else "closed"


class FallbackReranker(Reranker):
    """Rerankers tried in order; the first that answers scores the candidates.

    Args:
        members: the rerankers, primary first (a chain of spec strings is
            ``load_reranker("a | b")``).
        degraded: ``"stage1"`` (default) returns the candidates in stage-1 order when every
            member fails; ``"raise"`` raises the last error.
        failure_threshold: consecutive failures that open a member's breaker.
        reset_seconds: how long an open breaker skips its member before one probe call.
    """

    backend = "fallback"

    def __init__(
        self,
        members: Sequence[Reranker],
        *,
        degraded: str = "stage1",
        failure_threshold: int = 3,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(members, str | Reranker) or len(members) < 1:
            raise InvalidInputError(
                "FallbackReranker takes a list of rerankers, primary first, e.g. "
                "[CohereReranker(), OnnxReranker(path)]; for spec strings use "
                "load_reranker('cohere:rerank-v3.5 | onnx:<model dir>')."
            )
        for m in members:  # the registry builds members from specs; this module is below it
            if not isinstance(m, Reranker):
                raise InvalidInputError(
                    f"FallbackReranker members must be Reranker objects, got {m!r}; load spec "
                    "strings with load_reranker('a | b') or shortlist.rerank.as_reranker."
                )
        self.members = list(members)
        self.default_fusion = self.members[0].default_fusion if self.members else None
        if degraded not in get_args(Degraded):
            raise InvalidInputError(f"degraded must be 'stage1' or 'raise', got {degraded!r}.")
        self.degraded: Degraded = degraded  # type: ignore[assignment]
        self.failure_threshold = positive_int("failure_threshold", failure_threshold)
        self.reset_seconds = finite_number("reset_seconds", reset_seconds, positive=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers = [_Breaker() for _ in self.members]
        self._degraded_now = False

    @property
    def spec(self) -> str:
        """The members' specs joined by ``" | "`` (the policy options are not part of it)."""
        return SEPARATOR.join(m.spec for m in self.members)

    def __repr__(self) -> str:
        return (
            f"FallbackReranker({[m.spec for m in self.members]!r}, degraded={self.degraded!r}, "
            f"failure_threshold={self.failure_threshold}, reset_seconds={self.reset_seconds})"
        )

    def with_cache(self, cache: ScoreCache | int | None = 100_000) -> FallbackReranker:
        """Cache each member's own scores (one cache shared by all; keys name the member),
        never the stage-1 order a degraded answer falls back to."""
        shared = ScoreCache(cache) if isinstance(cache, int) else cache
        for member in self.members:
            member.with_cache(shared)
        self._score_cache = shared  # what cache_info() reports
        return self

    # -- scoring --------------------------------------------------------------------------

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        return plan.run(self._scores_plan(query, texts)).scores

    def _scores_plan(
        self, query: str, texts: list[str], deadline: float | None = None
    ) -> Plan[Sourced]:
        """Each admitted member's own plan (its cache and batcher), in order, until one
        answers; the same code for the sync and the async driver."""
        last: BaseException | None = None
        for i, member in enumerate(self.members):
            if not self._admit(i):
                continue
            try:
                result = yield from member._scores_plan(query, texts, deadline)
            except Exception as exc:
                if not is_service_failure(exc):
                    self._release(i)
                    raise
                self._failed(i, exc)
                last = exc
                continue
            except BaseException:  # cancelled (a deadline): neither success nor failure
                self._release(i)
                raise
            self._succeeded(i)
            return result
        return self._all_failed(len(texts), last)

    def _all_failed(self, n: int, last: BaseException | None) -> Sourced:
        with self._lock:
            entering = not self._degraded_now
            self._degraded_now = True
        if self.degraded == "raise":
            if last is not None:
                raise last
            raise RerankerAPIError(
                f"Every reranker in {self.spec!r} is failing (circuit breakers open); "
                "retry later, or use degraded='stage1' to keep the stage-1 order."
            )
        if entering:
            logger.warning(
                "All rerankers in %r failed (last error: %s); returning the stage-1 order "
                "until one recovers.",
                self.spec,
                last,
            )
        return Sourced(-np.arange(n, dtype=np.float64), STAGE1)

    # -- circuit breaker ------------------------------------------------------------------

    def breaker_states(self) -> list[tuple[str, str]]:
        """Each member's spec and breaker: ``"closed"`` (called), ``"half_open"`` (one
        probe call in flight) or ``"open"`` (skipped until ``reset_seconds`` pass); what a
        service reports on its metrics page."""
        now = self._clock()
        with self._lock:
            return [
                (member.spec, _state(b, self.failure_threshold, now))
                for member, b in zip(self.members, self._breakers, strict=True)
            ]

    def _admit(self, i: int) -> bool:
        """Whether member ``i`` may be called now (closed, or the one half-open probe)."""
        with self._lock:
            b = self._breakers[i]
            if b.failures < self.failure_threshold:
                return True
            if b.probing or self._clock() < b.open_until:
                return False
            b.probing = True  # half-open: this call is the probe
            return True

    def _release(self, i: int) -> None:
        """A call that neither failed nor succeeded (bad input) gives back the probe."""
        with self._lock:
            self._breakers[i].probing = False

    def _failed(self, i: int, exc: BaseException) -> None:
        with self._lock:
            b = self._breakers[i]
            b.failures += 1
            first = b.failures == 1
            opens = b.failures == self.failure_threshold or b.probing
            b.probing = False
            if b.failures >= self.failure_threshold:
                b.open_until = self._clock() + self.reset_seconds
        spec = self.members[i].spec
        if first:
            logger.warning("Reranker %r failed (%s); falling back to the next one.", spec, exc)
        if opens:
            logger.warning(
                "Reranker %r failed %d times in a row; skipping it for %gs.",
                spec,
                self.failure_threshold,
                self.reset_seconds,
            )

    def _succeeded(self, i: int) -> None:
        with self._lock:
            b = self._breakers[i]
            recovered = b.failures > 0
            b.failures, b.probing, b.open_until = 0, False, 0.0
            was_degraded, self._degraded_now = self._degraded_now, False
        if recovered:
            logger.warning("Reranker %r answers again.", self.members[i].spec)
        elif was_degraded:
            logger.warning("Reranker %r answers; the chain is no longer degraded.", self.spec)
