"""Overload: a bounded queue answers 429 when full and 503 after waiting too long, and
every request it accepted is answered; shutdown drains requests in flight.

Ordering comes from events, never sleeps: the ``Gate`` reranker holds each call until the
test opens it and announces each call it starts.
"""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx

from .helpers import API_KEY, Gate, start, wait_until

AUTH = {"Authorization": f"Bearer {API_KEY}"}
BODY = {"query": "heat", "documents": ["heat flux", "wing", "heat"]}


async def test_full_queue_is_429_and_every_accepted_request_is_answered() -> None:
    gate = Gate()
    server = start(gate, max_concurrency=1, max_queue=2, queue_timeout_s=30)
    admission = server.app.state.admission
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
            first = asyncio.create_task(client.post("/v2/rerank", json=BODY))
            assert await asyncio.to_thread(gate.entered.acquire, True, 10)  # A is scoring
            queued = [asyncio.create_task(client.post("/v2/rerank", json=BODY)) for _ in range(2)]
            await asyncio.to_thread(wait_until, lambda: admission.waiting == 2)
            refused = await asyncio.gather(
                *(client.post("/v2/rerank", json=BODY) for _ in range(5))
            )
            assert [r.status_code for r in refused] == [429] * 5
            assert all(r.headers["retry-after"] == "1" for r in refused)
            gate.release.set()
            accepted = [await first, *await asyncio.gather(*queued)]
        assert [r.status_code for r in accepted] == [200] * 3
        assert [r.json()["results"][0]["index"] for r in accepted] == [0, 0, 0]
        assert gate.calls == 3  # nothing refused ever reached the model
        metrics = httpx.get(server.url + "/metrics", headers=AUTH).text
        assert 'shortlist_rejected_requests_total{reason="queue_full"} 5' in metrics
    finally:
        gate.release.set()
        server.stop()


async def test_waiting_too_long_is_503_and_the_running_request_still_succeeds() -> None:
    gate = Gate()
    server = start(gate, max_concurrency=1, max_queue=4, queue_timeout_s=0.3)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as client:
            running = asyncio.create_task(client.post("/v2/rerank", json=BODY))
            assert await asyncio.to_thread(gate.entered.acquire, True, 10)
            waited = await client.post("/v2/rerank", json=BODY)  # the gate is still shut
            assert waited.status_code == 503 and "no slot within 0.3s" in waited.json()["message"]
            gate.release.set()
            assert (await running).status_code == 200
            after = await client.post("/v2/rerank", json=BODY)  # the slot was handed back
            assert after.status_code == 200
        assert server.app.state.admission.active == 0
    finally:
        gate.release.set()
        server.stop()


def test_a_missed_deadline_is_504_and_the_request_is_dropped() -> None:
    gate = Gate()
    server = start(gate, budget_ms=200)
    try:
        reply = httpx.post(server.url + "/v2/rerank", json=BODY, headers=AUTH, timeout=30)
        assert reply.status_code == 504 and "200 ms deadline" in reply.json()["message"]
    finally:
        gate.release.set()
        server.stop()


def test_shutdown_drains_the_request_in_flight() -> None:
    gate = Gate()
    server = start(gate)
    result: dict[str, httpx.Response] = {}

    def call() -> None:
        result["reply"] = httpx.post(server.url + "/v2/rerank", json=BODY, headers=AUTH, timeout=30)

    client = threading.Thread(target=call)
    client.start()
    assert gate.entered.acquire(timeout=10)
    stopper = threading.Thread(target=server.stop)
    stopper.start()  # uvicorn stops accepting, then waits for the request in flight

    def refused() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex((server.host, server.port)) != 0

    wait_until(refused)
    assert stopper.is_alive()  # still draining
    gate.release.set()
    client.join(30)
    stopper.join(30)
    assert result["reply"].status_code == 200 and not stopper.is_alive()
