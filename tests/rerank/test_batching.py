"""Concurrent callers share one local model through the batcher: same scores as alone,
batches formed, nothing lost when a request fails or is cancelled."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from shortlist.rerank import batching
from shortlist.rerank.batching import Request, ScoreBatcher
from shortlist.rerank.onnx import OnnxReranker
from tests.rerank.conftest import QUERY, TEXTS


def _lengths(requests: list[Request]) -> list[np.ndarray]:
    """A stand-in model: each text's score is its length plus the query's."""
    return [np.array([len(q) + len(t) for t in texts], dtype=float) for q, texts in requests]


class _Held:
    """A compute function that holds every batch until the test releases it.

    ``busy`` is set once the dispatcher is inside a batch, so a test knows that requests
    it submits next queue behind that batch: ordering by events, not by sleeping.
    """

    def __init__(self, record: list[list[str]] | None = None, fail_on: str | None = None):
        self.busy = threading.Event()
        self.gate = threading.Event()
        self.record = record if record is not None else []
        self.fail_on = fail_on

    def __call__(self, requests: list[Request]) -> list[np.ndarray]:
        self.busy.set()
        assert self.gate.wait(5), "the test never released the batch"
        self.record.append([q for q, _ in requests])
        if self.fail_on is not None and any(q == self.fail_on for q, _ in requests):
            raise ValueError("this query breaks the model")
        return _lengths(requests)

    def hold_first(self, batcher: ScoreBatcher, query: str, texts: list[str]) -> Any:
        """Submit one request and return once the dispatcher is busy with it."""
        future = batcher.submit(query, texts)
        assert self.busy.wait(5), "the dispatcher never started the first batch"
        return future


def test_concurrent_requests_are_batched_and_each_gets_its_own_scores() -> None:
    held = _Held()
    batcher = ScoreBatcher(held)
    asks = [(f"q{i}" * (i + 1), [f"t{j}" * j for j in range(i + 1)]) for i in range(8)]
    futures = [held.hold_first(batcher, *asks[0])]
    futures += [batcher.submit(q, t) for q, t in asks[1:]]  # queue behind the held batch
    held.gate.set()
    for (q, texts), future in zip(asks, futures, strict=True):
        np.testing.assert_array_equal(future.result(5), _lengths([(q, texts)])[0])
    assert [len(b) for b in held.record] == [1, 7]  # the seven that waited went as one batch
    stats = batcher.stats()
    assert (stats.requests, stats.batches, stats.largest) == (8, 2, 7)


def test_without_combining_requests_are_served_one_at_a_time_in_order() -> None:
    held = _Held()
    batcher = ScoreBatcher(held, combine=False, wait_ms=5_000)
    first = held.hold_first(batcher, "q0", ["a"])
    rest = [batcher.submit(f"q{i}", ["a"]) for i in range(1, 5)]
    held.gate.set()
    for future in [first, *rest]:
        future.result(5)
    assert held.record == [["q0"], ["q1"], ["q2"], ["q3"], ["q4"]]  # arrival order, no wait


def test_a_failing_request_does_not_fail_its_batch() -> None:
    held = _Held(fail_on="bad")
    batcher = ScoreBatcher(held)
    first = held.hold_first(batcher, "a", ["x"])
    good, bad, other = (batcher.submit(q, ["yy"]) for q in ("b", "bad", "c"))
    held.gate.set()
    assert first.result(5).tolist() == [2.0]
    assert good.result(5).tolist() == [3.0] and other.result(5).tolist() == [3.0]
    with pytest.raises(ValueError, match="breaks the model"):
        bad.result(5)
    assert ["b", "bad", "c"] in held.record  # they did share a batch, which then split


def test_a_cancelled_request_is_never_computed() -> None:
    held = _Held()
    batcher = ScoreBatcher(held)
    running = held.hold_first(batcher, "running", ["x"])
    dropped = batcher.submit("dropped", ["x"])
    kept = batcher.submit("kept", ["x"])
    assert dropped.cancel()
    held.gate.set()
    kept.result(5)
    running.result(5)
    with pytest.raises(CancelledError):
        dropped.result(0)
    assert [q for batch in held.record for q in batch] == ["running", "kept"]


def test_a_lone_caller_does_not_wait_for_companions() -> None:
    batcher = ScoreBatcher(_lengths, wait_ms=5_000)
    start = time.monotonic()
    for i in range(3):  # one caller: every batch holds one request, so no wait is armed
        batcher.submit(f"q{i}", ["a", "b"]).result(10)
    assert time.monotonic() - start < 2.5  # far below one 5 s wait window
    assert batcher.stats().largest == 1


def test_a_sync_caller_on_an_idle_model_computes_on_its_own_thread() -> None:
    threads: list[int] = []

    def where(requests: list[Request]) -> list[np.ndarray]:
        threads.append(threading.get_ident())
        return _lengths(requests)

    batcher = ScoreBatcher(where)
    assert batcher.call("q", ["ab"]).tolist() == [3.0]
    assert threads == [threading.get_ident()]  # no hop to a dispatcher and back
    assert batcher._thread is None and batcher.stats() == batching.BatchStats(1, 1, 1)


def test_requests_queue_behind_an_inline_call_and_never_run_beside_it() -> None:
    held = _Held()
    batcher = ScoreBatcher(held)
    with ThreadPoolExecutor(2) as pool:
        inline = pool.submit(batcher.call, "inline", ["a"])
        assert held.busy.wait(5), "the inline call never started"
        queued = [batcher.submit(f"q{i}", ["b"]) for i in range(2)]
        # whenever it arrives, a second sync caller finds the model busy or others waiting
        late = pool.submit(batcher.call, "late", ["c"])
        assert not any(f.done() for f in queued)  # the model is busy inline
        held.gate.set()
        assert inline.result(5).tolist() == [7.0]
        assert [f.result(5).tolist() for f in queued] == [[3.0], [3.0]]
        assert late.result(5).tolist() == [5.0]
    assert [q for batch in held.record for q in batch] == ["inline", "q0", "q1", "late"]


def test_the_idle_dispatcher_ends_and_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "IDLE_EXIT_S", 0.05)
    batcher = ScoreBatcher(_lengths)
    batcher.submit("q", ["a"]).result(5)
    dispatcher = batcher._thread
    assert dispatcher is not None
    dispatcher.join(5)  # it leaves on its own once idle for IDLE_EXIT_S
    assert not dispatcher.is_alive() and batcher._thread is None  # nothing keeps it alive
    assert batcher.submit("q", ["ab"]).result(5).tolist() == [3.0]


@pytest.fixture(scope="module")
def private_onnx(onnx_model_path: Path) -> OnnxReranker:
    """Its own instance: the batch counts below are this module's alone."""
    return OnnxReranker(onnx_model_path)


