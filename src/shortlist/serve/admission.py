"""How many requests run at once, and what happens to the rest: a bounded FIFO queue.

Up to ``max_concurrency`` requests are handled at once (for a local model they then queue
in its batcher, which computes them back to back or as one batch). Beyond that, up to
``max_queue`` wait here in arrival order; one more is refused at once with 429 (nothing
is buffered for it), and one that waits ``queue_timeout_s`` gets 503. Memory is bounded by
``max_concurrency + max_queue`` requests of at most ``max_body_bytes`` each.

Everything runs on the event loop's thread, so the counters need no lock; a slot freed as
a waiter times out is handed on, never lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from shortlist.serve.problems import Problem


class Admission:
    """A concurrency limit with a bounded, timed wait queue (see the module docstring)."""

    def __init__(self, max_concurrency: int, max_queue: int, queue_timeout_s: float) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue = max_queue
        self.queue_timeout_s = queue_timeout_s
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return sum(1 for w in self._waiters if not w.done())

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block; raise a 429/503 :class:`Problem` if none comes."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()

    async def _acquire(self) -> None:
        if self.active < self.max_concurrency and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.max_queue:
            raise Problem(
                429,
                f"Server busy: {self.active} requests running and {len(self._waiters)} "
                "waiting (the queue is full). Retry later.",
                "queue_full",
                {"Retry-After": "1"},
            )
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.queue_timeout_s)
        except BaseException as exc:
            self._abandon(waiter)
            if isinstance(exc, asyncio.TimeoutError):
                raise Problem(
                    503,
                    f"Server busy: no slot within {self.queue_timeout_s:g}s. Retry later.",
                    "queue_timeout",
                    {"Retry-After": "1"},
                ) from None
            raise

    def _abandon(self, waiter: asyncio.Future[None]) -> None:
        """A waiter gave up (timeout, client gone): if it was granted a slot meanwhile,
        pass the slot on; else leave the queue."""
        if waiter.done() and not waiter.cancelled():
            self._release()
            return
        waiter.cancel()
        with suppress(ValueError):
            self._waiters.remove(waiter)

    def _release(self) -> None:
        """Hand the slot to the first live waiter, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot moves over; ``active`` is unchanged
                return
        self.active -= 1
