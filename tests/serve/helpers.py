"""A real shortlist server on loopback, for the serve tests and the rerank contract suite.

``start`` builds the app with objects already loaded (no model is loaded twice) and
serves it with uvicorn in a thread on a free 127.0.0.1 port.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from shortlist.rerank import Reranker
from shortlist.serve import BackgroundServer, Limits, ServeConfig, create_app

API_KEY = "sk-test-4f1c9a7e"
"""The key every test server accepts (a second, ``OTHER_KEY``, proves several work)."""
OTHER_KEY = "sk-test-second-key"
_WORD = re.compile(r"\w+")


class WordOverlap(Reranker):
    """A tiny deterministic reranker: the share of the query's words found in the text.

    Not a fake of the network edge: it runs through the real Reranker template (plans,
    ranking, the batcher), so the server's answers can be compared with in-process ones.
    """

    backend = "word-overlap"

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        words = set(_WORD.findall(query.lower()))
        scores = [len(words & set(_WORD.findall(t.lower()))) / max(len(words), 1) for t in texts]
        return np.asarray(scores, dtype=np.float64)


class Gate(WordOverlap):
    """WordOverlap that holds every call until ``release`` is set, announcing each entry
    on ``entered``: the test decides when the server is busy, no sleep involved."""

    backend = "gate"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)
        self.calls = 0

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.entered.release()
        if not self.release.wait(30):
            raise TimeoutError("the test never opened the gate")
        return super()._score(query, texts)


def start(
    reranker: Reranker | None = None,
    *,
    indexes: Mapping[str, Any] | None = None,
    keys: tuple[str, ...] = (API_KEY, OTHER_KEY),
    **limits: Any,
) -> BackgroundServer:
    """Serve ``reranker`` and ``indexes`` on a free loopback port; returns once ready."""
    config = ServeConfig(api_keys=frozenset(keys), limits=Limits(**limits))
    app = create_app(config, reranker=reranker, indexes=indexes)
    server = BackgroundServer(app).start()
    assert app.state.models.wait(60), "the models did not load"
    return server


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Block until ``condition()`` holds (checked, not assumed after a sleep)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never held"
        threading.Event().wait(0.002)
