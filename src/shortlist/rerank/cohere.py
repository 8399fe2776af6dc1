"""Cohere Rerank through the official SDK: ``ClientV2`` for sync, ``AsyncClientV2`` for async.

Design choices, each fixing something the peers get wrong:

* **One retry layer.** The SDK already retries 429/408/409/5xx and connection errors, and
  honours ``Retry-After``/``retry-after-ms``. We configure it (``max_retries``, ``timeout``)
  through ``request_options`` and add no loop of our own, so ``max_retries=2`` means at
  most 3 HTTP calls, not 30.
* **Real async.** :meth:`CohereReranker.arerank` awaits ``AsyncClientV2``; no thread.
* **Nothing silently dropped.** We ask for every score (``top_n = len(chunk)``), check that
  each candidate got exactly one, and let the base class sort and cut. Requests larger than
  the API's per-request limit are split and merged back by input position: Cohere scores
  are absolute relevance in 0..1, so scores from different requests are comparable.
* **Typed errors that say what to do** (:func:`translate_error`).
"""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from shortlist import plan
from shortlist._optional import require
from shortlist._validate import finite_number, int_at_least, positive_int
from shortlist.errors import (
    AuthenticationError,
    InvalidInputError,
)
from shortlist.plan import Plan, Value
from shortlist.rerank.base import Reranker
from shortlist.rerank.budget import seconds_left
from shortlist.rerank.cohere_wire import (
    chunk_scores,
    normalize_base_url,
    translate_error,
)
from shortlist.spec import format_spec

DEFAULT_MODEL = "rerank-v3.5"
DEFAULT_BASE_URL = "https://api.cohere.com"
MAX_DOCS_PER_REQUEST = 1000
"""Cohere's recommended ceiling on documents per rerank request."""
API_KEY_ENV = ("CO_API_KEY", "COHERE_API_KEY")
_FEATURE = "The Cohere reranker"


def _api_key(given: str | None) -> str:
    """``given``, else ``$CO_API_KEY`` (the cohere SDK's name), else ``$COHERE_API_KEY``."""
    key = given or next((os.environ[k] for k in API_KEY_ENV if os.environ.get(k)), None)
    if not key:
        raise AuthenticationError(
            "No Cohere API key: set the CO_API_KEY environment variable (or pass api_key=...)."
        )
    return key


