"""One behaviour, two drivers: plans run the same under ``plan.run`` and ``plan.arun``."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from shortlist import plan
from shortlist.documents import Document, Hit
from shortlist.plan import Blocking, Plan, Value
from shortlist.rerank.base import Reranker
from shortlist.rerank.budget import BudgetSpent
from shortlist.rerank.fallback import FallbackReranker, is_service_failure


def _adds(a: int, b: int) -> Plan[int]:
    first: int = yield Blocking(lambda: a)
    try:
        second: int = yield Value(_fails() if b < 0 else b)
    except ValueError:
        second = 0  # a failed step is thrown back in at its yield, under both drivers
    return first + second


def _fails() -> int:
    raise ValueError("step failed")


async def _awaitable(x: int) -> int:
    await asyncio.sleep(0)
    return x


def test_both_drivers_give_the_same_answers() -> None:
    assert plan.run(_adds(2, 3)) == 5
    assert asyncio.run(plan.arun(_adds(2, 3))) == 5


def test_a_step_that_raises_is_thrown_into_the_plan() -> None:
    def failing_step() -> Plan[int]:
        try:
            yield Blocking(_fails)
        except ValueError as exc:
            return len(str(exc))
        return -1

    assert plan.run(failing_step()) == len("step failed")
    assert asyncio.run(plan.arun(failing_step())) == len("step failed")


def test_the_async_driver_awaits_what_the_sync_one_gets_directly() -> None:
    def twice(value: object) -> Plan[int]:
        got: int = yield Value(value)
        return got * 2

    assert plan.run(twice(4)) == 8
    assert asyncio.run(plan.arun(twice(_awaitable(4)))) == 8
    coroutine = _awaitable(4)
    with pytest.raises(TypeError, match="async entry point"):
        plan.run(twice(coroutine))
    coroutine.close()


def test_blocking_steps_leave_the_event_loop_free() -> None:
    loop_thread: list[int] = []

    def where() -> int:
        return threading.get_ident()

    async def main() -> int:
        loop_thread.append(threading.get_ident())
        return await plan.arun(_one(Blocking(where)))

    assert asyncio.run(main()) != loop_thread[0]


def _one(step: Blocking[int]) -> Plan[int]:
    value: int = yield step
    return value


class Words(Reranker):
    backend = "words"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        return np.array([float(len(set(query.split()) & set(t.split()))) for t in texts])


HITS = [
    Hit(document=Document(id=str(i), text=t), score=1.0 - i / 10, rank=i + 1)
    for i, t in enumerate(["a b c", "a", "x y", "a b"])
]


def test_the_sync_api_runs_inside_a_running_event_loop() -> None:
    """As in Jupyter: the sync path needs no event loop of its own."""

    async def inside() -> list[str]:
        return [h.document.id for _, h in Words().rerank_hits("a b c", HITS)]

    assert asyncio.run(inside()) == ["0", "3", "1", "2"]


def test_sync_and_async_rerank_agree() -> None:
    words = Words()
    sync = [(i, h.score) for i, h in words.rerank_hits("a b", HITS, top_n=3)]
    async_ = [(i, h.score) for i, h in asyncio.run(words.arerank_hits("a b", HITS, top_n=3))]
    assert sync == async_


def test_a_spent_budget_is_not_a_service_failure() -> None:
    assert not is_service_failure(BudgetSpent("spent"))
    assert is_service_failure(TimeoutError("service timed out"))


def test_scores_are_checked_once_whatever_the_entry_point() -> None:
    class Short(Words):
        def _score(self, query: str, texts: list[str]) -> np.ndarray:
            return np.zeros(len(texts) - 1)

    chain = FallbackReranker([Short()])
    for call in (
        lambda: Short().score("a", ["a", "b"]),
        lambda: asyncio.run(Short().ascore("a", ["a", "b"])),
        lambda: chain.rerank("a", ["a", "b"]),
    ):
        with pytest.raises(RuntimeError, match="returned 1 scores for 2 texts"):
            call()
