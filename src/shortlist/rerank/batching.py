"""Concurrent score requests to one local model, computed one batch at a time.

The ONNX reranker already uses every core for one query (``threads`` single-threaded runs
at once). Eight users reranking at once would start eight such computations side by
side. Instead, every request (sync from any thread, or async) goes into this queue and one
dispatcher thread computes them: nothing runs beside the model, and a request waits no
longer than the work ahead of it (latency grows linearly with queue depth).

With ``combine`` (a backend whose batches gain from more rows, e.g. ONNX with
``batch_size`` > 1 on a GPU) everything waiting is computed as *one* batch, pairs of
several queries sharing the model's length-sorted batches. Without it (the CPU default,
where a pair's cost does not depend on its neighbours) requests are served one at a time in
arrival order, so the first in line is answered first instead of all at the end.

A lone caller is never delayed: the dispatcher takes a request the moment the model is
free, and a sync caller that finds the model idle and nobody waiting computes on its own
thread (:meth:`ScoreBatcher.call`), skipping the hop to the dispatcher and back.
``wait_ms`` (default 0) lets a combining dispatcher wait that long for companions, only
while several callers are active (the previous batch held more than one request).
Cancelled requests (an expired latency budget) are dropped before they are computed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

Request = tuple[str, list[str]]
"""(query, candidate texts)."""

IDLE_EXIT_S = 2.0
"""An idle dispatcher thread ends after this long (a new request starts another), so a
reranker that is no longer used is not kept alive by its thread."""


@dataclass(frozen=True)
class BatchStats:
    """What the batcher did: requests served, batches run, the largest batch (requests)."""

    requests: int
    batches: int
    largest: int

    @property
    def mean(self) -> float:
        """Requests per batch."""
        return self.requests / self.batches if self.batches else 0.0


@dataclass
class _Pending:
    request: Request
    future: Future[Any]


class ScoreBatcher:
    """Queue + one dispatcher thread in front of ``compute`` (requests -> one array each).

    ``compute`` scores several requests in one call; if it fails for a batch of several,
    each request is retried alone so that one bad request cannot fail its neighbours.
    """

    def __init__(
        self,
        compute: Callable[[list[Request]], Sequence[Any]],
        *,
        combine: bool = True,
        wait_ms: float = 0.0,
        max_pairs: int = 1024,
        name: str = "shortlist-batcher",
    ) -> None:
        self.compute = compute
        self.combine = combine
        self.wait_ms = float(wait_ms)
        self.max_pairs = int(max_pairs)
        self._name = name
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._crowded = False  # the previous batch held several requests
        self._busy = False  # the model is computing (the dispatcher's batch, or inline)
        self._requests = self._batches = self._largest = 0

    def submit(self, query: str, texts: list[str]) -> Future[Any]:
        """Queue one request; the future holds its scores (or the compute error)."""
        future: Future[Any] = Future()
        with self._ready:
            self._queue.append(_Pending((query, texts), future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name=self._name, daemon=True)
                self._thread.start()
            self._ready.notify()
        return future

    def call(self, query: str, texts: list[str]) -> Any:
        """A sync caller's request, answered: computed right here when the model is idle
        and nobody waits (no thread hop), else queued behind the others like any request."""
        with self._ready:
            inline = not self._busy and not self._queue
            if inline:
                self._busy = True
                self._counted(1)
        if not inline:
            return self.submit(query, texts).result()
        try:
            return self.compute([(query, texts)])[0]
        finally:
            with self._ready:
                self._busy = False
                self._ready.notify()  # requests that queued meanwhile go next

    def stats(self) -> BatchStats:
        """Counts since the batcher started."""
        with self._ready:
            return BatchStats(self._requests, self._batches, self._largest)

    def _serve(self) -> None:
        while (batch := self._next_batch()) is not None:
            if batch:
                try:
                    self._run(batch)
                finally:
                    with self._ready:
                        self._busy = False

    def _next_batch(self) -> list[_Pending] | None:
        """The next batch; [] when only cancelled requests were waiting; None: idle, end."""
        with self._ready:
            while not self._queue or self._busy:  # work, and the model free (not inline)
                if not self._ready.wait(IDLE_EXIT_S) and not self._queue:
                    self._thread = None  # submit() starts a new one, under this same lock
                    return None
            if self.combine and self.wait_ms > 0 and self._crowded:
                deadline = time.monotonic() + self.wait_ms / 1000
                while self._pairs_waiting() < self.max_pairs:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._ready.wait(left):
                        break
            batch: list[_Pending] = []
            pairs = 0
            room = self.max_pairs if self.combine else 0
            while self._queue and (not batch or pairs + self._head_size() <= room):
                item = self._queue.popleft()
                if item.future.set_running_or_notify_cancel():  # False: cancelled, drop it
                    batch.append(item)
                    pairs += len(item.request[1])
            self._crowded = len(batch) > 1 or bool(self._queue)
            if batch:
                self._busy = True
                self._counted(len(batch))
            return batch

    def _counted(self, requests: int) -> None:
        """One batch of ``requests`` is starting (call with the lock held)."""
        self._requests += requests
        self._batches += 1
        self._largest = max(self._largest, requests)

    def _head_size(self) -> int:
        return len(self._queue[0].request[1])

    def _pairs_waiting(self) -> int:
        return sum(len(p.request[1]) for p in self._queue)

    def _run(self, batch: list[_Pending]) -> None:
        try:
            results = self.compute([p.request for p in batch])
        except BaseException as exc:  # handed to the callers, never lost
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            logger.debug("batch of %d failed (%r); scoring each request alone", len(batch), exc)
            for item in batch:
                self._run_alone(item)
            return
        for item, scores in zip(batch, results, strict=True):
            item.future.set_result(scores)

    def _run_alone(self, item: _Pending) -> None:
        try:
            item.future.set_result(self.compute([item.request])[0])
        except BaseException as exc:
            item.future.set_exception(exc)
