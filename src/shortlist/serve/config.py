"""What a server is told at start: the models it serves, its limits, who may call it.

Kept free of Starlette and uvicorn so the command line can check every flag (and read the
API keys) in milliseconds, before any model loads or the ``[serve]`` extra is imported.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shortlist._validate import finite_number, int_at_least, positive_int
from shortlist.errors import InvalidInputError

KEYS_ENV = "SHORTLIST_API_KEYS"
"""Environment variable holding API keys, comma-separated (never a flag: ``ps`` shows flags)."""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Limits:
    """Bounds on what one request may ask and on how many are handled at once.

    Attributes:
        max_body_bytes: request bodies above this are refused with 413 before they are
            read whole, so a client cannot make the server buffer gigabytes.
        max_documents: documents (or ``top_n``/``fetch_k``) per request above this: 413.
        max_document_chars: characters per document (and per query) above this: 413.
        max_concurrency: requests handled at once; more wait in the queue.
        max_queue: requests allowed to wait; one more is refused at once with 429.
        queue_timeout_s: a request that waited this long for a slot gets 503.
        budget_ms: per-request deadline for reranking once admitted (504 when a rerank
            request misses it; ``/v1/search`` reranks what fits and keeps the stage-1 order
            for the rest, as ``rerank_budget_ms`` does). ``None``: no deadline.
        drain_s: on shutdown, how long in-flight requests may take to finish.
    """

    max_body_bytes: int = 4 * 1024 * 1024
    max_documents: int = 1000
    max_document_chars: int = 100_000
    max_concurrency: int = 32
    max_queue: int = 256
    queue_timeout_s: float = 30.0
    budget_ms: float | None = None
    drain_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_documents", "max_document_chars", "max_concurrency"):
            positive_int(name, getattr(self, name))
        int_at_least("max_queue", self.max_queue, 0)  # 0: refuse at once when all are busy
        finite_number("queue_timeout_s", self.queue_timeout_s, positive=True)
        finite_number("budget_ms", self.budget_ms, positive=True, allow_none=True)
        finite_number("drain_s", self.drain_s, positive=True)


@dataclass(frozen=True)
class ServeConfig:
    """One server: a reranker spec, named index folders, a funnel, keys, limits, CORS.

    ``funnel`` (a config file) gives ``/v1/search`` its stage-1 and rerank settings and,
    when ``reranker`` is ``None``, the reranker too. ``api_keys`` empty means an open
    server (logged at start). ``cors_origins`` empty means CORS is off. ``cache_pairs``
    > 0 keeps that many (query, document) scores, so a repeated request is not rescored.
    """

    reranker: str | None = None
    indexes: Mapping[str, str] = field(default_factory=dict)
    funnel: str | None = None
    api_keys: frozenset[str] = frozenset()
    limits: Limits = field(default_factory=Limits)
    cors_origins: tuple[str, ...] = ()
    cache_pairs: int = 0

    def __repr__(self) -> str:  # never show the keys, even in a traceback or a debug log
        return (
            f"ServeConfig(reranker={self.reranker!r}, indexes={dict(self.indexes)!r}, "
            f"funnel={self.funnel!r}, api_keys=<{len(self.api_keys)} keys>, "
            f"limits={self.limits!r}, cors_origins={self.cors_origins!r})"
        )


def parse_index_flag(value: str) -> tuple[str, str]:
    """``NAME=DIR`` (or a bare ``DIR``, named after its folder) as (name, dir)."""
    name, eq, path = value.partition("=")
    if not eq:
        path, name = value, Path(value.rstrip("/\\")).name
    if not name or not path:
        raise InvalidInputError(f"--index expects NAME=DIR (or DIR), got {value!r}.")
    return name, path


def load_api_keys(
    key_file: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> frozenset[str]:
    """Keys from ``key_file`` (one a line; blank lines and ``#`` comments skipped) and from
    ``$SHORTLIST_API_KEYS`` (comma-separated). Errors name the file, never a key."""
    env = os.environ if environ is None else environ
    keys = {k.strip() for k in env.get(KEYS_ENV, "").split(",") if k.strip()}
    if key_file is not None:
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(
                f"--api-key-file {str(key_file)!r} cannot be read ({exc.strerror}); pass a "
                "file holding one API key a line."
            ) from exc
        lines = (line.strip() for line in text.splitlines())
        file_keys = {line for line in lines if line and not line.startswith("#")}
        if not file_keys:
            raise InvalidInputError(
                f"--api-key-file {str(key_file)!r} holds no key (one a line; # for comments)."
            )
        keys |= file_keys
    return frozenset(keys)