class CohereReranker(Reranker):
    """Cohere's hosted rerank models (``rerank-v3.5``, ``rerank-multilingual-v3.0``, ...).

    Scores are Cohere's ``relevance_score``, already in 0..1 (higher is better), so they sit on
    the same scale as the local backends' sigmoid scores. There is no ``activation`` option.

    Args:
        model: Cohere model name.
        api_key: defaults to ``$CO_API_KEY`` (or ``$COHERE_API_KEY``).
        base_url: API root, e.g. a proxy or a private deployment; the SDK appends
            ``/v2/rerank``. Defaults to ``$CO_API_URL`` or ``https://api.cohere.com``. A
            trailing ``/v1`` or ``/v2`` is removed, since the SDK adds the version itself.
        timeout: seconds to wait for each HTTP call.
        max_retries: retries the SDK makes on 429/5xx/connection errors (with backoff and
            ``Retry-After``); 0 disables them.
        max_tokens_per_doc: Cohere truncates each document to this many tokens (its default
            is 4096).
        max_docs_per_request: split larger candidate lists over several requests.
        client_name: sent as ``X-Client-Name`` so usage can be attributed.
    """

    backend = "cohere"
    budget_chunk = None  # one request per budget, timed out by it (see rerank.budget)

    @classmethod
    def preflight(cls, options: Mapping[str, Any]) -> None:
        """The API key is there (no request is made; the server judges it)."""
        _api_key(options.get("api_key"))

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_tokens_per_doc: int | None = None,
        max_docs_per_request: int = MAX_DOCS_PER_REQUEST,
        client_name: str = "shortlist",
    ) -> None:
        cohere = require("cohere", feature=_FEATURE)
        if not isinstance(model, str) or not model.strip():
            raise InvalidInputError(f"model must be a non-empty Cohere model name, got {model!r}.")
        key = _api_key(api_key)
        self.timeout = finite_number("timeout (seconds)", timeout, positive=True)
        self.max_retries = int_at_least("max_retries", max_retries, 0)
        self.max_docs_per_request = positive_int("max_docs_per_request", max_docs_per_request)
        self.max_tokens_per_doc = positive_int(
            "max_tokens_per_doc", max_tokens_per_doc, allow_none=True
        )
        self.model = model
        self.base_url = normalize_base_url(
            base_url or os.environ.get("CO_API_URL") or DEFAULT_BASE_URL
        )
        self._client_args: dict[str, Any] = {
            "api_key": key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": max_retries,
            "client_name": client_name,
        }
        # Per-request settings, the SDK's own retry/timeout knobs. "timeout_in_seconds" is
        # the key every SDK version >= 5 reads; newer ones also accept "timeout".
        self._request_options: dict[str, Any] = {
            "max_retries": max_retries,
            "timeout_in_seconds": self.timeout,
        }
        self._client: Any = cohere.ClientV2(**self._client_args)
        # httpx async connection pools belong to one event loop: one client per loop.
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return (
            f"CohereReranker(model={self.model!r}, base_url={self.base_url!r}, "
            f"timeout={self.timeout}, max_retries={self.max_retries})"
        )

    @property
    def spec(self) -> str:
        """This reranker as a :func:`~shortlist.rerank.load_reranker` spec: the model, the
        endpoint when it is not Cohere's (a proxy or private deployment answers with its
        own scores) and ``max_tokens_per_doc``. Never the API key: a reload reads it from
        ``CO_API_KEY`` (or takes ``api_key=``), so a serialised spec is safe to share."""
        return format_spec(
            self.backend,
            self.model,
            {
                "base_url": None if self.base_url == DEFAULT_BASE_URL else self.base_url,
                "max_tokens_per_doc": self.max_tokens_per_doc,
            },
        )

    # -- sync and async paths ------------------------------------------------------------

    def _score(self, query: str, texts: list[str]) -> np.ndarray:
        return plan.run(self._requests(query, texts, self._client.rerank))

    async def _ascore(self, query: str, texts: list[str]) -> np.ndarray:
        """Native async: awaits ``AsyncClientV2`` (requests go one after another, in order)."""
        return await plan.arun(self._requests(query, texts, self._async_client().rerank))

    def _requests(
        self, query: str, texts: list[str], rerank: Callable[..., Any]
    ) -> Plan[np.ndarray]:
        """One request per ``max_docs_per_request`` texts through ``rerank`` (the sync
        client's method, or the async client's, whose coroutines the async driver awaits);
        SDK and transport errors become shortlist's."""
        scores = np.empty(len(texts), dtype=np.float64)
        for offset, chunk in self._chunks(texts):
            try:
                response = yield Value(rerank(**self._call_args(query, chunk)))
            except Exception as exc:
                mapped = self._translate(exc)
                if mapped is exc:  # not an API/transport error: let it through untouched
                    raise
                raise mapped from exc
            scores[offset : offset + len(chunk)] = chunk_scores(response, len(chunk))
        return scores

    def close(self) -> None:
        """Close the sync HTTP connection pool (async pools: :meth:`aclose`)."""
        self._client.__exit__(None, None, None)

    async def aclose(self) -> None:
        """Close the async HTTP connection pool of the running event loop, if any."""
        client = self._async_clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.__aexit__(None, None, None)

    def _async_client(self) -> Any:
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            cohere = require("cohere", feature=_FEATURE)
            client = cohere.AsyncClientV2(**self._client_args)
            self._async_clients[loop] = client
        return client

    def _chunks(self, texts: list[str]) -> Iterator[tuple[int, list[str]]]:
        step = self.max_docs_per_request
        for offset in range(0, len(texts), step):
            yield offset, texts[offset : offset + step]

    def _call_args(self, query: str, chunk: list[str]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": self.model,
            "query": query,
            "documents": chunk,
            "top_n": len(chunk),  # every score; the base class sorts and cuts
            "request_options": self._options_now(),
        }
        if self.max_tokens_per_doc is not None:
            args["max_tokens_per_doc"] = self.max_tokens_per_doc
        return args

    def _options_now(self) -> dict[str, Any]:
        """Request options; under a latency budget the timeout is what is left of it."""
        left = seconds_left()
        if left is None or left >= self.timeout:
            return self._request_options
        return {**self._request_options, "timeout_in_seconds": left}

    def _translate(self, exc: Exception) -> Exception:
        return translate_error(
            exc,
            base_url=self.base_url,
            model=self.model,
            timeout=self.timeout,
            max_retries=self.max_retries,
        )
