"""What the server serves: one reranker and the pipelines over its named indexes.

Loading takes seconds to minutes (an index, a bi-encoder, a cross-encoder), so it runs in
a thread after the server starts listening: ``/health`` answers at once (live) and says
ready only when everything loaded. A model that fails to load makes readiness fail with
the reason -- the process stays up, so an orchestrator sees why instead of a crash loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from shortlist.serve.problems import Problem

if TYPE_CHECKING:
    from shortlist.index import BaseIndex
    from shortlist.pipeline import Pipeline
    from shortlist.rerank import Reranker
    from shortlist.serve.config import ServeConfig

logger = logging.getLogger(__name__)


class Models:
    """The loaded reranker and pipelines, and whether loading is done, or why it failed.

    ``reranker`` and ``indexes`` may be given as objects already built (a notebook, a
    test) or as a spec and folders (the command line); either way :meth:`load` builds the
    rest. Until it has finished, requests that need a model get 503.
    """

    def __init__(
        self,
        config: ServeConfig,
        *,
        reranker: Reranker | None = None,
        indexes: Mapping[str, BaseIndex] | None = None,
    ) -> None:
        self.config = config
        self.reranker: Reranker | None = reranker
        self._given_indexes = dict(indexes or {})
        self.pipelines: dict[str, Pipeline] = {}
        self.error: str | None = None
        self._done = threading.Event()

    @property
    def ready(self) -> bool:
        """Everything loaded without error."""
        return self._done.is_set() and self.error is None

    @property
    def index_names(self) -> list[str]:
        """The served indexes' names (configured, loaded or not)."""
        return sorted({*self.config.indexes, *self._given_indexes})

    def start_loading(self) -> threading.Thread:
        """Load in a daemon thread (the event loop keeps serving ``/health``)."""
        thread = threading.Thread(target=self.load, name="shortlist-serve-load", daemon=True)
        thread.start()
        return thread

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading finished (ready or failed); False on timeout."""
        return self._done.wait(timeout)

    def load(self) -> None:
        """Build the reranker and one pipeline per index; record the reason on failure."""
        try:
            self._load()
        except Exception as exc:  # the reason goes to /health; the process stays up
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("shortlist serve: loading failed, not ready: %s", self.error)
        else:
            logger.info(
                "shortlist serve: ready (reranker %s; indexes %s)",
                self.reranker.spec if self.reranker is not None else "none",
                ", ".join(self.pipelines) or "none",
            )
        finally:
            self._done.set()

    def _load(self) -> None:
        from shortlist.funnel import as_funnel
        from shortlist.index import load_index
        from shortlist.pipeline import Pipeline
        from shortlist.rerank import load_reranker

        funnel = as_funnel(self.config.funnel) if self.config.funnel else None
        spec = self.config.reranker or (funnel.reranker if funnel is not None else None)
        if self.reranker is None and spec:
            self.reranker = load_reranker(spec)
        if self.reranker is not None and self.config.cache_pairs > 0:
            self.reranker.with_cache(self.config.cache_pairs)
        indexes = dict(self._given_indexes)
        for name, path in self.config.indexes.items():
            indexes[name] = load_index(path)
        budget = self.config.limits.budget_ms
        for name, index in indexes.items():
            if funnel is None:  # not from_config(None): that would load the default model
                pipeline = Pipeline(index, self.reranker)
            else:  # the funnel's reranker is self.reranker already, unless a flag replaced it
                pipeline = Pipeline.from_config(index, funnel, reranker=self.reranker)
            if pipeline.rerank_budget_ms is None:
                pipeline.rerank_budget_ms = budget
            self.pipelines[name] = pipeline

    def need_reranker(self) -> Reranker:
        """The reranker, or the 503/404 that says why there is none."""
        self._need_ready()
        if self.reranker is None:
            raise Problem(404, "This server serves no reranker (start it with --reranker).")
        return self.reranker

    def need_pipeline(self, name: str | None) -> tuple[str, Pipeline]:
        """The pipeline over index ``name`` (the only one when ``name`` is None)."""
        self._need_ready()
        names = sorted(self.pipelines)
        if name is None:
            if len(names) != 1:
                raise Problem(
                    422 if names else 404,
                    f"Name the index to search: one of {names}."
                    if names
                    else "This server serves no index (start it with --index NAME=DIR).",
                    "invalid",
                )
            name = names[0]
        if name not in self.pipelines:
            raise Problem(404, f"No index named {name!r}; this server serves {names}.", "invalid")
        return name, self.pipelines[name]

    def _need_ready(self) -> None:
        if self.error is not None:
            raise Problem(503, f"Not ready: loading failed ({self.error}).", "not_ready")
        if not self._done.is_set():
            raise Problem(
                503, "Not ready: models are still loading.", "not_ready", {"Retry-After": "1"}
            )
