"""Measure how long the event loop stalls while a coroutine runs (for "never blocks" tests).

Counting ticks of a 1 ms ticker depends on the machine's speed; the longest gap between
two ticks does not: a loop blocked by synchronous work stalls for that work's duration,
a free loop only for scheduling noise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def max_loop_lag(awaitable: Awaitable[T], interval: float = 0.001) -> tuple[T, float]:
    """Await ``awaitable``; return its result and the loop's longest stall meanwhile (s)."""
    stop = asyncio.Event()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(interval)
            now = time.perf_counter()
            worst = max(worst, now - last - interval)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # let the ticker start before the work does
    try:
        result = await awaitable
    finally:
        stop.set()
        await task
    return result, worst
