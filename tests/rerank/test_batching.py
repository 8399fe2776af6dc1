"""Concurrent callers share one local model through the batcher: same scores as alone,
batches formed, nothing lost when a request fails or is cancelled."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from shortlist.rerank import batching
from shortlist.rerank.batching import Request, ScoreBatcher
from shortlist.rerank.onnx import OnnxReranker
from tests.rerank.conftest import QUERY, TEXTS


def _lengths(requests: list[Request]) -> list[np.ndarray]:
    """A stand-in model: each text's score is its length plus the query's."""
    return [np.array([len(q) + len(t) for t in texts], dtype=float) for q, texts in requests]


def test_concurrent_requests_are_batched_and_each_gets_its_own_scores() -> None:
    gate = threading.Event()
    seen: list[int] = []

    def compute(requests: list[Request]) -> list[np.ndarray]:
        gate.wait(5)  # hold the first batch so that the others queue behind it
        seen.append(len(requests))
        return _lengths(requests)

    batcher = ScoreBatcher(compute)
    asks = [(f"q{i}" * (i + 1), [f"t{j}" * j for j in range(i + 1)]) for i in range(8)]
    futures = [batcher.submit(q, t) for q, t in asks[:1]]
    time.sleep(0.05)
    futures += [batcher.submit(q, t) for q, t in asks[1:]]
    gate.set()
    for (q, texts), future in zip(asks, futures, strict=True):
        np.testing.assert_array_equal(future.result(5), _lengths([(q, texts)])[0])
    assert seen == [1, 7]  # the seven that waited went as one batch
    stats = batcher.stats()
    assert (stats.requests, stats.batches, stats.largest) == (8, 2, 7)


def test_without_combining_requests_are_served_one_at_a_time_in_order() -> None:
    gate = threading.Event()
    seen: list[list[str]] = []

    def compute(requests: list[Request]) -> list[np.ndarray]:
        gate.wait(5)
        seen.append([q for q, _ in requests])
        return _lengths(requests)

    batcher = ScoreBatcher(compute, combine=False, wait_ms=5_000)
    first = batcher.submit("q0", ["a"])
    time.sleep(0.05)
    rest = [batcher.submit(f"q{i}", ["a"]) for i in range(1, 5)]
    gate.set()
    for future in [first, *rest]:
        future.result(5)
    assert seen == [["q0"], ["q1"], ["q2"], ["q3"], ["q4"]]  # arrival order, no wait armed


def test_a_failing_request_does_not_fail_its_batch() -> None:
    gate = threading.Event()

    def compute(requests: list[Request]) -> list[np.ndarray]:
        gate.wait(5)
        if any(q == "bad" for q, _ in requests):
            raise ValueError("this query breaks the model")
        return _lengths(requests)

    batcher = ScoreBatcher(compute)
    first = batcher.submit("a", ["x"])
    time.sleep(0.05)
    good, bad, other = (batcher.submit(q, ["yy"]) for q in ("b", "bad", "c"))
    gate.set()
    assert first.result(5).tolist() == [2.0]
    assert good.result(5).tolist() == [3.0] and other.result(5).tolist() == [3.0]
    with pytest.raises(ValueError, match="breaks the model"):
        bad.result(5)


def test_a_cancelled_request_is_never_computed() -> None:
    gate = threading.Event()
    computed: list[str] = []

    def compute(requests: list[Request]) -> list[np.ndarray]:
        gate.wait(5)
        computed.extend(q for q, _ in requests)
        return _lengths(requests)

    batcher = ScoreBatcher(compute)
    running = batcher.submit("running", ["x"])
    time.sleep(0.05)
    dropped = batcher.submit("dropped", ["x"])
    kept = batcher.submit("kept", ["x"])
    assert dropped.cancel()
    gate.set()
    kept.result(5)
    running.result(5)
    with pytest.raises(CancelledError):
        dropped.result(0)
    assert computed == ["running", "kept"]


def test_a_lone_caller_does_not_wait_for_companions() -> None:
    batcher = ScoreBatcher(_lengths, wait_ms=5_000)
    start = time.monotonic()
    for i in range(3):  # one caller: every batch holds one request, so no wait is armed
        batcher.submit(f"q{i}", ["a", "b"]).result(10)
    assert time.monotonic() - start < 2.5  # far below one 5 s wait window
    assert batcher.stats().largest == 1


def test_the_idle_dispatcher_ends_and_restarts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "IDLE_EXIT_S", 0.05)
    batcher = ScoreBatcher(_lengths)
    batcher.submit("q", ["a"]).result(5)
    deadline = time.monotonic() + 5
    while batcher._thread is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert batcher._thread is None  # nothing keeps the reranker alive
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
