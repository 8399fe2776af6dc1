"""Cohere's rerank API on the wire: reading its responses and mapping its errors.

Kept apart from the client (:mod:`shortlist.rerank.cohere`) because it is the protocol,
not the transport: every score of a response is checked (a 200 with the wrong shape must
not quietly lose candidates), and every SDK/httpx failure becomes a typed shortlist error
that says what to do.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from shortlist._optional import require
from shortlist.errors import (
    AuthenticationError,
    RateLimitError,
    RerankerAPIError,
    RerankerRequestError,
    RerankerTimeoutError,
    ShortlistError,
)

_FEATURE = "The Cohere reranker"


def chunk_scores(response: Any, n: int) -> np.ndarray:
    """One score per document of a request, in request order; raise if any is missing.

    A 200 with the wrong shape must not quietly lose candidates, so every index is checked.
    """
    results = _field(response, "results")
    if not isinstance(results, list):
        raise RerankerAPIError(
            f"Cohere returned a malformed rerank response (no 'results' list, got "
            f"{type(results).__name__}).",
            status_code=200,
        )
    scores = np.full(n, np.nan, dtype=np.float64)
    for item in results:
        index, score = _field(item, "index"), _field(item, "relevance_score")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise RerankerAPIError(
                f"Cohere returned a result with index {index!r} for a request of {n} documents.",
                status_code=200,
            )
        if (
            isinstance(score, bool)
            or not isinstance(score, int | float)
            or not math.isfinite(score)
        ):
            raise RerankerAPIError(
                f"Cohere returned relevance_score {score!r} for document {index}.", status_code=200
            )
        if not np.isnan(scores[index]):
            raise RerankerAPIError(
                f"Cohere returned document {index} twice in one response.", status_code=200
            )
        scores[index] = float(score)
    missing = np.flatnonzero(np.isnan(scores))
    if missing.size:
        raise RerankerAPIError(
            f"Cohere returned scores for {n - missing.size} of {n} documents "
            f"(missing indices {missing[:10].tolist()}{'...' if missing.size > 10 else ''}).",
            status_code=200,
        )
    return scores


def translate_error(
    exc: Exception, *, base_url: str, model: str, timeout: float, max_retries: int
) -> Exception:
    """Map a cohere SDK / httpx exception to a shortlist error; unknown ones pass through."""
    if isinstance(exc, ShortlistError):
        return exc
    httpx = require("httpx", feature=_FEATURE)
    api_error = require("cohere.core.api_error", feature=_FEATURE).ApiError
    parse_error = require("cohere.core.parse_error", feature=_FEATURE).ParsingError
    if isinstance(exc, httpx.TimeoutException):
        return RerankerTimeoutError(
            f"Cohere did not answer within timeout={timeout:g}s ({type(exc).__name__}). "
            "Raise timeout=, send fewer documents, or retry later."
        )
    if isinstance(exc, httpx.TransportError):
        return RerankerAPIError(f"Could not reach the Cohere API at {base_url}: {exc!r}.")
    if isinstance(exc, parse_error):
        return RerankerAPIError(
            f"Cohere returned a response that does not match the rerank schema: "
            f"{_message(exc.body)}",
            status_code=exc.status_code,
        )
    if not isinstance(exc, api_error):
        return exc
    return _http_error(exc, base_url=base_url, model=model, max_retries=max_retries)


def _http_error(exc: Any, *, base_url: str, model: str, max_retries: int) -> Exception:
    """An HTTP error status from the API as the shortlist error that says what to do."""
    status = exc.status_code
    detail = _message(exc.body)
    if status is not None and 200 <= status < 300:
        return RerankerAPIError(
            f"Cohere returned a malformed rerank response (HTTP {status}, not JSON): {detail}",
            status_code=status,
        )
    if status in (401, 403, 498):
        return AuthenticationError(
            f"Cohere rejected the API key (HTTP {status}): {detail}. Pass a valid api_key or "
            "set CO_API_KEY.",
            status_code=status,
        )
    if status == 429:
        wait = retry_after_seconds(exc.headers)
        hint = f" The server asks to wait {wait:g}s." if wait is not None else ""
        return RateLimitError(
            f"Cohere rate limit (HTTP 429) still hit after {max_retries} retries: {detail}.{hint}",
            retry_after=wait,
        )
    if status in (400, 422):
        return RerankerRequestError(
            f"Cohere rejected the rerank request (HTTP {status}): {detail}", status_code=status
        )
    if status == 404:
        return RerankerAPIError(
            f"Cohere answered 404 Not Found: {detail}. Check model={model!r} and "
            f"base_url={base_url!r}.",
            status_code=status,
        )
    if status in (408, 504):
        return RerankerTimeoutError(
            f"Cohere timed out on its side (HTTP {status}): {detail}", status_code=status
        )
    if status is not None and status >= 500:
        return RerankerAPIError(
            f"Cohere server error (HTTP {status}) after {max_retries} retries: {detail}",
            status_code=status,
        )
    return RerankerAPIError(f"Cohere API error (HTTP {status}): {detail}", status_code=status)


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """The server's wait hint: ``retry-after-ms``, else ``Retry-After`` (seconds or a date).

    Same precedence as the SDK's own retry loop, so the error reports what it obeyed.
    """
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = lower.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if re.fullmatch(r"\d+(\.\d+)?", raw):
        return float(raw)
    parsed = email.utils.parsedate_tz(raw)  # an HTTP date; no zone given means UTC
    if parsed is None:
        return None
    when = email.utils.mktime_tz(parsed if parsed[9] is not None else (*parsed[:9], 0))
    return max(0.0, when - (time.time() if now is None else now))


def normalize_base_url(url: str) -> str:
    """Strip a trailing slash and version segment: the SDK appends ``/v2/rerank`` itself."""
    url = url.strip().rstrip("/")
    return re.sub(r"/v[12]$", "", url)


def _field(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _message(body: Any, limit: int = 500) -> str:
    """The human part of an error body (Cohere sends ``{"message": ...}``), shortened."""
    if isinstance(body, Mapping):
        body = body.get("message") or body.get("detail") or body.get("error") or body
    text = str(body).strip() if body is not None else "(empty body)"
    return text if len(text) <= limit else text[:limit] + "..."
