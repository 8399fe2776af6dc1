"""Errors as Cohere shapes them on the wire: ``{"message": ...}`` with the status that
makes the ``cohere`` SDK raise its own typed error (400 BadRequestError, 401
UnauthorizedError, 422 UnprocessableEntityError, 429 TooManyRequestsError, 503
ServiceUnavailableError, 504 GatewayTimeoutError; 413 has no class of its own, it is an
``ApiError`` with ``status_code`` 413).

Every failure a request can cause is one of these, so a client never sees a raw 500 for
bad input: a 500 means a bug in the server, and its message says so without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shortlist.errors import (
    AuthenticationError,
    InvalidInputError,
    RateLimitError,
    RerankerAPIError,
    RerankerTimeoutError,
    ShortlistError,
)


@dataclass(eq=False)
class Problem(Exception):
    """An HTTP error answer: status, the human message, extra headers, and a short
    ``reason`` for the rejected-requests metric (a fixed vocabulary, so labels stay few)."""

    status: int
    message: str
    reason: str = "invalid"
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.message}"

    def body(self) -> dict[str, str]:
        """What Cohere sends: ``{"message": ...}``."""
        return {"message": self.message}


def bad_request(message: str) -> Problem:
    """400: the body is not JSON or not an object (the SDK's BadRequestError)."""
    return Problem(400, message, "bad_request")


def invalid(message: str) -> Problem:
    """422: well-formed JSON whose fields are wrong (missing, wrong type, out of range)."""
    return Problem(422, message, "invalid")


def too_large(message: str) -> Problem:
    """413: the body, a document or the document count is over a configured limit."""
    return Problem(413, message, "too_large")


def from_error(exc: BaseException) -> Problem:
    """The answer for an error raised while handling a request (never a traceback).

    The caller's bad input is 422; a remote reranker that failed (a ``cohere:`` backend,
    or the last member of a fallback chain) passes its status class through: rate limits
    stay 429 with their ``Retry-After``, timeouts become 504, outages 503. Anything else
    is a bug: 500 with a message that says so.
    """
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, InvalidInputError):
        return invalid(str(exc))
    if isinstance(exc, RateLimitError):
        headers = {} if exc.retry_after is None else {"Retry-After": f"{exc.retry_after:g}"}
        return Problem(429, f"Upstream reranker rate-limited: {exc}", "upstream", headers)
    if isinstance(exc, AuthenticationError):
        return Problem(503, f"Upstream reranker rejected its API key: {exc}", "upstream")
    if isinstance(exc, RerankerTimeoutError | TimeoutError):
        return Problem(504, f"The reranker did not answer in time: {exc}", "deadline")
    if isinstance(exc, RerankerAPIError):
        return Problem(503, f"The reranker is unavailable: {exc}", "upstream")
    if isinstance(exc, ShortlistError):
        return Problem(500, f"{type(exc).__name__}: {exc}", "error")
    return Problem(500, f"Internal error ({type(exc).__name__}); see the server log.", "error")
