"""A real HTTP server on 127.0.0.1 that speaks Cohere's ``POST /v2/rerank``.

The real ``cohere`` SDK is pointed at it (``base_url=server.url``), so tests exercise the
SDK's own request building, retries, Retry-After handling, timeouts and error classes,
with no mocks. Scoring is a simple lexical overlap, deterministic and in 0..1 like
Cohere's ``relevance_score``.

Failure modes are programmed with :class:`Reply`:

* ``server.script(Reply(429, headers={"retry-after-ms": "200"}))`` answers the next
  request(s) with the given replies in order, then goes back to normal scoring;
* ``server.always(Reply(503))`` answers every request that way until :meth:`reset`.

* ``server.faults(rate=0.25, seed=7)`` answers each request, with probability ``rate``
  and a seeded generator, with one of: 429, 500, 503, a slow reply (``slow`` seconds),
  malformed JSON, or a 200 holding only part of the results.

Every request is recorded in ``server.requests`` (time, headers, JSON body).
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

RERANK_PATH = "/v2/rerank"
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Reply:
    """One programmed answer.

    ``body=None`` with status 200 means "score the request normally"; ``raw`` sends bytes
    as-is (for malformed JSON); ``delay`` sleeps before answering (for timeouts).
    """

    status: int = 200
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class SeenRequest:
    """What the server received."""

    at: float
    path: str
    headers: dict[str, str]
    body: Any


def overlap_score(query: str, document: str) -> float:
    """Share of query words found in the document, with a small density tie-breaker."""
    q = set(_WORD.findall(query.lower()))
    d = _WORD.findall(document.lower())
    if not q or not d:
        return 0.0
    hits = len(q & set(d))
    return round(0.9 * hits / len(q) + 0.1 * hits / (len(set(d)) + 1), 6)


def rerank_body(query: str, documents: list[str], top_n: int | None) -> dict[str, Any]:
    """The JSON a successful Cohere v2 rerank returns (results best first, then meta)."""
    scored = sorted(
        ((i, overlap_score(query, doc)) for i, doc in enumerate(documents)),
        key=lambda pair: -pair[1],
    )
    if top_n is not None:
        scored = scored[:top_n]
    return {
        "id": str(uuid.uuid4()),
        "results": [{"index": i, "relevance_score": s} for i, s in scored],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}},
    }


class FakeCohere:
    """The server; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, *, api_key: str = "test-key", max_docs: int = 1000) -> None:
        self.api_key = api_key
        self.max_docs = max_docs
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._always: Reply | None = None
        self._fault_rate = 0.0
        self._fault_slow = 0.0
        self._rng = random.Random(0)
        self._requests: list[SeenRequest] = []
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Base URL to give the SDK (it appends ``/v2/rerank``)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    def start(self) -> FakeCohere:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FakeCohere:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order."""
        with self._lock:
            self._script.extend(replies)

    def always(self, reply: Reply) -> None:
        """Answer every request with ``reply`` (until :meth:`reset`)."""
        with self._lock:
            self._always = reply

    def faults(self, rate: float, *, seed: int = 0, slow: float = 2.0) -> None:
        """Answer a seeded random share ``rate`` of requests with a fault (see module doc)."""
        with self._lock:
            self._fault_rate, self._fault_slow = rate, slow
            self._rng = random.Random(seed)

    def reset(self) -> None:
        """Forget programmed replies, fault injection and recorded requests."""
        with self._lock:
            self._script.clear()
            self._always = None
            self._fault_rate = 0.0
            self._requests.clear()

    # called from handler threads
    def _next(self, seen: SeenRequest) -> Reply | None:
        with self._lock:
            self._requests.append(seen)
            if self._script:
                return self._script.popleft()
            if self._fault_rate and self._rng.random() < self._fault_rate:
                return self._fault(seen)
            return self._always

    def _fault(self, seen: SeenRequest) -> Reply:
        kind = self._rng.choice(("429", "500", "503", "slow", "malformed", "partial"))
        if kind == "429":
            return Reply(429, {"message": "rate limited"}, headers={"retry-after-ms": "10"})
        if kind in ("500", "503"):
            return Reply(int(kind), {"message": "injected server error"})
        if kind == "slow":
            return Reply(delay=self._fault_slow)
        if kind == "malformed":
            return Reply(200, raw=b'{"results": [{"index": 0, "relevance_')
        body = seen.body if isinstance(seen.body, dict) else {}
        docs = body.get("documents") or [""]
        full = rerank_body(str(body.get("query") or "q"), list(docs), None)
        full["results"] = full["results"][: max(0, len(full["results"]) // 2)]
        return Reply(200, full)

    def _answer(self, seen: SeenRequest) -> Reply:
        """Normal behaviour: authenticate, validate like Cohere does, then score."""
        if seen.headers.get("authorization") != f"Bearer {self.api_key}":
            return Reply(401, {"message": "invalid api token"})
        if seen.path != RERANK_PATH:
            return Reply(404, {"message": f"path {seen.path} not found"})
        body = seen.body
        if not isinstance(body, dict):
            return Reply(400, {"message": "invalid request: body must be a JSON object"})
        query, docs, top_n = body.get("query"), body.get("documents"), body.get("top_n")
        if not isinstance(body.get("model"), str):
            return Reply(400, {"message": "invalid request: model must be a string"})
        if not isinstance(query, str) or not query.strip():
            return Reply(400, {"message": "invalid request: query must be a non-empty string"})
        if not isinstance(docs, list) or not all(isinstance(d, str) for d in docs):
            return Reply(400, {"message": "invalid request: documents must be a list of strings"})
        if len(docs) > self.max_docs:
            return Reply(
                400,
                {
                    "message": f"invalid request: too many documents, got {len(docs)}, "
                    f"max is {self.max_docs}"
                },
            )
        if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
            return Reply(400, {"message": "invalid request: top_n must be a positive integer"})
        return Reply(200, rerank_body(query, docs, top_n))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is expected here, not an error."""


def _handler_for(fake: FakeCohere) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            seen = SeenRequest(
                at=time.monotonic(),
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            reply = fake._next(seen)
            if reply is not None and reply.delay:
                time.sleep(reply.delay)
            if reply is None or (reply.status == 200 and reply.body is None and reply.raw is None):
                reply = fake._answer(seen)
            payload = reply.raw if reply.raw is not None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler
