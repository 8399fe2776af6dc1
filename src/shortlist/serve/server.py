"""Running the app: in the foreground under uvicorn (``shortlist serve``), or in a thread
on a free loopback port (tests, notebooks, benchmarks).

uvicorn handles SIGTERM/SIGINT: it stops accepting, lets in-flight requests finish (at
most ``drain_s``, which is also its ``timeout_graceful_shutdown``), then runs the app's
lifespan shutdown, which waits for the in-flight counter to reach zero.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

from shortlist._optional import require
from shortlist.serve.config import DEFAULT_HOST, DEFAULT_PORT

_FEATURE = "shortlist serve"


def run(app: Any, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, drain_s: float = 30.0,
        log_level: str = "info") -> None:  # fmt: skip
    """Serve ``app`` (from :func:`~shortlist.serve.app.create_app`) until SIGTERM/SIGINT."""
    uvicorn = require("uvicorn", feature=_FEATURE, extra="serve")
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        lifespan="on",
        timeout_graceful_shutdown=drain_s,
        server_header=False,
    )
    uvicorn.Server(config).run()


class BackgroundServer:
    """``app`` served by uvicorn in a daemon thread on ``host`` and a free port.

    The socket is bound and listening before :meth:`start` returns, so a client can
    connect at once (the connection waits in the backlog until uvicorn accepts it). Use
    it as a context manager; :meth:`stop` shuts down gracefully, draining requests.
    """

    def __init__(self, app: Any, *, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.app = app
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` (what ``base_url=`` takes)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        """Listen now and serve from a thread."""
        uvicorn = require("uvicorn", feature=_FEATURE, extra="serve")
        self._sock.listen(2048)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on", server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="shortlist-serve",
            daemon=True,
        )
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 300.0) -> bool:
        """Block until the app's models have loaded; False if loading failed or timed out
        (``GET /health`` gives the reason)."""
        models = self.app.state.models
        return bool(models.wait(timeout) and models.ready)

    def stop(self, timeout: float = 30.0) -> None:
        """Ask uvicorn to exit (gracefully) and wait for the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