def _asks(cranfield: tuple[dict[str, str], dict[str, str], object]) -> list[Request]:
    corpus, queries, _ = cranfield
    texts = list(corpus.values())
    return [(q, texts[i * 5 : i * 5 + 5]) for i, q in enumerate(list(queries.values())[:8])]


def test_onnx_under_eight_threads_serves_each_alone_with_single_stream_scores(
    private_onnx: OnnxReranker, cranfield: tuple[dict[str, str], dict[str, str], object]
) -> None:
    asks = _asks(cranfield)
    alone = [private_onnx.score(q, t) for q, t in asks]
    before = private_onnx.batch_stats()
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda a: private_onnx.score(*a), asks))
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a, b)  # batch_size=1: a pair's score is its own
    after = private_onnx.batch_stats()
    # batch_size=1 gains nothing from combining: queued, one request per batch
    assert (after.requests - before.requests, after.batches - before.batches) == (8, 8)
    assert not private_onnx.combines_requests


def test_onnx_with_larger_batches_combines_queued_requests(
    onnx_model_path: Path, cranfield: tuple[dict[str, str], dict[str, str], object]
) -> None:
    # dequantized: float activations, so a pair's score does not depend on its batch-mates
    reranker = OnnxReranker(onnx_model_path, batch_size=8, dequantize=True)
    asks = _asks(cranfield)
    alone = [reranker.score(q, t) for q, t in asks]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda a: reranker.score(*a), asks))
    stats = reranker.batch_stats()
    assert stats.largest > 1 and stats.batches < 16  # the queued ones went together
    for a, b in zip(alone, together, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-4)  # other batches: float round-off only


def test_async_callers_share_the_batcher(private_onnx: OnnxReranker) -> None:
    async def main() -> list[list[int]]:
        results = await asyncio.gather(
            *(private_onnx.arerank(f"{QUERY} ({i})", TEXTS, top_n=3) for i in range(6))
        )
        return [[r.index for r in rs] for rs in results]

    expected = [
        [r.index for r in private_onnx.rerank(f"{QUERY} ({i})", TEXTS, top_n=3)] for i in range(6)
    ]
    assert asyncio.run(main()) == expected
