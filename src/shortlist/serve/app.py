"""The ASGI application: routes, the in-flight tracker, CORS, and the lifespan.

``create_app`` needs the ``[serve]`` extra (Starlette); importing this module does not,
so ``import shortlist.serve`` stays as light as ``import shortlist``.

The lifespan starts loading the models in a thread (``/health`` answers meanwhile) and,
on shutdown, waits for in-flight requests to finish (up to ``drain_s``) after uvicorn has
stopped accepting new connections: a rolling restart loses no accepted request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from shortlist._optional import require
from shortlist.serve import handlers
from shortlist.serve.admission import Admission
from shortlist.serve.auth import KeyCheck
from shortlist.serve.config import ServeConfig
from shortlist.serve.handlers import ServerState, endpoint
from shortlist.serve.metrics import Metrics
from shortlist.serve.models import Models

if TYPE_CHECKING:
    from shortlist.index import BaseIndex
    from shortlist.rerank import Reranker

logger = logging.getLogger(__name__)
_FEATURE = "shortlist serve"


def create_app(
    config: ServeConfig,
    *,
    reranker: Reranker | None = None,
    indexes: Mapping[str, BaseIndex] | None = None,
) -> Any:
    """The Starlette app for ``config``. ``reranker``/``indexes`` may be objects already
    loaded (they take the place of ``config.reranker``/``config.indexes``)."""
    applications = require("starlette.applications", feature=_FEATURE, extra="serve")
    routing = require("starlette.routing", feature=_FEATURE, extra="serve")
    limits = config.limits
    state = ServerState(
        config=config,
        models=Models(config, reranker=reranker, indexes=indexes),
        metrics=Metrics(),
        admission=Admission(limits.max_concurrency, limits.max_queue, limits.queue_timeout_s),
        keys=KeyCheck(config.api_keys),
    )
    post, get = ["POST"], ["GET"]
    routes = [
        routing.Route("/v2/rerank", _bind(state, handlers.rerank, version=2), methods=post),
        routing.Route("/v1/rerank", _bind(state, handlers.rerank, version=1), methods=post),
        routing.Route("/v1/search", _bind(state, handlers.search), methods=post),
        routing.Route("/health", _bind(state, handlers.health), methods=get),
        routing.Route("/metrics", _bind(state, handlers.metrics), methods=get),
    ]
    app = applications.Starlette(
        routes=routes,
        middleware=_cors(config.cors_origins),
        lifespan=functools.partial(_lifespan, state),
        exception_handlers={404: _http_error, 405: _http_error},
    )
    tracker = Tracker(app, state)
    app.state.tracker = tracker  # the lifespan drains through it
    return tracker


class Tracker:
    """Pure ASGI middleware: counts requests in flight (for draining) and records every
    request's route, status and latency, including 404s and 413s answered early."""

    def __init__(self, app: Any, state: ServerState) -> None:
        self.app = app
        self.state = state
        self._idle: asyncio.Event | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics = self.state.metrics
        status = 500
        t0 = time.perf_counter()

        async def send_tracked(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.in_flight += 1
        self.idle.clear()
        try:
            await self.app(scope, receive, send_tracked)
        finally:
            metrics.in_flight -= 1
            if metrics.in_flight == 0:
                self.idle.set()
            metrics.request_done(scope["path"], status, time.perf_counter() - t0)

    @property
    def idle(self) -> asyncio.Event:
        """Set whenever no request is in flight (made on the serving loop, on first use)."""
        if self._idle is None:
            self._idle = asyncio.Event()
            self._idle.set()
        return self._idle

    async def drain(self, timeout: float) -> bool:
        """Wait until no request is in flight, at most ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self.idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


def _bind(state: ServerState, handler: Any, **fixed: Any) -> Any:
    return endpoint(state, functools.partial(handler, **fixed) if fixed else handler)


@asynccontextmanager
async def _lifespan(state: ServerState, app: Any) -> AsyncIterator[None]:
    if state.keys.open:
        logger.warning(
            "shortlist serve: no API keys configured (--api-key-file or $SHORTLIST_API_KEYS): "
            "the server is open to anyone who can reach it."
        )
    else:
        logger.info("shortlist serve: bearer-token auth on (%d keys).", len(state.config.api_keys))
    if not state.models.ready and state.models.error is None:
        state.models.start_loading()
    yield
    tracker = _tracker_of(app, state)
    if tracker is not None and not await tracker.drain(state.config.limits.drain_s):
        logger.warning(
            "shortlist serve: %d requests still in flight after %gs; stopping anyway.",
            state.metrics.in_flight,
            state.config.limits.drain_s,
        )


def _tracker_of(app: Any, state: ServerState) -> Tracker | None:
    tracker = getattr(app.state, "tracker", None)
    return tracker if isinstance(tracker, Tracker) else None


def _cors(origins: tuple[str, ...]) -> list[Any]:
    """CORS only when origins are given (off by default: browsers cannot call across sites)."""
    if not origins:
        return []
    middleware = require("starlette.middleware", feature=_FEATURE, extra="serve")
    cors = require("starlette.middleware.cors", feature=_FEATURE, extra="serve")
    return [
        middleware.Middleware(
            cors.CORSMiddleware,
            allow_origins=list(origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-client-name"],
        )
    ]


async def _http_error(request: Any, exc: Any) -> Any:
    """404/405 from routing, as Cohere shapes errors."""
    responses = require("starlette.responses", feature=_FEATURE, extra="serve")
    status = getattr(exc, "status_code", 404)
    message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', 'Not Found')}."
    return responses.JSONResponse({"message": message}, status_code=status)
