"""The endpoints: check the caller, read the body (bounded), wait for a slot, answer.

Order matters for cost: the key is checked before the body is read, the body is checked
before a slot is taken, and only then does a model run. Every handler returns JSON; every
failure becomes a Cohere-shaped :class:`~shortlist.serve.problems.Problem`
(:func:`endpoint`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from shortlist.serve.admission import Admission
from shortlist.serve.auth import KeyCheck
from shortlist.serve.config import ServeConfig
from shortlist.serve.metrics import CONTENT_TYPE, Metrics
from shortlist.serve.models import Models
from shortlist.serve.problems import Problem, bad_request, from_error, too_large
from shortlist.serve.search import parse_search, search_response
from shortlist.serve.wire import parse_rerank, rerank_response

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class ServerState:
    """Everything a handler needs, made once per app."""

    config: ServeConfig
    models: Models
    metrics: Metrics
    admission: Admission
    keys: KeyCheck


Handler = Callable[[ServerState, Any], Awaitable[Any]]


def endpoint(state: ServerState, handler: Handler) -> Callable[[Any], Awaitable[Any]]:
    """A Starlette endpoint around ``handler`` that answers every error Cohere's way."""
    responses = _responses()

    async def call(request: Any) -> Any:
        try:
            return await handler(state, request)
        except Exception as exc:
            problem = from_error(exc)
            if problem.status >= 500 and problem.reason == "error":
                logger.exception("shortlist serve: %s %s failed", request.method, request.url.path)
            state.metrics.reject(problem.reason)
            return responses.JSONResponse(
                problem.body(), status_code=problem.status, headers=problem.headers
            )

    return call


async def rerank(state: ServerState, request: Any, version: int) -> Any:
    """``POST /v1/rerank`` and ``/v2/rerank``: Cohere's request in, Cohere's answer out."""
    state.keys.check(request.headers.get("authorization"))
    limits = state.config.limits
    body = await read_json(request, limits.max_body_bytes)
    asked = parse_rerank(body, version, limits)
    reranker = state.models.need_reranker()
    async with admitted(state):
        t0 = time.perf_counter()
        results = await within_deadline(
            reranker.arerank(asked.query, asked.texts, top_n=asked.top_n), limits.budget_ms
        )
        state.metrics.stages["rerank"].observe(time.perf_counter() - t0)
    return _responses().JSONResponse(rerank_response(asked, results))


async def search(state: ServerState, request: Any) -> Any:
    """``POST /v1/search``: both stages over a served index (its budget bounds stage 2)."""
    state.keys.check(request.headers.get("authorization"))
    body = await read_json(request, state.config.limits.max_body_bytes)
    asked = parse_search(body, state.config.limits)
    name, pipeline = state.models.need_pipeline(asked.index)
    async with admitted(state):
        result = await pipeline.arun(asked.query, **asked.options())
    state.metrics.stages["retrieve"].observe(result.retrieve_seconds)
    if pipeline.reranker is not None:
        state.metrics.stages["rerank"].observe(result.rerank_seconds)
    return _responses().JSONResponse(search_response(name, result))


async def health(state: ServerState, request: Any) -> Any:
    """``GET /health``: live (this answer) and ready (models loaded); 503 until ready."""
    models = state.models
    reranker = models.reranker
    body = {
        "live": True,
        "ready": models.ready,
        "reason": models.error
        if models.error
        else (None if models.ready else "models are still loading"),
        "reranker": reranker.spec if reranker is not None else None,
        "indexes": models.index_names,
        "auth": "open" if state.keys.open else "bearer",
    }
    return _responses().JSONResponse(body, status_code=200 if models.ready else 503)


async def metrics(state: ServerState, request: Any) -> Any:
    """``GET /metrics``: Prometheus text (behind the API keys when there are any)."""
    state.keys.check(request.headers.get("authorization"))
    text = state.metrics.render(state.models, state.admission)
    return _responses().Response(text, media_type=CONTENT_TYPE)


class admitted:
    """``async with admitted(state)``: hold an admission slot; time the wait."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._slot = state.admission.slot()

    async def __aenter__(self) -> None:
        t0 = time.perf_counter()
        await self._slot.__aenter__()
        self._state.metrics.stages["queue"].observe(time.perf_counter() - t0)

    async def __aexit__(self, *exc: object) -> None:
        await self._slot.__aexit__(*exc)  # type: ignore[arg-type]


async def within_deadline(work: Coroutine[Any, Any, T], budget_ms: float | None) -> T:
    """``work``, cancelled with a 504 once ``budget_ms`` has passed (None: no deadline).
    A local model's queued request is dropped on cancel, before it is computed."""
    if budget_ms is None:
        return await work
    try:
        return await asyncio.wait_for(work, budget_ms / 1000.0)
    except asyncio.TimeoutError:  # TimeoutError itself from Python 3.11
        raise Problem(
            504,
            f"The rerank did not finish within this server's {budget_ms:g} ms deadline.",
            "deadline",
        ) from None


async def read_json(request: Any, max_bytes: int) -> dict[str, Any]:
    """The body as a JSON object; 413 as soon as it passes ``max_bytes`` (never buffered
    whole), 400 when it is not a JSON object."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _body_too_large(int(declared), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _body_too_large(size, max_bytes)
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, RecursionError) as exc:
        raise bad_request(f"The body is not valid JSON ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(body, dict):
        raise bad_request(f"The body must be a JSON object, got {type(body).__name__}.")
    return body


def _body_too_large(size: int, max_bytes: int) -> Problem:
    return too_large(
        f"The request body is over this server's limit of {max_bytes} bytes (got at least "
        f"{size}); send fewer or shorter documents per request."
    )


def _responses() -> Any:
    from shortlist._optional import require

    return require("starlette.responses", feature="shortlist serve", extra="serve")
