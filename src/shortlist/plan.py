"""Each behaviour written once, run by a sync and an async driver.

A behaviour that has both a sync and an async entry point (rerank a query's candidates,
run the funnel, an adapter's compress step) is written once, as a *plan*: a generator that
yields :class:`Step` objects where it must wait -- a backend's scores, a blocking stage-1
search, a framework callback that is a coroutine on the async side -- and receives each
step's result back. :func:`run` executes the steps inline (no event loop, no thread hop:
a sync call costs what the work costs); :func:`arun` awaits them (a natively async
backend such as Cohere's ``AsyncClientV2`` stays async; CPU work goes to the shared
worker pool). Exceptions raised by a step are thrown back into the plan at the ``yield``,
so ``try``/``except`` inside a plan -- a fallback chain, a budget's cut -- behaves the
same under both drivers; ``yield from`` composes plans.

Why generators rather than an async core with a sync wrapper: a sync driver for a
coroutine needs an event loop per call (cost, and it cannot run inside a running loop, as
in Jupyter); a plan needs neither.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from shortlist._executor import run_blocking

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Step(Protocol[T_co]):
    """One thing a plan waits for, with a sync and an async way to get it."""

    def run(self) -> T_co:
        """Do it now, on this thread."""
        ...

    def arun(self) -> Awaitable[T_co]:
        """Do it without blocking the event loop."""
        ...


Plan = Generator["Step[Any]", Any, T]
"""A behaviour: yields steps, receives their results, returns its own result."""


def run(plan: Plan[T]) -> T:
    """Execute ``plan`` synchronously: every step runs inline on this thread."""
    try:
        step = next(plan)
        while True:
            try:
                value = step.run()
            except BaseException as exc:  # into the plan, which may handle it
                step = plan.throw(exc)
            else:
                step = plan.send(value)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def arun(plan: Plan[T]) -> T:
    """Execute ``plan`` on the running event loop: every step is awaited."""
    try:
        step = next(plan)
        while True:
            try:
                value = await step.arun()
            except BaseException as exc:  # cancellation included: the plan cleans up
                step = plan.throw(exc)
            else:
                step = plan.send(value)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Blocking(Generic[T]):
    """CPU-bound work (FAISS, a tokenizer): inline when sync, in the worker pool when async."""

    fn: Callable[[], T]

    def run(self) -> T:
        return self.fn()

    async def arun(self) -> T:
        return await run_blocking(self.fn)


@dataclass(frozen=True)
class Value(Generic[T]):
    """A value that is awaitable only on the async side (a framework's async callback
    manager returns coroutines where its sync twin returns results): awaited there."""

    value: T | Awaitable[T]

    def run(self) -> T:
        if inspect.isawaitable(self.value):
            raise TypeError("an awaitable reached the sync driver; use the async entry point")
        return self.value

    async def arun(self) -> T:
        value = self.value
        return await value if inspect.isawaitable(value) else value
